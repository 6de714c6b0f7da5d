"""Resuming: a process that dies between storing a request and queueing its job leaves the
request without one; resume_stalled, run each minute, queues it again, and nothing else.

Every test runs on the in-memory store and on RedisRequestStore over the real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from approvals.ports import JobName, NoticeKind
from approvals.redis_store import RedisRequestStore
from approvals.testing import InMemoryJobQueue
from tests.approvals import demo
from tests.approvals.conftest import Harness

ALEX, MEGAN, LEE, ADELE = (
    demo.ALEX.object_id,
    demo.MEGAN.object_id,
    demo.LEE.object_id,
    demo.ADELE.object_id,
)


class ProcessDied(Exception):
    """The process stops here: nothing after this point of the step runs."""


class DyingJobQueue(InMemoryJobQueue):
    """Dies on the next `deaths` enqueues: a bot or worker killed after storing a change and
    before queueing its job."""

    def __init__(self) -> None:
        super().__init__()
        self.deaths = 0

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if self.deaths:
            self.deaths -= 1
            raise ProcessDied
        await super().enqueue(job, request_id, delay_seconds=delay_seconds)


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield Harness(jobs=DyingJobQueue())
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield Harness(store=RedisRequestStore(client), jobs=DyingJobQueue())
    finally:
        await client.aclose()


def dying(harness: Harness) -> DyingJobQueue:
    assert isinstance(harness.jobs, DyingJobQueue)
    return harness.jobs


async def ask_and_die(harness: Harness, *, auto_approved: str = "") -> ApprovalRequest:
    """Alex asks; the process dies right after the request is stored."""
    dying(harness).deaths = 1
    with pytest.raises(ProcessDied):
        await harness.ask(auto_approved=auto_approved, run_jobs=False)
    request = await harness.service.open_request(
        ALEX, demo.FINANCE_EMEA.object_id, RequestKind.JOIN
    )
    assert request is not None and harness.jobs.pending() == []
    return request


async def test_cards_lost_with_a_dying_process_are_delivered_by_the_sweep(
    harness: Harness,
) -> None:
    await ask_and_die(harness)
    harness.clock.advance(seconds=61)

    assert await harness.service.resume_stalled() == 1
    assert harness.jobs.names() == [JobName.DELIVER_CARDS]
    await harness.run_jobs()

    assert harness.notifier.carded() == [MEGAN, LEE]
    assert harness.notifier.notices_to(ALEX) == [NoticeKind.SUBMITTED]


async def test_a_resumed_request_is_carried_out_exactly_once_however_often_the_sweep_runs(
    harness: Harness,
) -> None:
    request = await ask_and_die(harness)
    for _ in range(3):
        harness.clock.advance(seconds=61)
        await harness.service.resume_stalled()
        await harness.run_jobs()
    await harness.service.decide(request.id, demo.MEGAN, approve=True)
    for _ in range(3):
        await harness.run_jobs()
        harness.clock.advance(seconds=61)
        await harness.service.resume_stalled()

    assert (await harness.service.get(request.id)).status is RequestStatus.COMPLETED
    assert harness.writer.calls == [(demo.FINANCE_EMEA, demo.ALEX)]
    assert harness.notifier.carded() == [MEGAN, LEE]
    assert harness.notifier.notices_to(ALEX).count(NoticeKind.COMPLETED) == 1
    assert harness.events().count("executed") == 1


async def test_an_auto_approved_request_whose_execution_was_lost_is_carried_out_once(
    harness: Harness,
) -> None:
    request = await ask_and_die(harness, auto_approved="open list")
    harness.clock.advance(seconds=61)

    assert await harness.service.resume_stalled() == 1
    assert harness.jobs.names() == [JobName.EXECUTE]
    await harness.run_jobs()

    assert (await harness.service.get(request.id)).status is RequestStatus.COMPLETED
    assert harness.writer.calls == [(demo.FINANCE_EMEA, demo.ALEX)]


async def test_an_approval_whose_execution_was_lost_is_carried_out_once(
    harness: Harness,
) -> None:
    request = await harness.ask()
    dying(harness).deaths = 1
    with pytest.raises(ProcessDied):
        await harness.service.decide(request.id, demo.LEE, approve=True)
    assert (await harness.service.get(request.id)).status is RequestStatus.APPROVED
    harness.clock.advance(seconds=61)

    assert await harness.service.resume_stalled() == 1
    await harness.run_jobs()

    assert (await harness.service.get(request.id)).status is RequestStatus.COMPLETED
    assert harness.writer.calls == [(demo.FINANCE_EMEA, demo.ALEX)]


async def test_a_request_is_left_alone_until_it_is_older_than_the_threshold(
    harness: Harness,
) -> None:
    await ask_and_die(harness)

    harness.clock.advance(seconds=59)
    assert await harness.service.resume_stalled(older_than_seconds=60) == 0
    assert harness.jobs.enqueued == []
    harness.clock.advance(seconds=2)
    assert await harness.service.resume_stalled(older_than_seconds=60) == 1


async def test_a_pending_request_whose_cards_are_out_is_left_alone(harness: Harness) -> None:
    await harness.ask()
    before = (len(harness.jobs.ran), len(harness.notifier.cards), len(harness.notifier.notices))
    harness.clock.advance(hours=1)

    assert await harness.service.resume_stalled() == 0
    await harness.run_jobs()

    after = (len(harness.jobs.ran), len(harness.notifier.cards), len(harness.notifier.notices))
    assert after == before


async def test_a_request_nobody_could_be_reached_for_is_not_delivered_or_alerted_again(
    harness: Harness,
) -> None:
    harness.notifier.unreachable |= {MEGAN, LEE, ADELE}
    await harness.ask()
    assert len(harness.notifier.alerts) == 1
    ran = len(harness.jobs.ran)
    harness.clock.advance(hours=1)

    assert await harness.service.resume_stalled() == 0
    await harness.run_jobs()

    assert len(harness.jobs.ran) == ran
    assert len(harness.notifier.alerts) == 1
    assert harness.events().count("unreachable") == 1


async def test_a_request_whose_job_is_only_slow_gets_it_once(harness: Harness) -> None:
    await harness.ask(run_jobs=False)  # its delivery is queued, and no worker ran it yet
    harness.clock.advance(seconds=61)

    await harness.service.resume_stalled()
    await harness.run_jobs()

    assert [q.job for q in harness.jobs.ran] == [JobName.DELIVER_CARDS]
    assert harness.notifier.carded() == [MEGAN, LEE]


async def test_a_resumed_request_is_not_queued_again_while_it_waits_for_its_job(
    harness: Harness,
) -> None:
    await ask_and_die(harness)
    harness.clock.advance(seconds=61)
    assert await harness.service.resume_stalled() == 1

    harness.clock.advance(seconds=61)

    assert await harness.service.resume_stalled() == 0


async def test_a_lost_job_is_found_behind_more_than_a_page_of_requests_awaiting_a_decision(
    harness: Harness,
) -> None:
    for n in range(150):
        await harness.ask(requester=demo.person(f"waiting-{n:03}", f"Waiting {n}", ""))
    harness.clock.advance(hours=1)
    await ask_and_die(harness)
    harness.clock.advance(seconds=61)

    assert await harness.service.resume_stalled() == 1
    assert harness.jobs.names() == [JobName.DELIVER_CARDS]
