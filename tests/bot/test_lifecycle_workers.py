"""The lifecycle timers on real saq: two workers on one real Redis, the clock moved days ahead
with time-machine (saq schedules by time.time(); asyncio sleeps on the monotonic clock, which
time-machine leaves alone), and both workers replaced by two new ones half way. The reminder,
the escalation and the expiry each happen exactly once, counted in the audit stream, the
cards posted and redrawn, and what the requester was told."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
import time_machine
from saq import Queue

from approvals.audit import AuditAction
from approvals.lifecycle import Timings
from approvals.models import RequestKind, RequestStatus
from approvals.ports import NoticeKind
from approvals.testing import StaticApprovers
from bot.jobs import QUEUE_NAME, SaqJobQueue
from tests.approvals import demo
from tests.bot.approval_workers import Tenant
from tests.bot.saq_workers import settled, until

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TIMINGS = Timings(timedelta(days=2), timedelta(days=4), timedelta(days=7))


async def test_reminder_escalation_and_expiry_each_fire_once_with_two_workers_and_a_restart(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(redis_url)
    tenant = Tenant(
        redis_url=redis_url,
        client=client,
        approvers=StaticApprovers(
            owners={
                demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN), demo.approver(demo.LEE))
            },
            fallback=(demo.approver(demo.ADELE, "fallback"),),
        ),
    )
    notifier = tenant.notifier
    megan, lee, adele = demo.MEGAN.object_id, demo.LEE.object_id, demo.ADELE.object_id

    request = tenant.request

    async def counts() -> tuple[int, ...]:
        return (
            await tenant.events(AuditAction.REMINDED),
            await tenant.events(AuditAction.ESCALATED),
            await tenant.events(AuditAction.EXPIRED),
            len(notifier.cards),
            len(notifier.notices),
        )

    async def swept(queue: Queue) -> None:
        """Minutes pass until the per-minute sweep has looked at the request as it now is (a
        minute unchanged, so a candidate), queueing again whatever it may have lost; a step
        already done must not happen again."""
        before = tenant.sweeps
        traveller.shift(timedelta(minutes=2))

        async def ran() -> bool:
            if tenant.sweeps > before:
                return True
            await asyncio.sleep(1)  # a scheduler tick, then the next minute
            traveller.shift(timedelta(minutes=1))
            return False

        await until(ran)
        await settled(queue)

    try:
        with time_machine.travel(START, tick=True) as traveller:
            async with tenant.workers(TIMINGS) as queue:
                bot = Queue.from_url(redis_url, name=QUEUE_NAME)
                try:
                    await tenant.service(SaqJobQueue(bot), TIMINGS).submit(
                        kind=RequestKind.JOIN,
                        requester=demo.ALEX,
                        group=demo.FINANCE_EMEA,
                        justification="I work with this team now",
                    )
                finally:
                    await bot.disconnect()

                async def delivered() -> bool:
                    return sorted(notifier.carded()) == sorted([megan, lee])

                await until(delivered)
                await swept(queue)
                assert await counts() == (0, 0, 0, 2, 1)

                traveller.shift(timedelta(days=2))

                async def reminded() -> bool:
                    return len([c for c in (await request()).cards if c.reminder]) == 2

                await until(reminded)
                await swept(queue)
                assert await counts() == (1, 0, 0, 4, 2)
                assert notifier.notices_to(demo.ALEX.object_id)[-1] is NoticeKind.REMINDED

            # Both workers stop; two new ones start, knowing nothing but what Redis holds.
            async with tenant.workers(TIMINGS) as queue:
                traveller.shift(timedelta(days=2))

                async def escalated() -> bool:
                    return (await request()).card_of(adele) is not None

                await until(escalated)
                await swept(queue)
                assert await counts() == (1, 1, 0, 5, 3)
                assert notifier.notices_to(demo.ALEX.object_id)[-1] is NoticeKind.ESCALATED

                traveller.shift(timedelta(days=3))

                async def expired_and_redrawn() -> bool:
                    current = await request()
                    redrawn = {c for c, r in notifier.updates if r.status is RequestStatus.EXPIRED}
                    return current.status is RequestStatus.EXPIRED and redrawn == set(current.cards)

                await until(expired_and_redrawn)
                await settled(queue)
                assert await counts() == (1, 1, 1, 5, 4)
                assert notifier.notices_to(demo.ALEX.object_id)[-1] is NoticeKind.EXPIRED
                assert len(notifier.updates) == 5  # each of the five cards redrawn once

                # Another week: every timer has run, the sweep finds nothing left to do.
                traveller.shift(timedelta(days=7))
                await settled(queue)
                assert await counts() == (1, 1, 1, 5, 4)
    finally:
        await client.aclose()
