"""Issue 8, item 3 (Redis): Redis restarted mid-flow loses no request; Redis down gets a clear
"temporarily unavailable", a failing /readyz and no 500s, and dlbot recovers by itself.

Each test runs its own redis-server (append-only, fsync always, as production should run it)
so that it can kill and restart it; the product runs in this process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from botbuilder.core import TurnContext
from redis.exceptions import ConnectionError as RedisConnectionError

from approvals.models import RequestKind, RequestStatus
from bot import texts
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.bot.test_app import EchoBot, make_settings, running_edge
from tests.reliability.world import (
    RedisProcess,
    World,
    eventually,
    replies,
    world,
    world_settings,
)

ALEX, MEGAN, LEE = demo.ALEX, demo.MEGAN, demo.LEE
# People not on Finance EMEA, each with a request open while Redis restarts.
REQUESTERS = (demo.ALEX, demo.PATTI, demo.GRADY, demo.DIEGO, demo.JONI)
BURST = 20


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path).start()
    yield process
    process.kill()


@pytest.fixture
async def product(redis: RedisProcess, sandbox: ThreadedSandbox) -> AsyncIterator[World]:
    settings = world_settings(redis.url, sandbox)
    async with world(settings, sandbox, worker=True) as running:
        await running.install(*REQUESTERS, MEGAN, LEE)
        yield running


async def _restart(redis: RedisProcess) -> None:
    redis.kill()  # SIGKILL: no final save, only what the append-only file already holds
    await asyncio.to_thread(redis.start)


async def test_a_redis_restart_mid_flow_loses_no_request_and_the_flow_goes_on(
    product: World, redis: RedisProcess
) -> None:
    asked = []
    for requester in REQUESTERS[1:]:
        submitted = await product.dlbot.approvals.submit(
            kind=RequestKind.JOIN, requester=requester, group=demo.FINANCE_EMEA, justification="x"
        )
        asked.append(await product.cards_out(submitted.request.id, 2))
    status, said = await product.say(ALEX, "add me to finance emea")
    assert status == 201 and "Why do you need to join?" in str(said)

    await _restart(redis)

    # Alex's half-finished conversation, and every request, are still there.
    async def answered() -> list[str] | None:
        status, said = await product.say(ALEX, "I moved to the EMEA finance team")
        return said if status == 201 and "Send your request" in str(said) else None

    await eventually(answered)
    status, said = await product.say(ALEX, "yes")
    assert status == 201 and "I've asked" in str(said)
    for request in asked:
        assert (await product.dlbot.approvals.get(request.id)).status is RequestStatus.PENDING
    lost = len(asked) - len([r for r in asked if await product.dlbot.approvals.get(r.id)])
    assert lost == 0

    # Decided before the next restart, carried out after it: each change made once.
    for request in asked:
        status, answer = await product.click(MEGAN, "approve", {"requestId": request.id})
        assert status == 200 and "Approved by Megan Bowen" in json.dumps(answer)
    await _restart(redis)

    async def all_done() -> bool:
        done = [await product.dlbot.approvals.get(r.id) for r in asked]
        return all(r.status is RequestStatus.COMPLETED for r in done)

    await eventually(all_done, within=60)
    members = product.members("finance-emea")
    for request in asked:
        assert members.count(request.requester.address) == 1
    assert product.writes() == len(asked)


async def test_with_redis_down_people_are_told_it_is_unavailable_and_it_recovers_by_itself(
    product: World, redis: RedisProcess
) -> None:
    redis.kill()

    seen = len(product.connector.sent())
    answers = await asyncio.gather(*(product.say(ALEX, f"hello {n}") for n in range(BURST)))
    told = replies(product.connector.sent()[seen:])
    click_status, click = await product.click(MEGAN, "approve", {"requestId": "a" * 16})
    async with product.session.get(f"{product.url}/readyz") as response:
        ready = response.status

    # Each message gets a 503 with Retry-After (for the channel and monitoring, never a 500),
    # and the person reads why nothing happened; a card click's answer carries the same words.
    assert [status for status, _ in answers] == [503] * BURST
    assert told == [texts.SERVICE_UNAVAILABLE] * BURST
    assert click_status == 200 and texts.SERVICE_UNAVAILABLE in json.dumps(click)
    assert ready == 503
    assert product.dlbot.edge.metrics.turn_errors == 0

    await asyncio.to_thread(redis.start)

    async def recovered() -> bool:
        status, said = await product.say(ALEX, "hi")
        return status == 201 and said == [texts.WELCOME]

    await eventually(recovered)
    async with product.session.get(f"{product.url}/readyz") as response:
        assert response.status == 200


class RedisDiesMidTurn(EchoBot):
    """A turn whose Redis connection drops after the turn lock was taken."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        raise RedisConnectionError("Connection closed by server.")


async def test_redis_failing_in_the_middle_of_a_turn_is_told_as_unavailable_not_as_a_bug(
    redis_url: str,
) -> None:
    async with running_edge(make_settings(redis_url), RedisDiesMidTurn()) as running:
        response = await running.post(running.activity(text="add me to finance emea"))
        [reply] = running.connector.sent()

    assert response.status == 201
    assert reply["text"].startswith(texts.SERVICE_UNAVAILABLE)
    assert "Connection closed" not in reply["text"]
