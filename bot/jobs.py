"""Approvals' JobQueue port on saq, and the job functions the workers run.

Jobs live in Redis, so a request's next step survives restarts of any bot or worker, and any
number of workers on any number of machines share them. Execution is keyed by request, so a
request is never queued for execution twice at once; card redraws are keyed uniquely, because
a redraw queued while another runs must still happen (it reads the request as it is then). The
lifecycle timers (reminder, escalation, expiry) are keyed by request and due time, and scheduled
days ahead: saq keeps a scheduled job in Redis and one worker moves it to the queue when it is
due.

A sweep runs each minute (`sweep_job`, a saq cron job: one worker runs it each time) and queues
again the job of a request whose process died between storing it and queueing its job
(ApprovalService.resume_stalled).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from saq import CronJob, Job, Queue
from saq.queue.redis import RedisQueue

from approvals.grant_service import LAST_PROMPT_RUN, PROMPT_ATTEMPTS
from approvals.ports import JobName

QUEUE_NAME = "dlbot"

log = logging.getLogger(__name__)

# A running job touches its saq record this often, and saq's sweep takes a job untouched for
# HEARTBEAT_TIMEOUT_SECONDS for one whose worker died (SIGKILL, a lost machine) and queues it
# again. Without heartbeats saq waits for the job's whole timeout (ten minutes for an Exchange
# write) before anyone retries it, and the per-minute resume_stalled cannot help: its re-queue
# has the same job key, which saq drops while the dead job still looks active.
HEARTBEAT_SECONDS = 5.0
HEARTBEAT_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class RetryPlan:
    retries: int
    retry_delay: float  # seconds before the first retry
    max_delay: float  # exponential backoff (with jitter) up to this
    timeout: int  # seconds one run may take


RETRY_PLANS: dict[JobName, RetryPlan] = {
    # Exchange may be throttled or down for a while: keep trying for about half an hour.
    JobName.EXECUTE: RetryPlan(retries=10, retry_delay=2.0, max_delay=300.0, timeout=600),
    JobName.DELIVER_CARDS: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    JobName.UPDATE_CARDS: RetryPlan(retries=5, retry_delay=2.0, max_delay=60.0, timeout=120),
    # The lifecycle timers post cards and messages like the delivery, and escalation reads the
    # fallback approvers; a run retried part way goes on where it stopped (approvals.lifecycle).
    JobName.REMIND: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    JobName.ESCALATE: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    JobName.EXPIRE: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    # Time-boxed membership (approvals.grant_service): a prompt posts a card; the end stores a
    # LEAVE request, whose own EXECUTE job carries the removal with the retries above.
    # A prompt Teams did not take is tried for about an hour (a Bot Connector outage); the
    # service gives it up after PROMPT_ATTEMPTS and audits that, so saq allows one run more (a
    # run that died before counting its failure must not leave the give-up unsaid).
    JobName.GRANT_PROMPT: RetryPlan(
        retries=PROMPT_ATTEMPTS + 1, retry_delay=30.0, max_delay=1800.0, timeout=120
    ),
    JobName.GRANT_END: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    # Owner access reviews: cards like the delivery; the removal job stores LEAVE requests,
    # whose own EXECUTE jobs carry the removals (a 5,000-member review may take a while).
    JobName.REVIEW_CARDS: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    JobName.REVIEW_UPDATE: RetryPlan(retries=5, retry_delay=2.0, max_delay=60.0, timeout=120),
    JobName.REVIEW_REMIND: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    JobName.REVIEW_ESCALATE: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
    JobName.REVIEW_REMOVE: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=600),
    # The close of an unanswered review reads the fallback approvers and posts one message
    # each; its removals (decided before it closed) are the REVIEW_REMOVE job's.
    JobName.REVIEW_CLOSE: RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120),
}


# A request's timers are keyed by the second they are due as well (0: at once): queued again for
# the same time they are dropped, but queued for another time (the delays were changed and the
# workers restarted: approvals.lifecycle) they are a new job rather than the old one kept. An
# at-once timer keeps its ":0": without it, it would be the key timers had before they were
# keyed by time, and one of those still waiting for its old time would swallow it.
TIMER_JOBS = frozenset({JobName.REMIND, JobName.ESCALATE, JobName.EXPIRE})
# The close of an unanswered access review is keyed by its due second the same way (the close
# days changed: approvals.review_service), but it is not a request's timer: retime leaves it be.
_DUE_KEYED = TIMER_JOBS | {JobName.REVIEW_CLOSE}


def job_key(job: JobName, request_id: str, due: int = 0) -> str:
    if job is JobName.UPDATE_CARDS:
        return f"{job.value}:{request_id}:{uuid.uuid4().hex}"
    if job in _DUE_KEYED:
        return f"{job.value}:{request_id}:{due}"
    return f"{job.value}:{request_id}"


class SaqJobQueue:
    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        plan = RETRY_PLANS[job]
        # Rounded, not cut: a timer asks for a whole second, which must give one key however
        # many microseconds passed since its delay was worked out.
        scheduled = round(time.time() + delay_seconds) if delay_seconds > 0 else 0
        await self._queue.enqueue(
            Job(
                function=job.value,
                kwargs={"request_id": request_id},
                key=job_key(job, request_id, scheduled),
                scheduled=scheduled,
                retries=plan.retries,
                retry_delay=plan.retry_delay,
                retry_backoff=plan.max_delay,
                timeout=plan.timeout,
                heartbeat=HEARTBEAT_TIMEOUT_SECONDS,
            )
        )

    async def timed_requests(self, cursor: int, count: int) -> tuple[int, set[str]]:
        """One page of the ids of the requests with a timer waiting for its time
        (approvals.lifecycle's retime reads them), and the cursor of the next page (0: none).

        saq keeps every job not yet finished in one sorted set, scored by when it is due (0
        once queued to run); its name is the private `_incomplete`. That set holds every
        scheduled job of every kind, months ahead, so it is scanned (ZSCAN: about `count`
        entries a call, and every entry there throughout the scan is seen at least once
        however the set changes meanwhile) rather than read in one reply."""
        queue = self._redis_queue()
        incomplete = queue._incomplete  # noqa: SLF001 - see above
        found: set[str] = set()
        cursor, entries = await queue.redis.zscan(incomplete, cursor, count=count)
        for job_id, due in entries:
            if due < 1:
                continue  # queued to run already: nothing waits for a time
            name, _, rest = queue.job_key_from_id(_text(job_id)).partition(":")
            if name in _TIMER_NAMES:
                found.add(rest.partition(":")[0])
        return int(cursor), found

    def _redis_queue(self) -> RedisQueue:
        if not isinstance(self._queue, RedisQueue):  # Queue.from_url("redis://...") is one
            raise TypeError(f"dlbot's jobs need a saq queue on Redis, not {self._queue!r}")
        return self._queue


_TIMER_NAMES = frozenset(job.value for job in TIMER_JOBS)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


JobBody = Callable[[str], Awaitable[None]]

# The sweep runs each minute, on the minute. saq keys a cron job by its function's name, so
# however many workers schedule it, one run per minute is queued, and one worker runs it.
SWEEP_CRON = "* * * * *"
SWEEP_FUNCTION = "resume_stalled"
# A sweep reads every open request left unchanged for a minute and sets it aside; it may take a
# while after an outage, and running a minute late costs nothing (the next one starts over).
SWEEP_TIMEOUT_SECONDS = 50


def job_functions(
    bodies: Callable[[dict[str, Any]], dict[JobName, JobBody]],
    correlation: Callable[[str], Awaitable[str]] | None = None,
) -> list[Any]:
    """saq functions, one per JobName, each handing its request id to the body the worker's
    context provides (bodies(ctx)[job]), so the functions hold no state of their own.

    Each run logs under the request's correlation id (`correlation(request_id)`, the id of the
    activity that asked: docs/operations.md), its request id and the job's name."""

    def make(job: JobName) -> Any:
        async def run(ctx: dict[str, Any], *, request_id: str) -> None:
            correlation_id = await _correlation_of(correlation, request_id)
            with structlog.contextvars.bound_contextvars(
                correlation_id=correlation_id, request_id=request_id, job=job.value
            ):
                async with heartbeats(ctx.get("job")):
                    # A prompt queued with fewer saq retries than PROMPT_ATTEMPTS (before
                    # this release) is given up, loudly, by the service on saq's last run.
                    saq_job = ctx.get("job")
                    last = isinstance(saq_job, Job) and not saq_job.retryable
                    token = LAST_PROMPT_RUN.set(job is JobName.GRANT_PROMPT and last)
                    try:
                        await bodies(ctx)[job](request_id)
                    finally:
                        LAST_PROMPT_RUN.reset(token)

        run.__name__ = run.__qualname__ = job.value  # saq finds functions by name
        return run

    return [make(job) for job in JobName]


