"""Issue 8, item 2: every owner of a list approves and denies at once, through two bot
processes on one Redis: exactly one decision, exactly one Exchange write, one outcome shown.

Two real `dlbot serve --no-worker` processes take the clicks; a worker in this process posts
the cards, makes the change and redraws the cards. Each race is 50 card clicks by Megan and Lee
(the owners of Finance EMEA), approve and deny interleaved, half to each process, all at once.
The single-process, in-memory and Redis-store races are in tests/approvals.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from approvals.audit import AuditAction, RedisStreamAudit
from approvals.models import ApprovalRequest, Person, RequestKind, RequestStatus
from bot.settings import Settings
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.reliability.world import (
    World,
    eventually,
    free_port,
    spawn_bot,
    world,
    world_settings,
)

OWNERS = (demo.MEGAN, demo.LEE)
# People who are not on Finance EMEA, one race each.
REQUESTERS = (demo.ALEX, demo.PATTI, demo.GRADY)
CLICKS_PER_RACE = 50
OUTCOME = re.compile(r"(Approved|Declined) by (Megan Bowen|Lee Gu)")


@pytest.fixture
def settings(redis_url: str, sandbox: ThreadedSandbox) -> Settings:
    return world_settings(redis_url, sandbox)


@pytest.fixture
async def product(settings: Settings, sandbox: ThreadedSandbox) -> AsyncIterator[World]:
    async with world(settings, sandbox, worker=True) as running:
        await running.install(*OWNERS, *REQUESTERS)
        yield running


@pytest.fixture
def two_bots(product: World, settings: Settings, tmp_path: Path) -> Iterator[list[str]]:
    # Started after `product`, which built the directory index they load from Redis.
    ports = [free_port(), free_port()]
    with spawn_bot(settings, ports[0], tmp_path), spawn_bot(settings, ports[1], tmp_path):
        yield [f"http://127.0.0.1:{port}" for port in ports]


def _outcomes(text: str) -> set[str]:
    return {" by ".join(match) for match in OUTCOME.findall(text)}


async def _race(product: World, bots: list[str], requester: Person) -> str:
    submitted = await product.dlbot.approvals.submit(
        kind=RequestKind.JOIN, requester=requester, group=demo.FINANCE_EMEA, justification="race"
    )
    request = await product.cards_out(submitted.request.id, len(OWNERS))
    chats = {card.approver_id: card.conversation_id for card in request.cards}
    clicks = [
        product.click(
            OWNERS[n % 2],
            "approve" if (n // 2) % 2 == 0 else "deny",
            {"requestId": request.id},
            conversation_id=chats[OWNERS[n % 2].object_id],
            url=bots[n % len(bots)],
        )
        for n in range(CLICKS_PER_RACE)
    ]
    answers = await asyncio.gather(*clicks)

    assert [status for status, _ in answers] == [200] * CLICKS_PER_RACE
    shown = set().union(*(_outcomes(json.dumps(answer)) for _, answer in answers))
    assert len(shown) == 1, shown  # every clicker is shown the same single outcome
    (outcome,) = shown
    return outcome


async def _decisions(product: World, request_id: str) -> list[AuditAction]:
    events = await RedisStreamAudit(product.dlbot.edge.redis).read()
    decided = (AuditAction.APPROVED, AuditAction.DENIED)
    return [
        AuditAction(e.event) for e in events if e.request_id == request_id and e.event in decided
    ]


async def _settled(product: World, request: ApprovalRequest, outcome: str) -> None:
    """The request ends as the race's outcome says, and every approver's card shows it."""
    final = RequestStatus.COMPLETED if outcome.startswith("Approved") else RequestStatus.DENIED

    async def settled() -> bool:
        return (await product.dlbot.approvals.get(request.id)).status is final

    async def cards_redrawn() -> bool:
        done = await product.dlbot.approvals.get(request.id)
        card_ids = {card.activity_id for card in done.cards}
        redrawn = [
            r
            for r in product.connector.requests
            if r.method == "PUT" and r.path.rsplit("/", 1)[1] in card_ids
        ]
        # Each approver's card, redrawn, shows that outcome and no other.
        drawn = {r.path.rsplit("/", 1)[1]: _outcomes(json.dumps(r.body)) for r in redrawn}
        return len(drawn) == len(card_ids) and all(s == {outcome} for s in drawn.values())

    await eventually(settled)
    await eventually(cards_redrawn)


async def test_owners_racing_on_two_bot_processes_make_one_decision_and_one_write(
    product: World, two_bots: list[str]
) -> None:
    races = 0
    for requester in REQUESTERS:
        writes_before = product.writes()
        outcome = await _race(product, two_bots, requester)
        (request,) = [
            r
            for r in await product.dlbot.approvals.requests_of(requester.object_id)
            if r.group.object_id == demo.FINANCE_EMEA.object_id
        ]
        approved = outcome.startswith("Approved")

        await _settled(product, request, outcome)

        assert len(await _decisions(product, request.id)) == 1
        assert product.writes() - writes_before == (1 if approved else 0)
        assert product.members("finance-emea").count(requester.address) == (1 if approved else 0)
        races += 1

    assert races == len(REQUESTERS)
