"""The "take me off a list" conversation, in process: every branch of the leave dialog."""

from __future__ import annotations

import pytest

from approvals.models import RequestKind, RequestStatus
from approvals.ports import JobName
from tests.bot.dialogs.day_two_world import make_world
from tests.skills.factories import ALEX, HENRIETTA, MEGAN, PATTI


async def test_leaving_an_open_list_removes_you_at_once_after_one_confirmation() -> None:
    world = make_world()

    replies = await world.say("pls take me off the marketing list")
    # Marketing EU's address starts "marketing@" too: the person picks.
    assert "Marketing (marketing@contoso.com) | Marketing EU" in replies[0]
    replies = await world.say("1")
    assert "**Marketing** (marketing@contoso.com)" in replies[0]
    assert "anyone can leave" in replies[0]
    assert "Anyone can leave Marketing. Remove you now?" in replies[-1]

    replies = await world.say("yes")

    assert "Removing you from Marketing now" in replies[0]
    (request,) = await world.requests()
    assert request.kind is RequestKind.LEAVE and request.status is RequestStatus.APPROVED
    assert request.auto_approved == "open list"
    assert world.jobs.names() == [JobName.EXECUTE]


async def test_leaving_a_closed_list_sends_the_request_to_its_owner() -> None:
    world = make_world()

    replies = await world.say("leave leadership@contoso.com")
    assert "closed: only owners remove members" in replies[0]
    assert "Send your request to Patti Fernandez?" in replies[-1]

    replies = await world.say("yes")

    assert (
        "I've asked Patti Fernandez to approve your request to leave Leadership Team"
        in (replies[0])
    )
    (request,) = await world.requests()
    assert request.kind is RequestKind.LEAVE and request.status is RequestStatus.PENDING
    assert [a.object_id for a in request.approvers] == [PATTI]
    assert world.jobs.names() == [JobName.DELIVER_CARDS]


async def test_an_owner_leaves_their_own_list_without_approval() -> None:
    world = make_world(user=MEGAN)

    replies = await world.say("remove me from finance-emea@contoso.com")

    assert "You own Finance EMEA, so no approval is needed" in replies[-1]
    await world.say("yes")
    (request,) = await world.requests(MEGAN)
    assert request.auto_approved == "requester owns the list"


async def test_someone_not_on_the_list_is_told_so_and_nothing_is_asked() -> None:
    world = make_world()

    replies = await world.say("unsubscribe from book-club@contoso.com")

    assert "You're not a member of Book Club, so there's nothing to leave." in replies[0]
    assert await world.requests() == []


async def test_a_member_through_a_member_group_is_told_which_group() -> None:
    world = make_world(user=HENRIETTA)

    replies = await world.say("leave engineering@contoso.com")

    assert "through Engineering Platform" in replies[0]
    assert "Leave Engineering Platform instead" in replies[0]
    assert await world.requests(HENRIETTA) == []


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("onprem-engineering@contoso.com", "on-premises directory"),
        ("building1-rooms@contoso.com", "hold meeting rooms, not people"),
        ("sales-all@contoso.com", "chosen automatically"),
        ("nothing-like-this@contoso.com", "couldn't find a list matching"),
    ],
)
async def test_lists_nobody_can_leave_here_are_refused_with_what_to_do(
    address: str, expected: str
) -> None:
    world = make_world()

    replies = await world.say(f"leave {address}")

    assert expected in replies[0]
    assert await world.requests() == []


async def test_several_matches_are_offered_and_one_is_picked() -> None:
    world = make_world()

    replies = await world.say("leave eng")
    assert "Which of these did you mean" in replies[0] and "None of these" in replies[0]
    choices = replies[0].partition("buttons: ")[2].split(" | ")
    number = next(i for i, c in enumerate(choices, 1) if "onprem-engineering" in c)

    replies = await world.say(str(number))

    assert "on-premises directory" in replies[0]


async def test_none_of_these_ends_with_advice() -> None:
    world = make_world()
    replies = await world.say("leave eng")
    choices = replies[0].partition("buttons: ")[2].split(" | ")

    replies = await world.say(str(len(choices)))

    assert "couldn't tell which list you meant" in replies[0]


async def test_leave_without_a_list_asks_which_one() -> None:
    world = make_world()

    replies = await world.say("leave")
    assert replies == [
        "Which list do you want to leave? Type part of its name or its email address."
    ]

    replies = await world.say("marketing@contoso.com")

    assert "Remove you now?" in replies[-1]


async def test_saying_no_changes_nothing() -> None:
    world = make_world()
    await world.say("leave marketing@contoso.com")

    replies = await world.say("no")

    assert replies == ["OK, you stay on it. I haven't changed anything."]
    assert await world.requests() == []


async def test_cancel_in_the_middle_changes_nothing() -> None:
    world = make_world()
    await world.say("leave leadership")

    replies = await world.say("cancel")

    assert replies == ["OK, I've stopped. Nothing was sent."]
    assert await world.requests() == []


async def test_asking_to_leave_twice_returns_the_open_request() -> None:
    world = make_world()
    await world.say("leave leadership@contoso.com")
    await world.say("yes")

    replies = await world.say("leave leadership@contoso.com")

    assert "You already asked to leave Leadership Team" in replies[0]
    assert "Patti Fernandez can decide" in replies[0]
    assert len(await world.requests()) == 1


async def test_a_leave_is_never_taken_for_a_join_when_leaving_is_not_wired_in() -> None:
    world = make_world(with_leave=False)

    replies = await world.say("leave marketing")

    assert "didn't get that" in replies[0]
    assert await world.requests(ALEX) == []
