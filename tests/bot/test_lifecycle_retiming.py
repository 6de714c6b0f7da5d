"""Lifecycle timers follow the hours the workers run with now, not those they were queued under:
an admin changes DLBOT_PENDING_REMIND_HOURS and restarts, and requests already waiting are
reminded at the new time (or never, when switched off). Real Redis, real saq workers, the clock
moved days ahead with time-machine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis
import time_machine
from saq import Job, Queue

from approvals.audit import AuditAction
from approvals.lifecycle import Timings
from approvals.models import RequestKind
from approvals.ports import JobName
from bot.jobs import QUEUE_NAME, SaqJobQueue
from tests.approvals import demo
from tests.bot.approval_workers import Tenant
from tests.bot.saq_workers import until

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def remind_after(hours: float) -> Timings:
    return Timings.from_hours(remind=hours, escalate=0, expire=0)


@pytest.fixture
async def tenant(redis_url: str) -> AsyncIterator[Tenant]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield Tenant(redis_url=redis_url, client=client)
    finally:
        await client.aclose()


async def asked_with_48_hours(tenant: Tenant, traveller: time_machine.Coordinates) -> None:
    """Alex asks while the workers remind after 48 hours; their cards go out and the reminder
    is queued for 48 hours on. Then those workers stop."""
    async with tenant.workers(remind_after(48)) as queue:
        await tenant.ask(remind_after(48))

        async def delivered() -> bool:
            return len((await tenant.request()).cards) == 2

        await until(delivered)
        await tenant.swept(traveller, queue)


async def reminded(tenant: Tenant) -> int:
    return await tenant.events(AuditAction.REMINDED)


async def test_a_reminder_queued_for_48_hours_waits_for_72_once_the_hours_are_raised(
    tenant: Tenant,
) -> None:
    with time_machine.travel(START, tick=True) as traveller:
        await asked_with_48_hours(tenant, traveller)
        async with tenant.workers(remind_after(72)) as queue:
            traveller.move_to(START + timedelta(hours=48, minutes=5))
            await tenant.swept(traveller, queue)
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 0
            assert len(tenant.notifier.cards) == 2

            traveller.move_to(START + timedelta(hours=72, minutes=5))
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 1
            assert len(tenant.notifier.cards) == 4  # a reminder card to Megan and to Lee

            traveller.move_to(START + timedelta(days=10))
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 1


async def test_a_reminder_queued_for_48_hours_goes_at_24_once_the_hours_are_lowered(
    tenant: Tenant,
) -> None:
    with time_machine.travel(START, tick=True) as traveller:
        await asked_with_48_hours(tenant, traveller)
        async with tenant.workers(remind_after(24)) as queue:
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 0

            traveller.move_to(START + timedelta(hours=24, minutes=1))
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 1
            assert len(tenant.notifier.cards) == 4

            # The timer queued for 48 hours still runs then, and finds the reminder sent.
            traveller.move_to(START + timedelta(hours=48, minutes=5))
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 1
            assert len(tenant.notifier.cards) == 4


async def test_a_reminder_overdue_under_lowered_hours_goes_at_the_first_sweep_after_restart(
    tenant: Tenant,
) -> None:
    with time_machine.travel(START, tick=True) as traveller:
        await asked_with_48_hours(tenant, traveller)
        traveller.move_to(START + timedelta(hours=30))
        async with tenant.workers(remind_after(24)) as queue:
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 1

            traveller.move_to(START + timedelta(hours=48, minutes=5))
            await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 1


async def test_a_reminder_switched_off_after_it_was_queued_never_fires(tenant: Tenant) -> None:
    with time_machine.travel(START, tick=True) as traveller:
        await asked_with_48_hours(tenant, traveller)
        async with tenant.workers(remind_after(0)) as queue:
            for days in (2, 3, 30):
                traveller.move_to(START + timedelta(days=days, minutes=5))
                await tenant.swept(traveller, queue)
            assert await reminded(tenant) == 0
            assert len(tenant.notifier.cards) == 2


async def test_a_timer_queued_again_for_its_time_is_one_job_and_for_another_time_a_second(
    redis_url: str,
) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        with time_machine.travel(START, tick=False):
            jobs = SaqJobQueue(queue)
            await jobs.enqueue(JobName.REMIND, "req-a", delay_seconds=48 * 3600)
            await jobs.enqueue(JobName.REMIND, "req-a", delay_seconds=48 * 3600)
            assert await queue.count("incomplete") == 1

            await jobs.enqueue(JobName.REMIND, "req-a", delay_seconds=24 * 3600)
            assert await queue.count("incomplete") == 2
            assert await jobs.timed_requests(0, 100) == (0, {"req-a"})
    finally:
        await queue.disconnect()


async def test_a_timer_queued_before_timers_were_keyed_by_time_does_not_swallow_an_at_once_one(
    redis_url: str,
) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        with time_machine.travel(START, tick=False):
            # As the code before the upgrade queued it: keyed by step and request only.
            await queue.enqueue(
                Job(
                    function=JobName.REMIND.value,
                    kwargs={"request_id": "req-a"},
                    key=f"{JobName.REMIND.value}:req-a",
                    scheduled=int(START.timestamp()) + 48 * 3600,
                )
            )
            await SaqJobQueue(queue).enqueue(JobName.REMIND, "req-a")

            assert await queue.count("queued") == 1
    finally:
        await queue.disconnect()


async def test_the_waiting_timers_are_listed_a_page_at_a_time_and_every_one_is_found(
    redis_url: str,
) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        with time_machine.travel(START, tick=False):
            jobs = SaqJobQueue(queue)
            timed = {f"req-{n}" for n in range(300)}
            for request_id in timed:
                await jobs.enqueue(JobName.REMIND, request_id, delay_seconds=48 * 3600)
                # Jobs of other kinds share saq's set, scheduled or queued to run at once.
                await jobs.enqueue(JobName.DELIVER_CARDS, request_id, delay_seconds=3600)
                await jobs.enqueue(JobName.EXECUTE, request_id)
            await jobs.enqueue(JobName.REMIND, "req-due-now")  # queued to run: waits for nothing

            found: set[str] = set()
            pages, cursor = 0, 0
            while True:
                cursor, page = await jobs.timed_requests(cursor, 50)
                found |= page
                pages += 1
                if cursor == 0:
                    break

            assert found == timed
            assert pages > 1
    finally:
        await queue.disconnect()


async def test_re_timing_a_large_queue_goes_on_a_bounded_part_per_sweep_until_every_timer_moved(
    tenant: Tenant,
) -> None:
    queue = Queue.from_url(tenant.redis_url, name=QUEUE_NAME)
    try:
        with time_machine.travel(START, tick=False):
            bot = tenant.service(SaqJobQueue(queue), remind_after(48))
            for n in range(300):
                requester = demo.person(f"00000000-0000-4000-8000-{n:012d}", f"P{n}", f"p{n}@x.com")
                await bot.submit(
                    kind=RequestKind.JOIN, requester=requester, group=demo.FINANCE_EMEA
                )
            # Each request: its delivery (queued to run) and its reminder 48 hours on.
            assert await queue.count("incomplete") == 600

            worker = tenant.service(SaqJobQueue(queue), remind_after(24)).lifecycle
            assert not await worker.retime(pages=1, page=50)
            assert 600 < await queue.count("incomplete") < 900

            sweeps = 1
            while not await worker.retime(pages=1, page=50):
                sweeps += 1
                assert sweeps < 100, "re-timing never got through the queue"
            # Every request has a reminder 24 hours on as well (the old one finds it sent).
            assert await queue.count("incomplete") == 900
            assert await worker.retime(pages=1, page=50)
            assert await queue.count("incomplete") == 900
    finally:
        await queue.disconnect()
