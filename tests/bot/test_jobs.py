"""Jobs on saq over the real Redis: executions dedupe per request, card redraws never do, and
the sweep for lost jobs is queued once a minute however many workers there are, and so are the
directory syncs, every so many hours."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from croniter import croniter
from saq import Queue, Worker

from approvals.ports import JobName
from bot.jobs import (
    QUEUE_NAME,
    SYNC_PEOPLE_FUNCTION,
    SaqJobQueue,
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
