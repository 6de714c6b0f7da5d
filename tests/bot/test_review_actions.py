"""Clicks on an access review card through the real handler (botbuilder's TestAdapter), the
review service on in-memory fakes: pages turn and keep their choices, an owner finishes, and
someone who does not own the list, or a forged click, changes nothing."""

from __future__ import annotations

import json
from typing import Any

from botbuilder.core import ConversationState, MemoryStorage
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from approvals.models import Person
from approvals.reviews import Choice
from bot import texts
from bot.cards.review import PAGE_SIZE
from bot.dialogs.join_dialog import JoinDialog, JoinDialogServices
from bot.handler import DlBot
from bot.invoke import CARD_TYPE, ERROR_TYPE
from skills.find_dl import ListIndex
from skills.join_dl import JoinList
from skills.memory_directory import InMemoryListDirectory
from skills.policies import Policy
from tests.approvals import demo
from tests.approvals.review_world import ReviewWorld
from tests.skills.factories import demo_lists, demo_people

PEOPLE = {p.object_id: p for p in (demo.MEGAN, demo.LEE, demo.ALEX, demo.ADELE)}


class People:
    async def person(self, object_id: str) -> Person | None:
        return PEOPLE.get(object_id)


def a_bot(world: ReviewWorld) -> DlBot:
    directory = InMemoryListDirectory(demo_lists(), demo_people())
    join = JoinList(directory, world.service, world.approvers, Policy())
    return DlBot(
        conversation_state=ConversationState(MemoryStorage()),
        join_dialog=JoinDialog(JoinDialogServices(join=join, index=ListIndex(demo_lists()))),
        people=People(),
        approvals=world.service,
        reviews=world.reviews,
    )


async def click(bot: DlBot, verb: str, data: dict[str, Any], as_user: str) -> Any:
    """An Action.Execute click as `as_user` (an object id); the bot's invoke answer body."""
    sender = ChannelAccount(id=f"29:{as_user}", name="someone", aad_object_id=as_user)
    adapter = TestAdapter(
        bot.on_turn,
        Activity(
            channel_id="msteams",
            service_url="https://test.invalid",
            from_property=sender,
            recipient=ChannelAccount(id="28:bot", name="dlbot"),
            conversation=ConversationAccount(id=f"a:{as_user}", conversation_type="personal"),
        ),
    )
    await adapter.receive_activity(
        Activity(
            type=ActivityTypes.invoke,
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
            from_property=sender,
        )
    )
    (answer,) = [
        reply.value.body
        for reply in adapter.activity_buffer
        if reply.type == ActivityTypes.invoke_response
    ]
    return answer


async def a_started_review(members: int) -> tuple[ReviewWorld, str]:
    world = ReviewWorld()
    await world.added(
        *(
            demo.person(f"member-{i:03}", f"Member {i:03}", f"m{i}@contoso.com")
            for i in range(members)
        )
    )
    review = await world.reviews.start(demo.FINANCE_EMEA)
    assert review is not None
    await world.run_jobs()
    return world, review.id


async def test_next_page_keeps_the_choices_of_the_page_left_and_shows_the_next() -> None:
    world, review_id = await a_started_review(PAGE_SIZE + 5)

    answer = await click(
        a_bot(world),
        "review_page",
        {"requestId": review_id, "page": 1, "m3": "remove", "m4": "keep"},
        demo.MEGAN.object_id,
    )

    assert answer.type == CARD_TYPE
    ids = [e["id"] for e in answer.value["body"] if e["type"] == "Input.ChoiceSet"]
    assert ids == [f"m{i}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    review = await world.reviews.get(review_id)
    assert review.choices() == {3: Choice.REMOVE, 4: Choice.KEEP}
    assert review.is_open


async def test_an_owner_finishing_gets_the_outcome_and_the_removal_runs() -> None:
    world, review_id = await a_started_review(3)

    answer = await click(
        a_bot(world),
        "review_finish",
        {"requestId": review_id, "page": 0, "m1": "remove"},
        demo.LEE.object_id,
    )
    await world.run_jobs()

    assert "2 stay, 1 person being removed" in json.dumps(answer.value)
    assert world.members() == {"member-000", "member-002"}


async def test_someone_who_does_not_own_the_list_is_refused_and_nothing_changes() -> None:
    world, review_id = await a_started_review(3)

    answer = await click(
        a_bot(world),
        "review_keep_all",
        {"requestId": review_id, "page": 0, "m0": "remove"},
        demo.ALEX.object_id,
    )

    assert (answer.type, answer.status_code) == (ERROR_TYPE, 403)
    assert answer.value["message"] == texts.REVIEW_NOT_A_REVIEWER
    review = await world.reviews.get(review_id)
    assert review.is_open and review.decisions == ()


async def test_a_click_on_an_unknown_or_forged_review_is_answered_not_raised() -> None:
    world, _ = await a_started_review(1)
    bot = a_bot(world)

    unknown = await click(bot, "review_finish", {"requestId": "nosuchreview"}, demo.MEGAN.object_id)
    forged = await click(
        bot, "review_page", {"requestId": "../../etc", "page": "x"}, demo.MEGAN.object_id
    )

    assert texts.REVIEW_UNKNOWN in json.dumps(unknown.value)
    assert (forged.type, forged.status_code) == (ERROR_TYPE, 400)


async def test_a_click_on_a_review_someone_else_finished_shows_its_outcome() -> None:
    world, review_id = await a_started_review(2)
    bot = a_bot(world)
    await click(bot, "review_keep_all", {"requestId": review_id}, demo.MEGAN.object_id)

    late = await click(
        bot, "review_finish", {"requestId": review_id, "m0": "remove"}, demo.LEE.object_id
    )

    assert "everyone stays" in json.dumps(late.value)
    assert (await world.reviews.get(review_id)).to_remove() == []


async def test_a_click_on_a_review_that_closed_unanswered_says_when_it_closed() -> None:
    world, review_id = await a_started_review(2)
    bot = a_bot(world)
    await world.after(days=14, minutes=1)  # reminded, escalated to Adele, then closed
    assert (await world.reviews.get(review_id)).closed_unanswered
    when = texts.day(world.clock())

    finish = await click(
        bot, "review_finish", {"requestId": review_id, "m0": "remove"}, demo.MEGAN.object_id
    )
    page = await click(bot, "review_page", {"requestId": review_id, "page": 0}, demo.LEE.object_id)
    fallback = await click(bot, "review_keep_all", {"requestId": review_id}, demo.ADELE.object_id)

    for answer in (finish, page, fallback):
        assert answer.type == CARD_TYPE
        assert f"This review closed on {when} without an answer" in json.dumps(answer.value)
        assert "actions" not in answer.value
    review = await world.reviews.get(review_id)
    assert review.closed_unanswered and review.decisions == ()
    assert world.members() == {"member-000", "member-001"}


async def test_a_click_on_the_review_of_a_list_deleted_meanwhile_is_answered_not_raised() -> None:
    world, review_id = await a_started_review(2)
    world.lists_can_be_deleted().deleted.add(demo.FINANCE_EMEA.object_id)

    answer = await click(
        bot=a_bot(world),
        verb="review_finish",
        data={"requestId": review_id, "m0": "remove"},
        as_user=demo.MEGAN.object_id,
    )

    assert answer.type == CARD_TYPE
    assert texts.REVIEW_LIST_GONE in json.dumps(answer.value)
    assert (await world.reviews.get(review_id)).decisions == ()
