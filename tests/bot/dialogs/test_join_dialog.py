"""The "add me to a list" conversation, in process: the real dialogs, use case and approvals
service, over an in-memory directory and the approvals' in-memory store and fakes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from botbuilder.core import ConversationState, MemoryStorage
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from approvals.audit import InMemoryAudit
from approvals.models import Approver, RequestStatus
from approvals.ports import JobName
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore
from approvals.testing import (
    InMemoryJobQueue,
    InMemoryMembershipWriter,
    InMemoryNotifier,
    StaticApprovers,
)
from bot.dialogs.join_dialog import JoinDialog, JoinDialogServices
from bot.handler import DlBot
from skills.find_dl import ListIndex
from skills.join_dl import JoinList
from skills.memory_directory import InMemoryListDirectory
from skills.policies import BlockRule, ClosedLists, Policy
from tests.skills.factories import ALEX, HENRIETTA, MEGAN, demo_list, demo_lists, demo_people

LEE = "069165b6-f31a-45ec-9da9-6372c99dfd5d"
ADELE = "e2e05ef4-6ef8-4057-8534-6fd142ebda0b"


def _approver(object_id: str, name: str, via: str = "owner") -> Approver:
    return Approver(object_id=object_id, display_name=name, address="", via=via)


@dataclass
class World:
    adapter: TestAdapter
    service: ApprovalService
    store: InMemoryRequestStore
    jobs: InMemoryJobQueue
    directory: InMemoryListDirectory

    async def say(self, text: str) -> list[str]:
        """Send one message as the user; the bot's replies, each as its text (or card title)."""
        await self.adapter.receive_activity(text)
        replies = []
        while self.adapter.activity_buffer:
            reply = self.adapter.activity_buffer.pop(0)
            if reply.type != ActivityTypes.message:
                continue
            if reply.text:
                replies.append(reply.text)
            for attachment in reply.attachments or []:
                replies.append(_card_text(attachment.content))
        return replies


def _card_text(content: object) -> str:
    """A hero card (as the prompts send in Teams) as "its text || buttons: A | B"."""

    def field(name: str) -> object:
        return content.get(name) if isinstance(content, dict) else getattr(content, name, None)

    buttons = list(field("buttons") or [])  # type: ignore[call-overload]
    titles = [b.get("title") if isinstance(b, dict) else b.title for b in buttons]
    return f"{field('text') or ''} || buttons: " + " | ".join(str(t) for t in titles)


def make_world(user: str = ALEX, policy: Policy | None = None) -> World:
    directory = InMemoryListDirectory(demo_lists(), demo_people())
    directory.add_member(demo_list("marketing").object_id, ALEX)
    platform = demo_list("engineering-platform").object_id
    directory.add_member(demo_list("engineering-all").object_id, platform)
    directory.add_member(platform, HENRIETTA)
    approvers = StaticApprovers(
        owners={
            demo_list("finance-emea").object_id: (
                _approver(MEGAN, "Megan Bowen"),
                _approver(LEE, "Lee Gu"),
            ),
            demo_list("book-club").object_id: (_approver("diego", "Diego Siciliani"),),
            demo_list("leadership-team").object_id: (_approver("patti", "Patti Fernandez"),),
        },
        fallback=(_approver(ADELE, "Adele Vance", "fallback"),),
    )
    store = InMemoryRequestStore()
    jobs = InMemoryJobQueue()
    service = ApprovalService(
        store=store,
        approvers=approvers,
        notifier=InMemoryNotifier(),
        jobs=jobs,
        writer=InMemoryMembershipWriter(),
        audit=InMemoryAudit(),
    )
    join = JoinList(directory, service, approvers, policy or Policy())
    bot = DlBot(
        conversation_state=ConversationState(MemoryStorage()),
        join_dialog=JoinDialog(JoinDialogServices(join=join, index=ListIndex(demo_lists()))),
        people=directory,
        approvals=service,
    )
    template = Activity(
        channel_id="msteams",
        service_url="https://test.invalid",
        from_property=ChannelAccount(id=f"29:{user}", name="someone", aad_object_id=user),
        recipient=ChannelAccount(id="28:bot", name="dlbot"),
        conversation=ConversationAccount(id=f"a:{user}", conversation_type="personal"),
    )
    return World(TestAdapter(bot.on_turn, template), service, store, jobs, directory)


