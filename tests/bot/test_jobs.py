"""Jobs on saq over the real Redis: executions dedupe per request, card redraws never do, and
the sweep for lost jobs is queued once a minute however many workers there are."""

from __future__ import annotations

from collections import Counter
from typing import Any

from saq import Queue, Worker

from approvals.ports import JobName
from bot.jobs import QUEUE_NAME, SaqJobQueue, job_functions, sweep_job


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