@contextlib.asynccontextmanager
async def heartbeats(job: Job | None) -> AsyncIterator[None]:
    """Touch `job` every HEARTBEAT_SECONDS while the block runs (see HEARTBEAT_TIMEOUT_SECONDS);
    a job queued without a heartbeat limit is left alone."""
    if job is None or not job.heartbeat:
        yield
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await job.update()
            except Exception as exc:  # noqa: BLE001 - a missed beat must not fail the job
                log.warning("heartbeat of job %s failed: %r", job.key, exc)

    beating = asyncio.create_task(beat(), name=f"heartbeat {job.key}")
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def _correlation_of(
    correlation: Callable[[str], Awaitable[str]] | None, request_id: str
) -> str:
    if correlation is None:
        return ""
    try:
        return await correlation(request_id)
    except Exception:  # noqa: BLE001 - the job itself reports a missing request or Redis
        return ""


def sweep_job(sweep: Callable[[], Awaitable[int]]) -> CronJob[Any]:
    """The saq cron job running `sweep` (ApprovalService.resume_stalled) once a minute."""

    async def run(ctx: dict[str, Any]) -> int:
        return await sweep()

    run.__name__ = run.__qualname__ = SWEEP_FUNCTION  # saq keys cron jobs by name
    # One attempt (saq counts the first run as one of `retries`): a failed sweep is simply
    # the next minute's to repeat.
    return CronJob(run, cron=SWEEP_CRON, timeout=SWEEP_TIMEOUT_SECONDS, retries=1)


