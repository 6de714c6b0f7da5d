"""Every card the bot can send passes Microsoft's Adaptive Cards parser at version 1.5 (Teams).

The Playground renders invalid cards silently, so each variant is built here from the same code
the bot uses and handed to the parser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from approvals.models import (
    ApprovalRequest,
    Approver,
    Decision,
    Execution,
    ListRef,
    Person,
    RequestKind,
    RequestStatus,
)
from bot import texts
from bot.cards.approval import approval_card, message_card
from tests.cards.validator import validate_cards

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALEX = Person(object_id="alex", display_name="Alex “AJ” O'Wilber 🎉", address="alexw@contoso.com")
MEGAN = Approver(object_id="megan", display_name="Megan Bowen", address="meganb@contoso.com")


def _request(status: RequestStatus, **changes: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "id": "req12345678",
        "kind": RequestKind.JOIN,
        "status": status,
        "requester": ALEX,
        "group": ListRef(
            object_id="g", address="zurich-team@eu.contoso.com", display_name="Zürich § Team 🎉"
        ),
        "justification": 'Ich arbeite jetzt in Zürich; {"json": "looking"} & <b>markup</b>',
        "approvers": (MEGAN,),
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return ApprovalRequest(**values)


def _every_card() -> list[dict[str, Any]]:
    decided = Decision(approved=True, actor=MEGAN, reason="Welcome", at=NOW)
    denied = Decision(approved=False, actor=MEGAN, reason="Not this one", at=NOW)
    cards = [
        approval_card(_request(RequestStatus.PENDING), actionable=True),
        approval_card(_request(RequestStatus.PENDING), actionable=True, refresh_user_ids=("29:m",)),
        approval_card(_request(RequestStatus.PENDING, orphaned=True), actionable=True),
        approval_card(_request(RequestStatus.PENDING), actionable=False),
        approval_card(_request(RequestStatus.PENDING, justification=""), actionable=True),
        approval_card(_request(RequestStatus.APPROVED, decision=decided), actionable=True),
        approval_card(
            _request(RequestStatus.APPROVED, auto_approved="open list"), actionable=False
        ),
        approval_card(_request(RequestStatus.DENIED, decision=denied), actionable=True),
        approval_card(_request(RequestStatus.CANCELLED), actionable=True),
        approval_card(_request(RequestStatus.EXPIRED), actionable=True),
        approval_card(
            _request(
                RequestStatus.COMPLETED, decision=decided, execution=Execution(outcome="added")
            ),
            actionable=True,
        ),
        approval_card(
            _request(RequestStatus.FAILED, decision=decided, execution=Execution(error="gone")),
            actionable=True,
        ),
    ]
    answers = [
        texts.CARD_UNKNOWN_REQUEST,
        texts.CARD_OWN_REQUEST,
        texts.CARD_NOT_AN_APPROVER,
        texts.UNKNOWN_PERSON,
    ]
    return cards + [message_card(text) for text in answers]


def test_every_card_variant_is_valid_adaptive_card_1_5() -> None:
    cards = _every_card()

    assert len(cards) == 16
    assert validate_cards(cards) == []


def test_the_validator_would_catch_a_broken_variant() -> None:
    broken = approval_card(_request(RequestStatus.PENDING), actionable=True)
    broken["actions"][0]["type"] = "Action.Explode"

    assert validate_cards([broken]) != []
