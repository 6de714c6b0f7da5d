"""The Teams notifier: cards carry the approver's Teams id for live refresh; notices in words."""

from __future__ import annotations

from datetime import UTC, datetime

from botbuilder.schema import Activity

from approvals.models import ApprovalRequest, Approver, ListRef, Person, RequestKind, RequestStatus
from approvals.ports import NoticeKind
from bot.notifier import TeamsNotifier
from bot.references import TeamsUser

NOW = datetime(2026, 11, 24, tzinfo=UTC)
MEGAN = Approver(object_id="megan", display_name="Megan Bowen", address="meganb@contoso.com")
REQUEST = ApprovalRequest(
    id="req12345678",
    kind=RequestKind.JOIN,
    status=RequestStatus.PENDING,
    requester=Person(object_id="alex", display_name="Alex Wilber", address="alexw@contoso.com"),
    group=ListRef(object_id="g", address="finance-emea@contoso.com", display_name="Finance EMEA"),
    approvers=(MEGAN,),
    created_at=NOW,
    updated_at=NOW,
)


class Messenger:
    def __init__(self, reachable: bool = True) -> None:
        self.sent: list[tuple[str, Activity]] = []
        self.reachable = reachable

    async def send(self, object_id: str, activity: Activity) -> tuple[str, str] | None:
        self.sent.append((object_id, activity))
        return ("conversation", "activity") if self.reachable else None

    async def update(self, conversation_id: str, activity_id: str, activity: Activity) -> bool:
        return True


class Users:
    async def user(self, object_id: str) -> TeamsUser | None:
        return TeamsUser(user_id=f"29:{object_id}", tenant_id="t") if object_id == "megan" else None


async def test_a_card_for_an_approver_the_bot_has_met_refreshes_for_their_teams_id() -> None:
    messenger = Messenger()
    notifier = TeamsNotifier(messenger, teams_users=Users())

    card_ref = await notifier.send_card(MEGAN, REQUEST)

    assert card_ref is not None and card_ref.activity_id == "activity"
    card = messenger.sent[0][1].attachments[0].content
    assert card["refresh"]["userIds"] == ["29:megan"]
    assert messenger.sent[0][1].text is None  # cards go alone, so they can be updated later


async def test_an_unreachable_approver_gives_no_card_reference() -> None:
    assert await TeamsNotifier(Messenger(reachable=False)).send_card(MEGAN, REQUEST) is None


async def test_a_notice_with_nothing_to_say_sends_nothing() -> None:
    messenger = Messenger()
    assert await TeamsNotifier(messenger).notify(REQUEST.requester, NoticeKind.SUBMITTED, REQUEST)
    assert messenger.sent == []
