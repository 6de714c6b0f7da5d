"""'My requests' in the chat, in process: the card, its Cancel button (checked against who
clicks, never the card's data) and cancelling by typing."""

from __future__ import annotations

import json
from typing import Any

from approvals.models import RequestStatus
from approvals.ports import JobName
from bot import texts
from bot.cards.actions import Verb
from tests.bot.dialogs.day_two_world import World, make_world
from tests.skills.factories import ALEX, MEGAN


async def _ask_to_join_finance(world: World) -> str:
    await world.say("add me to finance-emea@contoso.com")
    await world.say("I moved to the EMEA finance team")
    await world.say("yes")
    (request,) = [r for r in await world.requests() if r.group.address.startswith("finance")]
    return request.id


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


async def test_someone_who_asked_nothing_is_told_how_to_start() -> None:
    world = make_world()

    replies = await world.say("my requests")

    assert "Your requests" in replies[0] and "You have no requests" in replies[0]


async def test_the_card_lists_open_requests_and_only_a_waiting_one_can_be_cancelled() -> None:
    world = make_world()
    finance = await _ask_to_join_finance(world)
    await world.say("leave marketing@contoso.com")
    await world.say("yes")

    (card,) = await world.say_for_cards("what did I ask for?")

    shown = json.dumps(card)
    assert "Join Finance EMEA" in shown and "Waiting for Megan Bowen and Lee Gu" in shown
    assert "Leave Marketing" in shown and "Approved, being done" in shown
    assert [(b["verb"], b["data"]) for b in _buttons(card)] == [
        (Verb.WITHDRAW.value, {"requestId": finance})
    ]


async def test_cancel_on_the_card_withdraws_the_request_and_redraws_the_approvers_cards() -> None:
    world = make_world()
    request_id = await _ask_to_join_finance(world)
    await world.jobs.run_all(world.service)
    assert len((await world.service.get(request_id)).cards) == 2

    answer = await world.click("withdraw", {"requestId": request_id})

    shown = json.dumps(answer)
    assert "Cancelled your request to join Finance EMEA" in shown
    assert "Cancelled by you" in shown and _buttons(answer) == []
    assert (await world.service.get(request_id)).status is RequestStatus.CANCELLED
    assert JobName.UPDATE_CARDS in world.jobs.names()
    await world.jobs.run_all(world.service)
    redrawn = {card.approver_id: req.status for card, req in world.notifier.updates}
    assert set(redrawn.values()) == {RequestStatus.CANCELLED} and len(redrawn) == 2


async def test_someone_elses_click_cancels_nothing_and_learns_nothing() -> None:
    world = make_world()
    request_id = await _ask_to_join_finance(world)

    answer = await world.click("withdraw", {"requestId": request_id}, as_user=MEGAN)

    # An error under the card Megan clicked, which stays as it was.
    assert answer == {"code": "NotFound", "message": texts.CARD_NOT_YOUR_REQUEST}
    assert (await world.service.get(request_id)).status is RequestStatus.PENDING


async def test_a_second_click_says_it_is_too_late_and_changes_nothing() -> None:
    world = make_world()
    request_id = await _ask_to_join_finance(world)
    await world.click("withdraw", {"requestId": request_id})

    answer = await world.click("withdraw", {"requestId": request_id})

    assert "can't be cancelled any more: Cancelled by you." in json.dumps(answer)


async def test_card_data_that_names_no_request_gets_a_clear_error() -> None:
    world = make_world()

    answer = await world.click("withdraw", {"requestId": "<script>"})

    assert answer == {"code": "BadRequest", "message": "unusable card action (request_id)"}


async def test_typing_cancel_my_request_to_a_list_withdraws_it() -> None:
    world = make_world()
    request_id = await _ask_to_join_finance(world)

    replies = await world.say("cancel my request to finance emea")

    assert replies == [
        "Cancelled your request to join Finance EMEA. The approvers' cards now show it."
    ]
    assert (await world.service.get(request_id)).status is RequestStatus.CANCELLED


async def test_typing_cancel_for_a_list_without_a_request_shows_what_there_is() -> None:
    world = make_world()
    await _ask_to_join_finance(world)

    replies = await world.say("cancel my request for book club")

    assert "You have no waiting request for “book club”" in replies[0]
    assert "Join Finance EMEA" in replies[0]


async def test_typing_cancel_my_request_without_a_list_shows_the_card_to_pick_from() -> None:
    world = make_world()
    request_id = await _ask_to_join_finance(world)

    (card,) = await world.say_for_cards("cancel my request")

    assert [b["data"] for b in _buttons(card)] == [{"requestId": request_id}]
    assert (await world.service.get(request_id)).status is RequestStatus.PENDING


async def test_typing_cancel_for_a_request_being_done_says_it_is_too_late() -> None:
    world = make_world()
    await world.say("leave marketing@contoso.com")
    await world.say("yes")

    replies = await world.say("cancel my request to leave marketing")

    assert "can't be cancelled any more: Approved, being done" in replies[0]
    (request,) = await world.requests(ALEX)
    assert request.status is RequestStatus.APPROVED
