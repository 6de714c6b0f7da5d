"""A LEAVE request is worded as leaving everywhere a person reads about it: the approver's card,
the requester's notices, the admins' alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from approvals.models import (
    ADMIN_CANCEL_ACTOR,
    ApprovalRequest,
    Approver,
    Decision,
    Execution,
    ListRef,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.ports import NoticeKind
from bot import texts
from bot.cards.approval import approval_card

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALEX = Person(object_id="alex", display_name="Alex Wilber", address="alexw@contoso.com")
PATTI = Approver(object_id="patti", display_name="Patti Fernandez", address="pattif@contoso.com")
LEADERSHIP = ListRef(object_id="g", address="leadership@contoso.com", display_name="Leadership")


def _leave(status: RequestStatus, **changes: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "id": "req12345678",
        "kind": RequestKind.LEAVE,
        "status": status,
        "requester": ALEX,
        "group": LEADERSHIP,
        "approvers": (PATTI,),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return ApprovalRequest(**{**values, **changes})


APPROVED = Decision(approved=True, actor=PATTI, reason="", at=NOW)
DENIED = Decision(approved=False, actor=PATTI, reason="We need you here", at=NOW)


def test_the_approval_card_says_the_requester_wants_to_leave() -> None:
    card = json.dumps(approval_card(_leave(RequestStatus.PENDING), actionable=True))

    assert "Alex Wilber wants to leave" in card and "Request to join" not in card
    assert texts.card_summary(_leave(RequestStatus.PENDING)) == (
        "Alex Wilber wants to leave Leadership"
    )


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            _leave(RequestStatus.APPROVED, decision=APPROVED),
            "Approved by Patti Fernandez. Being removed.",
        ),
        (
            _leave(RequestStatus.APPROVED, auto_approved="open list"),
            "No approval needed (open list); being removed.",
        ),
        (
            _leave(
                RequestStatus.COMPLETED, decision=APPROVED, execution=Execution(outcome="removed")
            ),
            "Approved by Patti Fernandez. Alex Wilber is removed from the list.",
        ),
        (
            _leave(RequestStatus.COMPLETED, execution=Execution(outcome="not_a_member")),
            "Alex Wilber was not a member any more; nothing to remove.",
        ),
        (_leave(RequestStatus.CANCELLED), "Cancelled by Alex Wilber."),
    ],
)
def test_the_card_outcome_of_a_leave(request_: ApprovalRequest, expected: str) -> None:
    assert texts.card_outcome(request_) == expected


@pytest.mark.parametrize(
    ("kind", "request_", "expected"),
    [
        (NoticeKind.SUBMITTED, _leave(RequestStatus.PENDING), None),
        (
            NoticeKind.APPROVED,
            _leave(RequestStatus.APPROVED, decision=APPROVED),
            "Patti Fernandez approved your request to leave Leadership. I'm removing you now.",
        ),
        (
            NoticeKind.DENIED,
            _leave(RequestStatus.DENIED, decision=DENIED),
            "Patti Fernandez declined your request to leave Leadership, so you're still on it. "
            'Their reason: "We need you here"',
        ),
        (
            NoticeKind.COMPLETED,
            _leave(RequestStatus.COMPLETED, execution=Execution(outcome="removed")),
            "Done: you're removed from Leadership. Its mail won't reach you any more.",
        ),
        (
            NoticeKind.COMPLETED,
            _leave(RequestStatus.COMPLETED, execution=Execution(outcome="not_a_member")),
            "You were not a member of Leadership (any more), so nothing needed removing.",
        ),
        (
            NoticeKind.FAILED,
            _leave(RequestStatus.FAILED, execution=Execution(error="the list is gone")),
            "I couldn't remove you from Leadership: the list is gone. Your IT admins have been "
            "told.",
        ),
        (
            NoticeKind.CANCELLED,
            _leave(
                RequestStatus.CANCELLED,
                cancelled_by=Person(object_id="", display_name=ADMIN_CANCEL_ACTOR),
                cancel_reason="duplicate",
            ),
            "An IT admin cancelled your request to leave Leadership: duplicate",
        ),
        (
            NoticeKind.SENT_TO_FALLBACK,
            _leave(RequestStatus.PENDING, orphaned=True),
            "Because Leadership has no owner who can approve, I sent your request to leave to "
            "Patti Fernandez instead.",
        ),
    ],
)
def test_the_requester_hears_about_leaving_in_leave_words(
    kind: NoticeKind, request_: ApprovalRequest, expected: str | None
) -> None:
    assert texts.notice(kind, request_) == expected


def test_the_admins_hear_a_removal_failed() -> None:
    alert = texts.admin_alert(_leave(RequestStatus.FAILED), "no permission")

    assert alert.startswith(
        "dlbot could not remove Alex Wilber (alexw@contoso.com) from Leadership"
    )
