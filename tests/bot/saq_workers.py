"""Real saq workers for tests that run the workflow's jobs on one real Redis, as several
`dlbot worker` processes would: start them, wait until they got somewhere, and stop them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from saq import CronJob, Queue, Worker

from approvals.ports import JobName
from bot.jobs import JobBody, job_functions

# Real seconds any one step may take on a loaded machine before the test gives up on it.
PATIENCE_SECONDS = 30.0

Bodies = Callable[[dict[str, Any]], dict[JobName, JobBody]]


@contextlib.asynccontextmanager
async def running(
    workers: Sequence[tuple[Queue, Bodies, list[CronJob[Any]]]],
) -> AsyncIterator[None]:
    """One saq Worker per (queue, job bodies, cron jobs), each on its own queue connection,
    running until the block ends; the queues are disconnected after."""
    started: list[Worker[Any]] = []
    for queue, bodies, cron_jobs in workers:
        worker: Worker[Any] = Worker(
            queue, job_functions(bodies), cron_jobs=cron_jobs, concurrency=4
        )
        worker.SIGNALS = []  # the test's event loop, not the worker, owns the signals
        started.append(worker)
    tasks = [asyncio.create_task(w.start()) for w in started]
    try:
        yield
    finally:
        for worker in started:
            await worker.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for queue, _, _ in workers:
            await queue.disconnect()


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_SECONDS
    while not await condition():
        assert loop.time() < deadline, "the workers did not get there in time"
        await asyncio.sleep(0.05)


async def settled(queue: Queue) -> None:
    """Nothing queued or running: whatever was due has run, and what it queued too."""

    async def idle() -> bool:
        return await queue.count("queued") == 0 and await queue.count("active") == 0

    await until(idle)
    await asyncio.sleep(1.5)  # a scheduler tick or two, for anything a duplicate would queue
    await until(idle)
