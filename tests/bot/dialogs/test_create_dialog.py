"""The "create a list" conversation, in process: the happy path and every validation failure,
each with the words the person reads. The real handler, dialog, use case and approvals service
run over the in-memory directories and the approvals' in-memory store and fakes."""

from __future__ import annotations

from dataclasses import dataclass

from botbuilder.core import ConversationState, MemoryStorage
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from approvals.audit import InMemoryAudit
from approvals.creation import CreationApproverMode, CreationApprovers, InMemoryCreatorDirectory
from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from approvals.ports import DirectoryEntry, JobName
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore
from approvals.testing import InMemoryJobQueue, InMemoryMembershipWriter, InMemoryNotifier
from bot.dialogs.create_dialog import CreateDialog, CreateDialogServices
from bot.dialogs.join_dialog import JoinDialog, JoinDialogServices
from bot.handler import DlBot
from skills.create_dl import CreateList
from skills.find_dl import ListIndex
from skills.join_dl import JoinList
from skills.memory_creation import InMemoryCreationDirectory
from skills.memory_directory import InMemoryListDirectory
from skills.policies import CreationPolicy, NamingPolicy, Policy
from tests.bot.dialogs.day_two_world import _shown
from tests.skills.factories import (
    ADELE,
    ALEX,
    DIEGO,
    LEE,
    MEGAN,
    NESTOR,
    demo_approvers,
    demo_lists,
    demo_people,
    demo_person,
)

DOMAINS = ("contoso.com", "contoso.onmicrosoft.com", "eu.contoso.com")


def _entry(object_id: str) -> DirectoryEntry:
    person = demo_person(object_id)
    return DirectoryEntry(person.object_id, person.display_name, person.address)


@dataclass
class World:
    adapter: TestAdapter
    service: ApprovalService
    jobs: InMemoryJobQueue
    names: InMemoryCreationDirectory

    async def say(self, text: str) -> list[str]:
        await self.adapter.receive_activity(text)
        replies = []
        while self.adapter.activity_buffer:
            reply = self.adapter.activity_buffer.pop(0)
            if reply.type == ActivityTypes.message:
                replies.append(_shown(reply))
        return replies

    async def requests(self) -> list[ApprovalRequest]:
        return await self.service.requests_of(ALEX)

    async def up_to_domain(self, name: str = "Q3 Launch Team") -> list[str]:
        await self.say("create a DL for the Q3 launch")
        return await self.say(name)

    async def up_to_alias(self, domain: str = "1") -> list[str]:
        await self.up_to_domain()
        return await self.say(domain)

    async def up_to_owners(self) -> list[str]:
        await self.up_to_alias()
        await self.say("ok")
        return await self.say("same")


def make_world(policy: CreationPolicy | None = None) -> World:
    policy = policy or CreationPolicy()
    lists = demo_lists()
    names = InMemoryCreationDirectory(DOMAINS, lists=lists, people=demo_people())
    jobs = InMemoryJobQueue()
    it_group = InMemoryCreatorDirectory({"it-admins@contoso.com": [_entry(ADELE), _entry(NESTOR)]})
    service = ApprovalService(
        store=InMemoryRequestStore(),
        approvers=demo_approvers(),
        notifier=InMemoryNotifier(),
        jobs=jobs,
        writer=InMemoryMembershipWriter(),
        audit=InMemoryAudit(),
        creation_approvers=CreationApprovers(
            it_group,
            mode=CreationApproverMode.IT_GROUP,
            approver_identities=("it-admins@contoso.com",),
        ),
    )
    index = ListIndex(lists)
    directory = InMemoryListDirectory(lists, demo_people())
    bot = DlBot(
        conversation_state=ConversationState(MemoryStorage()),
        join_dialog=JoinDialog(
            JoinDialogServices(
                join=JoinList(directory, service, demo_approvers(), Policy()), index=index
            )
        ),
        people=directory,
        approvals=service,
        create_dialog=CreateDialog(
            CreateDialogServices(create=CreateList(names, index, service, policy))
        ),
    )
    template = Activity(
        channel_id="msteams",
        service_url="https://test.invalid",
        from_property=ChannelAccount(id=f"29:{ALEX}", name="Alex", aad_object_id=ALEX),
        recipient=ChannelAccount(id="28:bot", name="dlbot"),
        conversation=ConversationAccount(id=f"a:{ALEX}", conversation_type="personal"),
    )
    return World(TestAdapter(bot.on_turn, template), service, jobs, names)