async def _only_request(world: World):  # type: ignore[no-untyped-def]
    (request,) = await world.service.requests_of(ALEX)
    return request


async def test_asking_for_an_approval_list_by_loose_name_sends_the_request_to_its_owners() -> None:
    world = make_world()

    replies = await world.say("pls add me to finance emea")
    assert "**Finance EMEA** (finance-emea@contoso.com)" in replies[0]
    assert "Megan Bowen and Lee Gu" in replies[0] and "owners approve" in replies[0]
    assert "Why do you need to join?" in replies[1]

    replies = await world.say("I moved to the EMEA finance team")
    assert "Send your request to join Finance EMEA to Megan Bowen and Lee Gu?" in replies[0]

    replies = await world.say("yes")
    assert "I've asked Megan Bowen and Lee Gu" in replies[0]
    request = await _only_request(world)
    assert request.status is RequestStatus.PENDING
    assert request.justification == "I moved to the EMEA finance team"
    assert JobName.DELIVER_CARDS in world.jobs.names()


async def test_several_matches_are_offered_as_choices_and_a_number_picks_one() -> None:
    world = make_world()

    replies = await world.say("eng")
    assert "Which of these did you mean" in replies[0]
    assert "Engineering (all) (engineering@contoso.com)" in replies[0]
    assert "None of these" in replies[0]

    replies = await world.say("2")
    assert "**" in replies[0]  # the chosen list is shown


async def test_none_of_these_ends_with_advice() -> None:
    world = make_world()
    replies = await world.say("eng")
    choices = replies[0].partition("buttons: ")[2].split(" | ")

    replies = await world.say(str(len(choices)))

    assert replies == [
        "I couldn't tell which list you meant. Try again with more of its name or its address."
    ]


async def test_nonsense_at_a_choice_gets_guidance_then_gives_up_instead_of_looping() -> None:
    world = make_world()
    await world.say("eng")

    first = await world.say("blorp")
    second = await world.say("zzz")
    third = await world.say("???")

    assert "tap one of the lists" in first[0] and "tap one of the lists" in second[0]
    assert "couldn't tell which list" in third[0]
    assert await world.service.requests_of(ALEX) == []


async def test_an_open_list_is_joined_after_one_confirmation_without_a_reason() -> None:
    world = make_world()

    replies = await world.say("join book club")
    assert "Book Club is open to everyone. Add you now?" in replies[-1]
    replies = await world.say("yes")

    assert "Adding you to Book Club now" in replies[0]
    request = await _only_request(world)
    assert request.status is RequestStatus.APPROVED and request.auto_approved == "open list"
    assert JobName.EXECUTE in world.jobs.names()


async def test_confirming_acts_on_what_the_preview_read_without_reading_the_list_again() -> None:
    world = make_world()
    await world.say("pls add me to finance emea")
    await world.say("I moved to the EMEA finance team")
    reads = world.directory.reads

    replies = await world.say("yes")

    assert "I've asked Megan Bowen and Lee Gu" in replies[0]
    assert world.directory.reads == reads


async def test_the_owner_of_a_list_is_added_without_asking_anyone() -> None:
    world = make_world(user=MEGAN)

    replies = await world.say("add me to finance-emea@contoso.com")

    assert "You own Finance EMEA, so no approval is needed. Add you now?" in replies[-1]


