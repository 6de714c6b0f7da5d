"""Jobs on saq over the real Redis: executions and lifecycle timers dedupe per request (a timer
waits for its time), card redraws never do, and the sweep for lost jobs is queued once a minute
however many workers there are, and so are the directory syncs, every so many hours."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from croniter import croniter
from saq import Job, Queue, Status, Worker

import bot.jobs
from approvals.ports import JobName
from bot.jobs import (
    HEARTBEAT_TIMEOUT_SECONDS,
    QUEUE_NAME,
    RETRY_PLANS,
    SYNC_PEOPLE_FUNCTION,
    SaqJobQueue,
    heartbeats,
    job_functions,
    sweep_job,
    sync_jobs,
)


async def _drain(queue: Queue, ran: Counter[tuple[JobName, str]]) -> None:
    def bodies(ctx: dict[str, Any]) -> dict[JobName, Any]:
        def body(job: JobName) -> Any:
            async def run(request_id: str) -> None:
                ran[(job, request_id)] += 1

            return run

        return {job: body(job) for job in JobName}

    worker = Worker(queue, job_functions(bodies), burst=True, dequeue_timeout=0.5)
    await worker.start()


async def test_an_execution_queued_twice_for_one_request_runs_once(redis_url: str) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        jobs = SaqJobQueue(queue)
        await jobs.enqueue(JobName.EXECUTE, "req-a")
        await jobs.enqueue(JobName.EXECUTE, "req-a")
        await jobs.enqueue(JobName.EXECUTE, "req-b")
        ran: Counter[tuple[JobName, str]] = Counter()

        await _drain(queue, ran)

        assert ran == {(JobName.EXECUTE, "req-a"): 1, (JobName.EXECUTE, "req-b"): 1}
    finally:
        await queue.disconnect()


@pytest.mark.parametrize("timer", [JobName.REMIND, JobName.ESCALATE, JobName.EXPIRE])
async def test_a_timer_queued_twice_waits_for_its_time_then_runs_once(
    redis_url: str, timer: JobName
) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        jobs = SaqJobQueue(queue)
        with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=True) as clock:
            for _ in range(2):  # at submit, and again by the sweep
                await jobs.enqueue(timer, "req-a", delay_seconds=2 * 86400)
            ran: Counter[tuple[JobName, str]] = Counter()
            await _drain(queue, ran)
            assert ran == {} and await queue.count("incomplete") == 1

            clock.shift(timedelta(days=2))
            await _schedule_due(queue)
            await _drain(queue, ran)

        assert ran == {(timer, "req-a"): 1}
    finally:
        await queue.disconnect()


async def _schedule_due(queue: Queue) -> None:
    """Move the jobs now due to the queue, as a worker's scheduler does each second (it holds
    a one-second lock in Redis, so the first try may come too soon after the last worker's)."""
    for _ in range(50):
        if await queue.schedule():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no scheduled job became due")


def test_every_job_has_a_retry_plan() -> None:
    assert set(RETRY_PLANS) == set(JobName)


async def test_every_card_redraw_queued_runs(redis_url: str) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        jobs = SaqJobQueue(queue)
        for _ in range(3):
            await jobs.enqueue(JobName.UPDATE_CARDS, "req-a")
        ran: Counter[tuple[JobName, str]] = Counter()

        await _drain(queue, ran)

        assert ran == {(JobName.UPDATE_CARDS, "req-a"): 3}
    finally:
        await queue.disconnect()


async def test_the_sweep_is_queued_once_however_many_workers_schedule_it(redis_url: str) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:

        async def sweep() -> int:
            return 0

        workers = [Worker(queue, [], cron_jobs=[sweep_job(sweep)]) for _ in range(3)]
        for worker in workers:
            await worker.schedule()

        assert await queue.count("incomplete") == 1
    finally:
        await queue.disconnect()


async def test_each_sync_is_queued_once_however_many_workers_schedule_it(redis_url: str) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:

        async def sync() -> int:
            return 0

        def jobs() -> list[Any]:
            return sync_jobs(lists_hours=12, people_hours=4, sync_lists=sync, sync_people=sync)

        workers = [Worker(queue, [], cron_jobs=jobs()) for _ in range(3)]
        for worker in workers:
            await worker.schedule()

        assert await queue.count("incomplete") == 2  # one list sync, one people sync
    finally:
        await queue.disconnect()


@pytest.mark.parametrize("hours", [1, 4, 6, 12, 24])
def test_a_sync_runs_every_so_many_hours_from_midnight(hours: int) -> None:
    (job,) = sync_jobs(lists_hours=hours, people_hours=0, sync_lists=_no_sync, sync_people=_no_sync)
    runs = croniter(job.cron, datetime(2026, 1, 1, 0, 0))
    first, second = runs.get_next(datetime), runs.get_next(datetime)

    assert first == datetime(2026, 1, 1, 0, 5)
    assert second - first == timedelta(hours=hours)


def test_a_sync_set_to_zero_hours_is_not_scheduled() -> None:
    jobs = sync_jobs(lists_hours=0, people_hours=4, sync_lists=_no_sync, sync_people=_no_sync)

    assert [job.function.__name__ for job in jobs] == [SYNC_PEOPLE_FUNCTION]


async def _no_sync() -> int:
    return 0


async def started(queue: Queue) -> Job:
    """Take the next job and mark it running, as a saq worker does before calling it."""
    job = await queue.dequeue(timeout=1)
    assert job is not None
    job.started = int(time.time() * 1000)
    await job.update(status=Status.ACTIVE)
    return job


async def test_a_job_whose_worker_died_is_taken_again_after_the_heartbeat_timeout(
    redis_url: str,
) -> None:
    """A worker killed mid-write leaves its job active; with heartbeats saq's sweep re-queues
    it after HEARTBEAT_TIMEOUT_SECONDS instead of the job's ten-minute timeout."""
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
            await SaqJobQueue(queue).enqueue(JobName.EXECUTE, "req-a")
            taken = await started(queue)  # by the worker that then dies: never finishes
            assert taken.heartbeat == HEARTBEAT_TIMEOUT_SECONDS
            assert taken.timeout > 10 * HEARTBEAT_TIMEOUT_SECONDS

            traveller.shift(timedelta(seconds=HEARTBEAT_TIMEOUT_SECONDS - 5))
            assert await queue.sweep(lock=1) == []  # not yet: it could still be running
            await asyncio.sleep(1.1)  # the sweep's own lock (a Redis TTL) runs on real time
            traveller.shift(timedelta(seconds=10))
            assert await queue.sweep(lock=1) == [taken.id]

            again = await queue.job(taken.key)
            assert again is not None and again.status.value == "queued"
    finally:
        await queue.disconnect()


async def test_a_running_job_beats_so_the_sweep_leaves_it_alone(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs, "HEARTBEAT_SECONDS", 0.05)
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        await SaqJobQueue(queue).enqueue(JobName.EXECUTE, "req-a")
        running = await started(queue)
        first_touch = (await queue.job(running.key)).touched  # type: ignore[union-attr]

        async with heartbeats(running):
            await asyncio.sleep(0.5)  # an Exchange write in progress

        stored = await queue.job(running.key)
        assert stored is not None and stored.touched > first_touch
        assert stored.status.value == "active"  # a beat never changes the job's status
    finally:
        await queue.disconnect()
