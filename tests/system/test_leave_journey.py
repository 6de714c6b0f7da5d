"""An employee leaves lists in Teams: an Open list at once, a Closed one after its owner
approves on the card; Exchange changes exactly once. The whole product over real HTTP, Redis,
saq and the sandbox tenant, driven through the Agents Playground."""

from __future__ import annotations

import json

import pytest

from approvals.models import RequestKind, RequestStatus
from bot.services import Dlbot
from exchange.sandbox.server import ThreadedSandbox
from tests.playground.harness import PEOPLE, Playground
from tests.system.conftest import cards_out, members, said, tell, writes

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
PATTI = PEOPLE["pattif"]
REMOVE = "Remove-DistributionGroupMember"


async def test_leaving_an_open_list_removes_you_at_once(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await playground.install()
    assert "alexw@contoso.com" in members(sandbox, "marketing")

    await tell(playground, "take me off marketing@contoso.com", "Anyone can leave Marketing")
    seen = len(playground.stream.events)
    await playground.send_message("yes")

    await playground.stream.wait_for(said("you're removed from Marketing"), 20, seen)
    assert "alexw@contoso.com" not in members(sandbox, "marketing")
    assert writes(sandbox, REMOVE) == 1
    (request,) = await dlbot.approvals.requests_of(ALEX)
    assert request.kind is RequestKind.LEAVE and request.status is RequestStatus.COMPLETED
    assert request.execution.outcome == "removed"


async def test_asking_to_leave_a_list_you_are_not_on_changes_nothing(
    playground: Playground, sandbox: ThreadedSandbox
) -> None:
    before = writes(sandbox, REMOVE)

    await tell(playground, "leave marketing@contoso.com", "You're not a member of Marketing")

    assert writes(sandbox, REMOVE) == before


async def test_leaving_a_closed_list_waits_for_its_owner_and_removes_exactly_once(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    # Alex joins Leadership Team outside the bot, as an owner would add him in Outlook.
    await dlbot.exchange.add_distribution_group_member(
        "leadership@contoso.com", "alexw@contoso.com"
    )
    before = writes(sandbox, REMOVE)

    await tell(playground, "remove me from leadership@contoso.com", "Send your request to Patti")
    await tell(playground, "yes", "I've asked Patti Fernandez")
    (request,) = [
        r
        for r in await dlbot.approvals.requests_of(ALEX)
        if r.is_open and r.group.address == "leadership@contoso.com"
    ]
    assert request.kind is RequestKind.LEAVE
    request = await cards_out(dlbot, request.id, 1)
    patti_card = request.card_of(PATTI)
    assert patti_card is not None
    assert "alexw@contoso.com" in members(sandbox, "leadership-team")
    seen = len(playground.stream.events)

    answer = await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=patti_card.activity_id,
        from_id=PATTI,
        conversation_id=patti_card.conversation_id,
    )

    assert "wants to leave" in json.dumps(answer)
    assert "Approved by Patti Fernandez" in json.dumps(answer)
    await playground.stream.wait_for(said("you're removed from Leadership Team"), 20, seen)
    assert "alexw@contoso.com" not in members(sandbox, "leadership-team")
    assert writes(sandbox, REMOVE) == before + 1

    again = await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=patti_card.activity_id,
        from_id=PATTI,
        conversation_id=patti_card.conversation_id,
    )

    assert "is removed from the list" in json.dumps(again)
    assert writes(sandbox, REMOVE) == before + 1
    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.COMPLETED