async def test_a_direct_member_is_told_so_and_nothing_is_asked() -> None:
    world = make_world()

    replies = await world.say("add me to marketing@contoso.com")

    assert "You're already a member of Marketing." in replies[0]
    assert await world.service.requests_of(ALEX) == []


async def test_a_member_through_a_nested_list_is_told_which_one() -> None:
    world = make_world(user=HENRIETTA)

    replies = await world.say("engineering@contoso.com")

    assert "through Engineering Platform" in replies[0]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("onprem-engineering@contoso.com", "on-premises directory"),
        ("building1-rooms@contoso.com", "book a room in Outlook"),
        ("sales-all@contoso.com", "chosen automatically"),
    ],
)
async def test_lists_nobody_can_join_here_are_refused_with_what_to_do(
    address: str, expected: str
) -> None:
    world = make_world()

    replies = await world.say(f"add me to {address}")

    assert expected in replies[0]
    assert await world.service.requests_of(ALEX) == []


async def test_a_blocked_list_shows_the_admins_message() -> None:
    policy = Policy(blocked=(BlockRule(pattern="leadership*", message="Ask the CEO's office."),))
    world = make_world(policy=policy)

    replies = await world.say("add me to leadership@contoso.com")

    assert "Ask the CEO's office." in replies[0]


async def test_a_closed_list_is_refused_when_the_admin_says_so() -> None:
    world = make_world(policy=Policy(closed_lists=ClosedLists.REFUSE))

    replies = await world.say("add me to leadership@contoso.com")

    assert "closed to requests" in replies[0]


async def test_asking_twice_returns_the_open_request() -> None:
    world = make_world()
    await world.say("add me to finance-emea@contoso.com")
    await world.say("my new role")
    await world.say("yes")

    replies = await world.say("add me to finance-emea@contoso.com")

    assert "You already asked to join Finance EMEA" in replies[0]
    assert len(await world.service.requests_of(ALEX)) == 1


async def test_an_unknown_list_gets_advice_not_a_question_loop() -> None:
    world = make_world()

    replies = await world.say("add me to quantum-basket-weaving")

    assert "couldn't find a list matching" in replies[0]


async def test_cancel_in_the_middle_sends_nothing() -> None:
    world = make_world()
    await world.say("add me to finance-emea@contoso.com")

    replies = await world.say("cancel")

    assert replies == ["OK, I've stopped. Nothing was sent."]
    assert await world.service.requests_of(ALEX) == []
    assert (await world.say("yes"))[0].startswith("Sorry") is False  # a fresh start, not a confirm


async def test_help_in_the_middle_explains_and_asks_the_question_again() -> None:
    world = make_world()
    await world.say("add me to finance-emea@contoso.com")

    replies = await world.say("help")

    assert "I can get you onto email distribution lists" in replies[0]
    assert "Why do you need to join?" in replies[1]


async def test_saying_no_at_the_confirmation_sends_nothing() -> None:
    world = make_world()
    await world.say("add me to finance-emea@contoso.com")
    await world.say("reason")

    replies = await world.say("no")

    assert replies == ["OK, I haven't asked anyone."]
    assert await world.service.requests_of(ALEX) == []


async def test_an_empty_reason_is_asked_for_again() -> None:
    world = make_world()
    await world.say("add me to finance-emea@contoso.com")

    replies = await world.say("   ")

    assert "give a short reason" in replies[0]


@pytest.mark.parametrize("typed", ["asdkjh qwe", "the list"])
async def test_text_that_names_nothing_gets_guidance(typed: str) -> None:
    world = make_world()

    replies = await world.say(typed)

    assert replies and ("couldn't find a list" in replies[0] or "didn't get that" in replies[0])


async def test_a_message_without_a_teams_identity_is_answered_not_crashed() -> None:
    world = make_world()
    world.adapter.template.from_property = ChannelAccount(id="anon", name="anon")

    replies = await world.say("add me to finance-emea@contoso.com")

    assert "signed in to Teams" in replies[0]
