"""What people read when a request waits too long: the reminder card (and its notification),
the escalated card, and what the requester is told at escalation and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botbuilder.schema import Activity

from approvals.models import (
    ApprovalRequest,
    Approver,
    ListRef,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.ports import JobName, NoticeKind
from bot import texts
from bot.cards.approval import approval_card
from bot.notifier import TeamsNotifier
from bot.settings import Settings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MEGAN = Approver(object_id="megan", display_name="Megan Bowen", address="meganb@contoso.com")
ADELE = Approver(object_id="adele", display_name="Adele Vance", via="fallback")


def request(status: RequestStatus = RequestStatus.PENDING, **changes: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "id": "req12345678",
        "kind": RequestKind.JOIN,
        "status": status,
        "requester": Person(object_id="alex", display_name="Alex Wilber"),
        "group": ListRef(object_id="g", address="fin@contoso.com", display_name="Finance EMEA"),
        "approvers": (MEGAN,),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return ApprovalRequest(**{**values, **changes})


REMINDED = {"reminded_at": NOW + timedelta(days=2)}
ESCALATED = {**REMINDED, "escalated_at": NOW + timedelta(days=4), "approvers": (MEGAN, ADELE)}


def card_text(card: dict[str, Any]) -> str:
    return " ".join(item.get("text", "") for item in card["body"])


class Messenger:
    """Teams, as far as the notifier sees it: records what was posted."""

    def __init__(self) -> None:
        self.sent: list[Activity] = []

    async def send(self, object_id: str, activity: Activity) -> tuple[str, str] | None:
        self.sent.append(activity)
        return ("conversation", f"activity-{len(self.sent)}")

    async def update(self, conversation_id: str, activity_id: str, activity: Activity) -> bool:
        return True


async def test_a_reminder_card_says_so_in_its_notification_and_on_the_card() -> None:
    messenger = Messenger()

    await TeamsNotifier(messenger).send_card(MEGAN, request(**REMINDED))

    (posted,) = messenger.sent
    assert posted.summary == "Reminder: Alex Wilber asks to join Finance EMEA"
    card = posted.attachments[0].content
    assert "Reminder: this request has waited 2 days for a decision." in card_text(card)
    assert [a["title"] for a in card["actions"]] == ["Approve", "Deny"]


async def test_a_first_card_carries_no_reminder() -> None:
    messenger = Messenger()

    await TeamsNotifier(messenger).send_card(MEGAN, request())

    assert not messenger.sent[0].summary.startswith("Reminder")
    assert "Reminder" not in card_text(messenger.sent[0].attachments[0].content)


def test_an_escalated_card_says_who_can_decide_it_too() -> None:
    card = approval_card(request(**ESCALATED), actionable=True)

    assert "No decision in 4 days, so Adele Vance can decide it too." in card_text(card)


def test_an_expired_card_says_it_expired_and_offers_no_buttons() -> None:
    expired = request(RequestStatus.EXPIRED, **ESCALATED, updated_at=NOW + timedelta(days=7))

    card = approval_card(expired, actionable=True)

    assert "Expired without a decision." in card_text(card) and "actions" not in card
    assert "Reminder" not in card_text(card) and "can decide it too" not in card_text(card)


@pytest.mark.parametrize(
    ("kind", "asked"),
    [(RequestKind.JOIN, "to join"), (RequestKind.LEAVE, "to leave")],
)
def test_the_requester_is_told_who_was_asked_at_escalation(kind: RequestKind, asked: str) -> None:
    text = texts.notice(NoticeKind.ESCALATED, request(kind=kind, **ESCALATED))

    assert text == (
        f"Nobody has decided your request {asked} Finance EMEA in 4 days, so I've also asked "
        "Adele Vance. I'll tell you what they decide."
    )


def test_the_requester_is_told_when_the_approvers_were_reminded() -> None:
    text = texts.notice(NoticeKind.REMINDED, request(**REMINDED))

    assert text == (
        "Your request to join Finance EMEA has waited 2 days for a decision, so I've reminded "
        "Megan Bowen. I'll tell you what they decide."
    )


def test_the_requester_is_told_their_request_expired_and_can_ask_again() -> None:
    expired = request(RequestStatus.EXPIRED, updated_at=NOW + timedelta(days=7))

    assert texts.notice(NoticeKind.EXPIRED, expired) == (
        "Your request to join Finance EMEA expired: nobody decided it within 7 days. "
        "Ask me again if you still need it."
    )


def test_pending_requests_are_reminded_after_2_days_escalated_after_4_expired_after_7() -> None:
    timings = Settings(_env_file=None).pending_timings()

    assert (timings.remind_after, timings.escalate_after, timings.expire_after) == (
        timedelta(days=2),
        timedelta(days=4),
        timedelta(days=7),
    )


def test_settings_with_the_reminder_after_the_expiry_are_refused() -> None:
    with pytest.raises(ValueError, match="reminder must come before"):
        Settings(_env_file=None, pending_remind_hours=200)


def test_a_step_set_to_zero_hours_is_off() -> None:
    settings = Settings(_env_file=None, pending_remind_hours=0, pending_escalate_hours=0)

    assert settings.pending_timings().steps() == [(JobName.EXPIRE, timedelta(days=7))]