# The happy path -------------------------------------------------------------------------------


async def test_a_new_list_is_asked_for_field_by_field_and_sent_to_the_creation_approvers() -> None:
    world = make_world()

    assert (
        "What should the list be called?" in (await world.say("create a DL for the Q3 launch"))[0]
    )
    assert "1. @contoso.com" in (await world.say("Q3 Launch Team"))[-1]
    assert "q3-launch-team@contoso.com" in (await world.say("1"))[-1]
    assert "description" in (await world.say("ok"))[-1]
    assert "At least two owners are recommended" in (await world.say("same"))[-1]
    assert "Who may join" in (await world.say("Megan Bowen"))[-1]
    assert "first members" in (await world.say("2"))[-1]
    replies = await world.say("Lee Gu, diegos@contoso.com")
    assert "exactly as it will be created" in replies[0]
    assert "Name: **Q3 Launch Team**" in replies[0]
    assert "Address: **q3-launch-team@contoso.com**" in replies[0]
    assert "Owners: **Alex Wilber and Megan Bowen**" in replies[0]
    assert "Who may join: **Owners approve**" in replies[0]
    assert "First members: **2**" in replies[0]
    assert "Send it to the IT approvers for approval?" in replies[-1]

    replies = await world.say("yes")

    assert "I've sent your new list to Adele Vance and Nestor Wilke for approval" in replies[0]
    (request,) = await world.requests()
    assert request.kind is RequestKind.CREATE and request.status is RequestStatus.PENDING
    spec = request.new_list
    assert spec is not None
    assert (spec.name, spec.address) == ("Q3 Launch Team", "q3-launch-team@contoso.com")
    assert [p.object_id for p in spec.owners] == [ALEX, MEGAN]
    assert [p.object_id for p in spec.members] == [LEE, DIEGO]
    assert spec.join_restriction == "ApprovalRequired" and spec.internal_senders_only
    assert spec.description == "the Q3 launch" and request.justification == "the Q3 launch"
    assert {a.object_id for a in request.approvers} == {ADELE, NESTOR}
    assert world.jobs.names() == [JobName.DELIVER_CARDS]


async def test_the_naming_policy_is_shown_and_applied_to_the_final_name() -> None:
    world = make_world(CreationPolicy(naming=NamingPolicy(prefix="DL-", suffix=" (Contoso)")))

    replies = await world.up_to_domain()

    assert "naming policy makes it **DL-Q3 Launch Team (Contoso)**" in replies[0]


async def test_similar_lists_are_shown_first_and_no_ends_without_asking() -> None:
    world = make_world()
    await world.say("new distribution list")
    await world.say("for the finance team in emea")

    replies = await world.say("Finance EMEA Controllers")

    assert "these lists look similar" in replies[0]
    assert "**Finance EMEA** (finance-emea@contoso.com)" in replies[0]
    assert "Create a new list anyway?" in replies[-1]
    assert "I won't create a new list" in (await world.say("no"))[0]
    assert await world.requests() == []


# Each validation failure, with its message ------------------------------------------------------


async def test_an_empty_name_is_asked_for_again() -> None:
    world = make_world()
    await world.say("create a DL for the Q3 launch")

    assert (await world.say("   ")) == ["The list needs a name. What should it be called?"]


async def test_a_name_longer_than_64_characters_with_the_policy_applied_is_refused() -> None:
    world = make_world(CreationPolicy(naming=NamingPolicy(prefix="DL-")))
    await world.say("create a DL for the Q3 launch")

    replies = await world.say("x" * 62)

    assert replies == [
        f"**DL-{'x' * 62}** is too long: a list's name can have at most 64 characters. "
        "Please give a shorter one."
    ]


async def test_a_name_with_a_blocked_word_is_refused() -> None:
    world = make_world(CreationPolicy(naming=NamingPolicy(blocked_words=("ceo",))))
    await world.say("create a DL for the Q3 launch")

    replies = await world.say("CEO office news")

    assert replies == [
        "Your organisation's naming policy doesn't allow the word **ceo** in a list's name. "
        "Please choose another name."
    ]


