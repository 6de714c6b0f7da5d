"""Every card the bot can send passes Microsoft's Adaptive Cards parser at version 1.5 (Teams).

The Playground renders invalid cards silently, so each variant is built here from the same code
the bot uses and handed to the parser.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from approvals import grants
from approvals.models import (
    ApprovalRequest,
    Approver,
    Decision,
    Execution,
    ListRef,
    NewList,
    Person,
    RequestKind,
    RequestStatus,
)
from bot import texts
from bot.cards.approval import approval_card, message_card
from bot.cards.my_requests import my_requests_card
from bot.cards.renewal import renewal_card
from skills.my_requests import RequestsOverview
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


def _leave_and_my_requests_cards() -> list[dict[str, Any]]:
    decided = Decision(approved=True, actor=MEGAN, reason="Bye", at=NOW)

    def leave(status: RequestStatus, **changes: Any) -> ApprovalRequest:
        return _request(status, kind=RequestKind.LEAVE, justification="", **changes)

    removed = Execution(outcome="removed")
    gone = Execution(outcome="not_a_member")
    open_ = (
        _request(RequestStatus.PENDING),
        leave(RequestStatus.APPROVED, auto_approved="open list"),
    )
    recent = (
        leave(RequestStatus.COMPLETED, decision=decided, execution=removed),
        _request(RequestStatus.DENIED, decision=decided.model_copy(update={"approved": False})),
        _request(RequestStatus.CANCELLED),
        _request(RequestStatus.FAILED, decision=decided, execution=Execution(error="gone")),
        _request(RequestStatus.EXPIRED),
    )
    return [
        approval_card(leave(RequestStatus.PENDING), actionable=True),
        approval_card(leave(RequestStatus.PENDING), actionable=True, refresh_user_ids=("29:m",)),
        approval_card(leave(RequestStatus.APPROVED, decision=decided), actionable=True),
        approval_card(leave(RequestStatus.COMPLETED, execution=gone), actionable=False),
        approval_card(leave(RequestStatus.CANCELLED), actionable=True),
        my_requests_card(RequestsOverview((), ())),
        my_requests_card(RequestsOverview(open_, recent)),
        my_requests_card(RequestsOverview((), recent), note=texts.CARD_NOT_YOUR_REQUEST),
    ]


def test_every_leave_and_my_requests_card_variant_is_valid_adaptive_card_1_5() -> None:
    cards = _leave_and_my_requests_cards()

    assert len(cards) == 8
    assert validate_cards(cards) == []


def _pending_too_long_cards() -> list[dict[str, Any]]:
    adele = Approver(object_id="adele", display_name="Adele Vance", via="fallback")
    reminded = {"reminded_at": NOW + timedelta(days=2)}
    escalated = {
        **reminded,
        "escalated_at": NOW + timedelta(days=4),
        "approvers": (MEGAN, adele),
    }
    return [
        approval_card(_request(RequestStatus.PENDING, **reminded), actionable=True),
        approval_card(_request(RequestStatus.PENDING, **reminded), actionable=False),
        approval_card(
            _request(RequestStatus.PENDING, **escalated),
            actionable=True,
            refresh_user_ids=("29:a",),
        ),
        approval_card(
            _request(RequestStatus.PENDING, kind=RequestKind.LEAVE, **escalated),
            actionable=True,
        ),
        approval_card(
            _request(RequestStatus.EXPIRED, **escalated, updated_at=NOW + timedelta(days=7)),
            actionable=True,
        ),
    ]


def test_every_reminder_escalation_and_expiry_card_is_valid_adaptive_card_1_5() -> None:
    cards = _pending_too_long_cards()

    assert len(cards) == 5
    assert validate_cards(cards) == []


def _create_cards() -> list[dict[str, Any]]:
    spec = NewList(
        name="DL-Zürich § Launch 🎉",
        display_name="Zürich § Launch 🎉",
        alias="zurich-launch",
        address="zurich-launch@eu.contoso.com",
        description='For the "launch" & <b>friends</b>',
        owners=(ALEX, MEGAN),
        members=(MEGAN,),
        join_restriction="Open",
    )
    decided = Decision(approved=True, actor=MEGAN, reason="Go", at=NOW)
    created = ListRef(object_id="new-g", address=spec.address, display_name=spec.name)
    taken = Execution(
        outcome="name_taken",
        error="taken",
        alternatives=(ListRef(object_id="", address="x@contoso.com", display_name="X 2"),),
    )

    def create(status: RequestStatus, **changes: Any) -> ApprovalRequest:
        planned = ListRef(object_id="new:x", address=spec.address, display_name=spec.name)
        values: dict[str, Any] = {"kind": RequestKind.CREATE, "group": planned, "new_list": spec}
        return _request(status, **{**values, **changes})

    return [
        approval_card(create(RequestStatus.PENDING), actionable=True),
        approval_card(create(RequestStatus.PENDING), actionable=False),
        approval_card(create(RequestStatus.APPROVED, decision=decided), actionable=True),
        approval_card(
            create(RequestStatus.COMPLETED, decision=decided, group=created), actionable=True
        ),
        approval_card(
            create(RequestStatus.FAILED, decision=decided, execution=taken), actionable=True
        ),
        approval_card(create(RequestStatus.DENIED, decision=decided), actionable=True),
    ]


def test_every_create_card_variant_is_valid_adaptive_card_1_5_and_shows_the_list() -> None:
    cards = _create_cards()

    assert len(cards) == 6
    assert validate_cards(cards) == []
    shown = str(cards[0])
    for fact in ("DL-Zürich § Launch 🎉", "zurich-launch@eu.contoso.com", "Anyone, at once"):
        assert fact in shown
    assert "Alex “AJ” O'Wilber 🎉 and Megan Bowen" in shown and "First members" in shown


def _time_limited_cards() -> list[dict[str, Any]]:
    group = ListRef(
        object_id="g", address="zurich-team@eu.contoso.com", display_name="Zürich § Team 🎉"
    )
    grant = grants.new_grant(grant_id="req12345678", member=ALEX, group=group, days=30, now=NOW)
    asked = grants.asked_to_renew(grant, request_id="req87654321")
    ending = grants.claim_end(grant, generation=0, now=NOW + timedelta(days=30))
    refused = grants.ended(ending, now=NOW + timedelta(days=30), failed=True)
    return [
        approval_card(_request(RequestStatus.PENDING, membership_days=30), actionable=True),
        approval_card(_request(RequestStatus.PENDING, membership_days=5), actionable=True),
        approval_card(
            _request(RequestStatus.PENDING, membership_days=30, grant_id=grant.id),
            actionable=False,
        ),
        renewal_card(grant, 7),
        renewal_card(grant, 1),
        my_requests_card(RequestsOverview((), (), (grant, asked, ending, refused))),
    ]


def test_every_time_limited_membership_card_is_valid_adaptive_card_1_5() -> None:
    cards = _time_limited_cards()

    assert len(cards) == 6
    assert validate_cards(cards) == []