# The directory syncs (design.md "Directory index"): lists and people read whole from Exchange
# into Redis. Keyed by name like the sweep, so one run per schedule whatever the worker count;
# the bot replicas load the new list snapshot through follow_index within seconds. Off the hour
# (lists at :05, people at :35) so they do not start together with other hourly work.
SYNC_LISTS_FUNCTION = "sync_lists"
SYNC_PEOPLE_FUNCTION = "sync_people"
# Reading 100,000 lists takes minutes (bench/README.md); an hour is a hung call, not a big tenant.
SYNC_TIMEOUT_SECONDS = 3600


def sync_cron(hours: int, minute: int) -> str:
    """Every `hours` hours from midnight (hours divides 24), at `minute`."""
    return f"{minute} */{hours} * * *" if hours < 24 else f"{minute} 0 * * *"


def sync_jobs(
    *,
    lists_hours: int,
    people_hours: int,
    sync_lists: Callable[[], Awaitable[int]],
    sync_people: Callable[[], Awaitable[int]],
) -> list[CronJob[Any]]:
    """The cron jobs of the list and people syncs; a sync set to 0 hours is left out."""
    jobs: list[CronJob[Any]] = []
    for name, hours, minute, body in (
        (SYNC_LISTS_FUNCTION, lists_hours, 5, sync_lists),
        (SYNC_PEOPLE_FUNCTION, people_hours, 35, sync_people),
    ):
        if hours <= 0:
            continue

        # One attempt: a failed sync leaves the last snapshot in place until the next one.
        jobs.append(
            CronJob(
                _named_job(name, body),
                cron=sync_cron(hours, minute),
                timeout=SYNC_TIMEOUT_SECONDS,
                retries=1,
            )
        )
    return jobs


def _named_job(name: str, body: Callable[[], Awaitable[int]]) -> Any:
    async def run(ctx: dict[str, Any]) -> int:
        return await body()

    run.__name__ = run.__qualname__ = name  # saq keys cron jobs by name
    return run


# Owner access reviews (approvals.review_service): once a day, off the hour, the lists whose
# review is due are started, each claimed by one worker; keyed by name like the syncs.
REVIEWS_FUNCTION = "start_reviews"
REVIEWS_CRON = "45 6 * * *"
# Starting a review reads the list's owners and facts from Exchange: many lists fall due on one
# day only after a bulk import, and what is not done in time is due again tomorrow.
REVIEWS_TIMEOUT_SECONDS = 1800


def review_jobs(*, every_days: int, start_due: Callable[[], Awaitable[int]]) -> list[CronJob[Any]]:
    """The daily cron job that starts due access reviews; none when reviews are off."""
    if every_days <= 0:
        return []
    # One attempt: a failed run leaves the lists due, for tomorrow's.
    return [
        CronJob(
            _named_job(REVIEWS_FUNCTION, start_due),
            cron=REVIEWS_CRON,
            timeout=REVIEWS_TIMEOUT_SECONDS,
            retries=1,
        )
    ]
