"""The Exchange calls of one "add me" request through the whole product, as `dlbot serve` runs
it (real app, CloudAdapter, Redis, saq worker) and driven through Microsoft's Agents Playground,
counted in the sandbox's request log: first message to membership. bench/exchange_calls.py
splits the same count by phase; this pins the total on the real edge, so a call added anywhere
between Teams and Exchange fails here."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from approvals.models import RequestStatus
from bot.services import Dlbot
from exchange.sandbox.server import ThreadedSandbox
from tests.playground.conftest import bot_url, playground, playground_user  # noqa: F401
from tests.playground.harness import PEOPLE, Playground
from tests.system.conftest import (  # noqa: F401
    cards_out,
    dlbot,
    playground_bot,
    playground_services,
    playground_settings,
    playground_user_ids,
    said,
    sandbox,
    tell,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]


def _calls_since(sandbox: ThreadedSandbox, start: int) -> Counter[str]:  # noqa: F811
    """Logical calls (one per client-request-id; pages and retries share it) by cmdlet."""
    seen: dict[str | None, str] = {}
    for entry in sandbox.server.requests[start:]:
        seen.setdefault(entry.client_request_id, entry.cmdlet or "?")
    return Counter(seen.values())


async def test_an_approved_add_me_costs_three_calls_plus_three_owner_resolutions(
    playground: Playground,  # noqa: F811
    dlbot: Dlbot,  # noqa: F811
    sandbox: ThreadedSandbox,  # noqa: F811
) -> None:
    await playground.install()
    await dlbot.sync_people()  # the scheduled people sync: who writes costs no call
    start, tokens = len(sandbox.server.requests), sandbox.tokens_issued

    await tell(playground, "add me to finance emea", "Why do you need to join?")
    await tell(playground, "I moved to the EMEA finance team", "Send your request")
    await tell(playground, "yes", "I've asked")
    (request,) = await dlbot.approvals.requests_of(ALEX)
    request = await cards_out(dlbot, request.id, 2)
    megan_card = request.card_of(MEGAN)
    assert megan_card is not None
    seen = len(playground.stream.events)
    answer = await playground.invoke_card(
        "approve",
        {"requestId": request.id, "reason": "Welcome aboard"},
        reply_to_id=megan_card.activity_id,
        from_id=MEGAN,
        conversation_id=megan_card.conversation_id,
    )
    assert "Approved by Megan Bowen" in json.dumps(answer)
    await playground.stream.wait_for(said("you're now a member of Finance EMEA"), 20, seen)

    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.COMPLETED
    # The request's own 3: the list read at the preview, the one-call membership test, the
    # write. Owner resolution (Get-DistributionGroup for ManagedBy, Get-User for the people)
    # at the preview, when the request is stored, and at Megan's decision.
    assert _calls_since(sandbox, start) == Counter(
        {
            "Get-DistributionGroup": 1 + 3,
            "Get-Recipient": 1,
            "Add-DistributionGroupMember": 1,
            "Get-User": 3,
        }
    )
    assert sandbox.tokens_issued == tokens  # the token fetched at start-up serves them all