async def test_a_name_another_recipient_has_is_refused_with_who_has_it() -> None:
    world = make_world()
    await world.say("create a DL for the Q3 launch")

    replies = await world.say("finance emea")

    assert "That name is already used by **Finance EMEA**" in replies[0]


async def test_a_domain_that_is_not_accepted_is_refused_with_the_ones_to_pick() -> None:
    world = make_world()
    await world.up_to_domain()

    replies = await world.say("fabrikam.com")

    assert replies == [
        "**fabrikam.com** isn't one of your organisation's domains. Please pick one of: "
        "@contoso.com, @contoso.onmicrosoft.com, @eu.contoso.com."
    ]


async def test_an_alias_with_characters_addresses_cannot_hold_is_refused() -> None:
    world = make_world()
    await world.up_to_alias()

    replies = await world.say("q3(launch)")
    assert replies[0].startswith("An address can't contain ( ) . Use letters, digits and . - _")

    replies = await world.say("q3 launch team")
    assert replies[0].startswith("An address can't contain spaces .")


async def test_an_alias_with_a_leading_or_doubled_dot_is_refused() -> None:
    world = make_world()
    await world.up_to_alias()

    for alias in (".q3", "q3..launch", "q3."):
        replies = await world.say(alias)
        assert replies[0].startswith("A dot can't start or end the address"), alias


async def test_an_alias_longer_than_64_characters_is_refused() -> None:
    world = make_world()
    await world.up_to_alias()

    replies = await world.say("a" * 65)

    assert replies[0].startswith("That address is too long")
    assert "at most 64 characters" in replies[0]


async def test_an_alias_another_recipient_has_is_refused() -> None:
    world = make_world()
    await world.up_to_alias("eu.contoso.com")

    replies = await world.say("book-club")

    assert replies == ["**Book Club** already uses that address name. Please choose another."]


async def test_an_address_another_recipient_holds_as_a_secondary_address_is_refused() -> None:
    world = make_world()
    world.names.add("Old Launch", "Old Launch", "oldlaunch", "q3-launch@contoso.com")
    await world.up_to_alias()

    replies = await world.say("q3-launch")

    assert replies[0].startswith("That address is already used by **Old Launch**")


async def test_a_whole_address_typed_for_the_alias_takes_its_domain() -> None:
    world = make_world()
    await world.up_to_alias()
    await world.say("q3-launch@eu.contoso.com")
    await world.say("same")
    await world.say("no")
    await world.say("1")

    replies = await world.say("no")

    assert "Address: **q3-launch@eu.contoso.com**" in replies[0]
    assert "you're its only owner" in replies[0]
    assert "Who may join: **Anyone, at once**" in replies[0]


async def test_a_description_over_the_limit_is_refused() -> None:
    world = make_world(CreationPolicy(max_description_length=20))
    await world.up_to_alias()
    await world.say("ok")

    replies = await world.say("a description that goes on and on")

    assert replies == ["That's too long: please keep the description to 20 characters."]


async def test_an_owner_nobody_is_called_is_asked_for_again() -> None:
    world = make_world()
    await world.up_to_owners()

    replies = await world.say("Zaphod Beeblebrox")

    assert replies[0].startswith("I couldn't find anyone called **Zaphod Beeblebrox**")


async def test_an_owner_name_two_people_share_asks_for_the_address() -> None:
    world = make_world()
    await world.up_to_owners()

    replies = await world.say("Chris Green")

    assert "**Chris Green** could be several people" in replies[0]
    assert "chrisg@contoso.com" in replies[0] and "chris.green@eu.contoso.com" in replies[0]


async def test_a_name_taken_after_the_summary_is_reported_and_nothing_is_sent() -> None:
    world = make_world()
    await world.up_to_owners()
    await world.say("no")
    await world.say("1")
    await world.say("no")
    world.names.add("Q3 Launch Team", "Q3 Launch Team", "someone-else", "x@contoso.com")

    replies = await world.say("yes")

    assert "things changed meanwhile" in replies[0]
    assert "That name is already used by **Q3 Launch Team**" in replies[0]
    assert await world.requests() == []


async def test_asking_for_the_same_list_twice_returns_the_first_request() -> None:
    world = make_world()
    for _ in range(2):
        await world.up_to_owners()
        await world.say("no")
        await world.say("1")
        await world.say("no")
        replies = await world.say("yes")

    assert "You already asked for Q3 Launch Team" in replies[0]
    assert len(await world.requests()) == 1
