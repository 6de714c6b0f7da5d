"""An employee lists their requests in Teams and withdraws a pending one with the card's Cancel
button; the owners' cards then show it cancelled and Exchange is never touched. The whole
product over real HTTP, Redis, saq and the sandbox tenant, driven through the Agents
Playground."""

from __future__ import annotations

import json
from typing import Any

import pytest

from approvals.models import RequestStatus
from bot.services import Dlbot
from exchange.sandbox.server import ThreadedSandbox
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, said, tell, writes

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]
LEE = PEOPLE["leeg"]


async def _requests_card(playground: Playground, typed: str, expect: str) -> dict[str, Any]:
    seen = len(playground.stream.events)
    await playground.send_message(typed)
    return await playground.stream.wait_for(said(expect), 15, seen)


async def test_my_requests_lists_a_pending_request_with_a_cancel_button(
    playground: Playground, dlbot: Dlbot
) -> None:
    await playground.install()
    await tell(playground, "add me to finance emea", "Why do you need to join?")
    await tell(playground, "I moved to the EMEA finance team", "Send your request")
    await tell(playground, "yes", "I've asked")

    event = await _requests_card(playground, "my requests", "Join Finance EMEA")

    shown = json.dumps(event["message"]["attachments"])
    assert "Waiting for Megan Bowen and Lee Gu" in shown
    assert '"verb": "withdraw"' in shown and "Cancel request" in shown


async def test_cancel_on_the_card_withdraws_it_and_the_owners_cards_show_it(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    (request,) = await dlbot.approvals.requests_of(ALEX)
    request = await cards_out(dlbot, request.id, 2)
    event = await _requests_card(playground, "status", "Join Finance EMEA")
    before = writes(sandbox)

    answer = await playground.invoke_card(
        "withdraw", {"requestId": request.id}, reply_to_id=event["message"]["messageId"]
    )

    shown = json.dumps(answer)
    assert "Cancelled your request to join Finance EMEA" in shown
    assert "Cancelled by you" in shown and '"verb": "withdraw"' not in shown
    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.CANCELLED
    megan_card = request.card_of(MEGAN)
    assert megan_card is not None

    async def megan_sees_it_cancelled() -> bool:
        redrawn = await playground.invoke_card(
            "refresh",
            {"requestId": request.id},
            reply_to_id=megan_card.activity_id,
            from_id=MEGAN,
            conversation_id=megan_card.conversation_id,
        )
        drawn = json.dumps(redrawn)
        return "Cancelled by Alex Wilber" in drawn and '"verb": "approve"' not in drawn

    assert await eventually(megan_sees_it_cancelled)
    assert writes(sandbox) == before


async def test_an_owner_clicking_approve_after_the_cancel_changes_nothing(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    (request,) = await dlbot.approvals.requests_of(ALEX)
    lee_card = request.card_of(LEE)
    assert lee_card is not None
    before = writes(sandbox)

    answer = await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=lee_card.activity_id,
        from_id=LEE,
        conversation_id=lee_card.conversation_id,
    )

    assert "Cancelled by Alex Wilber" in json.dumps(answer)
    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.CANCELLED
    assert writes(sandbox) == before


async def test_someone_else_clicking_cancel_on_a_forwarded_card_withdraws_nothing(
    playground: Playground, dlbot: Dlbot
) -> None:
    await tell(playground, "add me to leadership@contoso.com", "Why do you need to join?")
    await tell(playground, "Board prep", "Send your request")
    await tell(playground, "yes", "I've asked")
    (request,) = [r for r in await dlbot.approvals.requests_of(ALEX) if r.is_open]
    # Patti owns Leadership Team, yet only Alex may withdraw Alex's request; the click comes
    # from Patti's own chat with a card whose data names Alex's request.
    request = await cards_out(dlbot, request.id, 1)
    patti_card = request.cards[0]

    answer = await playground.invoke_card(
        "withdraw",
        {"requestId": request.id},
        reply_to_id=patti_card.activity_id,
        from_id=patti_card.approver_id,
        conversation_id=patti_card.conversation_id,
    )

    assert "isn't one of yours" in json.dumps(answer)
    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.PENDING


async def test_typing_cancel_my_request_withdraws_it(playground: Playground, dlbot: Dlbot) -> None:
    (request,) = [r for r in await dlbot.approvals.requests_of(ALEX) if r.is_open]

    await tell(
        playground, "cancel my request to leadership", "Cancelled your request to join Leadership"
    )

    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.CANCELLED
