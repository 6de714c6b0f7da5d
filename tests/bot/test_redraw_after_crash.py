"""Cards redrawn after a crash: a process that dies between a request's final change and queueing
the redraw of its cards leaves them showing Approve/Deny; the per-minute sweep redraws them,
once, after its grace period. Real Redis, real saq workers, the clock moved with time-machine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis
import time_machine

from approvals import keys
from approvals.lifecycle import Timings
from approvals.models import RequestStatus
from tests.approvals import demo
from tests.bot.approval_workers import ProcessDied, Tenant
from tests.bot.saq_workers import settled, until

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFF = Timings()  # no reminder, escalation or expiry: only the redraw is looked at


@pytest.fixture
async def tenant(redis_url: str) -> AsyncIterator[Tenant]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield Tenant(redis_url=redis_url, client=client)
    finally:
        await client.aclose()


async def test_cards_left_stale_by_a_process_killed_after_a_denial_are_redrawn_once_by_the_sweep(
    tenant: Tenant,
) -> None:
    with time_machine.travel(START, tick=True) as traveller:
        async with tenant.workers(OFF) as queue:
            request = await tenant.ask(OFF)

            async def delivered() -> bool:
                return len((await tenant.request()).cards) == 2

            await until(delivered)
            await settled(queue)

            # Megan denies; her bot process dies right after storing it, before the redraw.
            async with tenant.bot(OFF) as (bot, jobs):
                jobs.deaths = 1
                with pytest.raises(ProcessDied):
                    await bot.decide(request.id, demo.MEGAN, approve=False)
            denied = await tenant.request()
            assert denied.status is RequestStatus.DENIED
            assert denied.cards_owed_since is not None
            assert tenant.notifier.updates == []

            await tenant.swept(traveller, queue)

            redrawn = [(card, r.status) for card, r in tenant.notifier.updates]
            assert sorted(redrawn, key=str) == sorted(
                [(card, RequestStatus.DENIED) for card in denied.cards], key=str
            )
            assert (await tenant.request()).cards_owed_since is None

            # Later sweeps, past the sweep's retry interval too, find nothing owed.
            for _ in range(3):
                traveller.shift(timedelta(minutes=10))
                await tenant.swept(traveller, queue)
            assert len(tenant.notifier.updates) == 2
            assert await tenant.client.zcard(keys.OWED_REDRAWS) == 0


async def test_cards_redrawn_by_the_decision_itself_are_not_redrawn_again_by_the_sweep(
    tenant: Tenant,
) -> None:
    with time_machine.travel(START, tick=True) as traveller:
        async with tenant.workers(OFF) as queue:
            request = await tenant.ask(OFF)

            async def delivered() -> bool:
                return len((await tenant.request()).cards) == 2

            await until(delivered)
            async with tenant.bot(OFF) as (bot, _):
                await bot.decide(request.id, demo.MEGAN, approve=False)
            await settled(queue)
            assert len(tenant.notifier.updates) == 2

            for _ in range(3):
                traveller.shift(timedelta(minutes=10))
                await tenant.swept(traveller, queue)

            assert len(tenant.notifier.updates) == 2
            assert (await tenant.request()).cards_owed_since is None
            assert await tenant.client.zcard(keys.OWED_REDRAWS) == 0
