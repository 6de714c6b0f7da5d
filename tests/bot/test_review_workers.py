"""Owner access reviews on real saq: two workers on one real Redis, the sandbox tenant over
loopback HTTPS as Exchange, the clock moved months ahead with time-machine. Two processes run
the daily start at once and one review starts; the owner removes Grady and the removal job,
queued again as a retry would, removes him exactly once; the next review, unanswered, is
reminded once and escalated once to the fallback approver, whichever worker runs the timers.
A review nobody finishes closes once, whichever worker runs its close (or, its close job lost
with the process that started it, whichever restarted worker's sweep finds it overdue): no
Exchange write but the removals owners chose before it closed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as redis
import time_machine
from saq import CronJob, Queue

from approvals.audit import AuditAction, RedisStreamAudit
from approvals.exchange_adapters import ExchangeMembershipWriter
from approvals.models import RequestKind
from approvals.ports import JobName, JobQueue
from approvals.redis_store import RedisRequestStore
from approvals.redraws import RedisRedrawLedger
from approvals.review_exchange import ExchangeReviewFacts
from approvals.review_service import ReviewPolicy, ReviewService
from approvals.review_store import RedisReviewStore
from approvals.reviews import Choice, Review
from approvals.service import ApprovalService
from approvals.testing import InMemoryNotifier, StaticApprovers
from bot.admin_command import export_audit
from bot.jobs import QUEUE_NAME, JobBody, SaqJobQueue, job_key
from exchange.client import ExchangeClient
from exchange.sandbox.server import SandboxServer
from tests.approvals import demo
from tests.approvals.review_world import ReviewCards
from tests.bot.saq_workers import Bodies, running, settled, until
from tests.exchange.conftest import (  # noqa: F401 - fixtures
    ConfigFactory,
    client,
    make_config,
    sandbox,
    sandbox_state_dir,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REMOVE = "Remove-DistributionGroupMember"


@dataclass
class Tenant:
    redis_url: str
    client: redis.Redis
    exchange: ExchangeClient
    sandbox: SandboxServer
    cards: ReviewCards
    approvers: StaticApprovers

    def services(
        self, queue: Queue, lose: frozenset[JobName] = frozenset()
    ) -> tuple[ApprovalService, ReviewService]:
        """One process's services: its own Redis stores and job queue, one Redis, one tenant;
        the jobs named in `lose` are never queued (the process dies before queueing them)."""
        jobs: JobQueue = LosingJobs(SaqJobQueue(queue), lose) if lose else SaqJobQueue(queue)
        approvals = ApprovalService(
            store=RedisRequestStore(self.client),
            approvers=self.approvers,
            notifier=InMemoryNotifier(),
            jobs=jobs,
            writer=ExchangeMembershipWriter(self.exchange),
            audit=RedisStreamAudit(self.client),
            redraws=RedisRedrawLedger(self.client),
        )
        reviews = ReviewService(
            store=RedisReviewStore(self.client),
            approvals=approvals,
            approvers=self.approvers,
            jobs=jobs,
            notifier=self.cards,
            audit=RedisStreamAudit(self.client),
            facts=ExchangeReviewFacts(self.exchange),
            policy=ReviewPolicy(every_days=90),
        )
        return approvals, reviews

    def is_member(self, address: str) -> bool:
        members = self.sandbox.tenant.group_snapshot("finance-emea")["members"]
        return any(m["primary_smtp_address"] == address for m in members)

    def removals(self) -> int:
        return sum(1 for r in self.sandbox.requests if r.cmdlet == REMOVE)

    def writes(self) -> int:
        return sum(1 for r in self.sandbox.requests if r.cmdlet and not r.cmdlet.startswith("Get-"))

    async def events(self, action: AuditAction) -> int:
        events = await RedisStreamAudit(self.client).read()
        return sum(1 for e in events if e.event == action.value)


@dataclass
class LosingJobs:
    """A JobQueue that never queues the jobs in `lose`, as a process dying right after storing
    a review would not."""

    jobs: JobQueue
    lose: frozenset[JobName]

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if job not in self.lose:
            await self.jobs.enqueue(job, request_id, delay_seconds=delay_seconds)


@contextlib.asynccontextmanager
async def two_workers(
    tenant: Tenant, lose: frozenset[JobName] = frozenset()
) -> AsyncIterator[list[ReviewService]]:
    queues = [Queue.from_url(tenant.redis_url, name=QUEUE_NAME) for _ in range(2)]
    specs: list[tuple[Queue, Bodies, list[CronJob[Any]]]] = []
    services: list[ReviewService] = []
    for queue in queues:
        approvals, reviews = tenant.services(queue, lose)
        services.append(reviews)

        def bodies(
            ctx: dict[str, Any],
            approvals: ApprovalService = approvals,
            reviews: ReviewService = reviews,
        ) -> dict[JobName, JobBody]:
            return {
                JobName.DELIVER_CARDS: approvals.deliver_cards,
                JobName.EXECUTE: approvals.execute,
                JobName.UPDATE_CARDS: approvals.update_cards,
                JobName.REMIND: approvals.lifecycle.remind,
                JobName.ESCALATE: approvals.lifecycle.escalate,
                JobName.EXPIRE: approvals.lifecycle.expire,
                JobName.REVIEW_CARDS: reviews.deliver_cards,
                JobName.REVIEW_UPDATE: reviews.update_cards,
                JobName.REVIEW_REMIND: reviews.remind,
                JobName.REVIEW_ESCALATE: reviews.escalate,
                JobName.REVIEW_REMOVE: reviews.remove,
                JobName.REVIEW_CLOSE: reviews.close,
            }

        specs.append((queue, bodies, []))
    async with running(specs):
        yield services


async def settled_on(redis_url: str) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    try:
        await settled(queue)
    finally:
        await queue.disconnect()


async def test_one_start_one_removal_and_one_reminder_and_escalation_with_two_workers(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
) -> None:
    store = redis.Redis.from_url(redis_url)
    tenant = Tenant(
        redis_url=redis_url,
        client=store,
        exchange=client,
        sandbox=sandbox,
        cards=ReviewCards(),
        approvers=StaticApprovers(
            owners={demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN),)},
            fallback=(demo.approver(demo.ADELE, "fallback"),),
        ),
    )
    reviews = RedisReviewStore(store)

    def carded(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(tenant.cards.posted) >= count

        return check

    async def latest() -> Review:
        found = await reviews.latest(demo.FINANCE_EMEA.object_id)
        assert found is not None
        return found

    try:
        with time_machine.travel(START, tick=True) as traveller:
            async with two_workers(tenant) as (first_worker, second_worker):
                bot = Queue.from_url(redis_url, name=QUEUE_NAME)
                try:
                    approvals, service = tenant.services(bot)
                    for person in (demo.ALEX, demo.GRADY):
                        await approvals.submit(
                            kind=RequestKind.JOIN,
                            requester=person,
                            group=demo.FINANCE_EMEA,
                            auto_approved="requester owns the list",
                        )

                    async def both_added() -> bool:
                        return tenant.is_member(demo.ALEX.address) and tenant.is_member(
                            demo.GRADY.address
                        )

                    await until(both_added)
                    await settled_on(redis_url)

                    traveller.shift(timedelta(days=90, minutes=1))
                    started = await asyncio.gather(
                        first_worker.start_due(), second_worker.start_due()
                    )
                    assert sorted(started) == [0, 1]
                    await until(carded(1))
                    review = await latest()
                    assert [m.object_id for m in review.members] == [
                        demo.ALEX.object_id,
                        demo.GRADY.object_id,
                    ]

                    await service.decide(
                        review.id, demo.MEGAN, {0: Choice.KEEP, 1: Choice.REMOVE}, finish=True
                    )

                    async def grady_gone() -> bool:
                        return not tenant.is_member(demo.GRADY.address)

                    await until(grady_gone)
                    await settled_on(redis_url)
                    for _ in range(2):  # as a retry, or a second worker's run, would
                        await SaqJobQueue(bot).enqueue(JobName.REVIEW_REMOVE, review.id)
                    await settled_on(redis_url)
                    assert tenant.removals() == 1
                    assert tenant.is_member(demo.ALEX.address)

                    # The next round, unanswered.
                    traveller.shift(timedelta(days=90))
                    started = await asyncio.gather(
                        first_worker.start_due(), second_worker.start_due()
                    )
                    assert sorted(started) == [0, 1]
                    await until(carded(2))
                    traveller.shift(timedelta(days=3, minutes=1))
                    await until(carded(3))
                    traveller.shift(timedelta(days=4))
                    await until(carded(4))
                    await settled_on(redis_url)
                    traveller.shift(timedelta(days=30))
                    await settled_on(redis_url)
                finally:
                    await bot.disconnect()

        assert tenant.cards.to() == [
            (demo.MEGAN.object_id, False),
            (demo.MEGAN.object_id, False),
            (demo.MEGAN.object_id, True),
            (demo.ADELE.object_id, True),
        ]
        assert await tenant.events(AuditAction.REVIEW_STARTED) == 2
        assert await tenant.events(AuditAction.REVIEW_COMPLETED) == 1
        assert await tenant.events(AuditAction.REVIEW_REMINDED) == 1
        assert await tenant.events(AuditAction.REVIEW_ESCALATED) == 1
    finally:
        await store.aclose()


def a_tenant(redis_url: str, sandbox: SandboxServer, client: ExchangeClient) -> Tenant:  # noqa: F811
    return Tenant(
        redis_url=redis_url,
        client=redis.Redis.from_url(redis_url),
        exchange=client,
        sandbox=sandbox,
        cards=ReviewCards(),
        approvers=StaticApprovers(
            owners={demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN),)},
            fallback=(demo.approver(demo.ADELE, "fallback"),),
        ),
    )


async def review_of_alex_and_grady(
    tenant: Tenant, traveller: time_machine.Coordinates, workers: list[ReviewService]
) -> Review:
    """Alex and Grady join through the bot; 90 days on, both workers' daily runs start one
    review of them, and Megan gets its card."""
    bot = Queue.from_url(tenant.redis_url, name=QUEUE_NAME)
    try:
        approvals, _ = tenant.services(bot)
        for person in (demo.ALEX, demo.GRADY):
            await approvals.submit(
                kind=RequestKind.JOIN,
                requester=person,
                group=demo.FINANCE_EMEA,
                auto_approved="requester owns the list",
            )

        async def both_added() -> bool:
            return tenant.is_member(demo.ALEX.address) and tenant.is_member(demo.GRADY.address)

        await until(both_added)
        await settled(bot)
    finally:
        await bot.disconnect()
    traveller.shift(timedelta(days=90, minutes=1))
    assert sorted(await asyncio.gather(*(w.start_due() for w in workers))) == [0, 1]
    await until(carded(tenant, 1))
    review = await RedisReviewStore(tenant.client).latest(demo.FINANCE_EMEA.object_id)
    assert review is not None
    return review


def carded(tenant: Tenant, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(tenant.cards.posted) >= count

    return check


def closed(tenant: Tenant, review_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        review = await RedisReviewStore(tenant.client).get(review_id)
        return review is not None and review.closed_unanswered

    return check


async def test_an_unanswered_review_closes_once_without_a_write_after_a_restart_lost_its_job(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
) -> None:
    tenant = a_tenant(redis_url, sandbox, client)
    try:
        with time_machine.travel(START, tick=True) as traveller:
            # The first workers die before queueing the close (as a process killed between
            # storing the review and queueing its job would).
            async with two_workers(tenant, lose=frozenset({JobName.REVIEW_CLOSE})) as workers:
                review = await review_of_alex_and_grady(tenant, traveller, workers)
                traveller.shift(timedelta(days=3, minutes=1))
                await until(carded(tenant, 2))  # Megan reminded
                traveller.shift(timedelta(days=4))
                await until(carded(tenant, 3))  # Adele asked
                await settled_on(redis_url)
            writes = tenant.writes()
            traveller.shift(timedelta(days=7, minutes=5))  # the close is overdue

            async with two_workers(tenant) as (first_worker, second_worker):
                # Both restarted workers' sweeps find it at once; the close job is keyed per
                # review and claimed by compare-and-set.
                swept = await asyncio.gather(
                    first_worker.resume_stalled(), second_worker.resume_stalled()
                )
                assert sum(swept) >= 1
                await until(closed(tenant, review.id))
                await settled_on(redis_url)
                # Run again, as a retry, a duplicate or a later sweep would.
                await asyncio.gather(first_worker.close(review.id), second_worker.close(review.id))
                await first_worker.resume_stalled()
                await settled_on(redis_url)

        final = await RedisReviewStore(tenant.client).get(review.id)
        assert final is not None and final.closed_unanswered and final.decisions == ()
        assert tenant.writes() == writes  # nobody undecided is removed
        assert tenant.is_member(demo.ALEX.address) and tenant.is_member(demo.GRADY.address)
        assert [(r.id, told) for r, told in tenant.cards.closed] == [
            (review.id, (demo.ADELE.object_id,))
        ]
        drawn = tenant.cards.last_drawn()
        assert len(drawn) == len(final.cards) == 3
        assert all(r.closed_unanswered for r in drawn.values())
        assert await tenant.events(AuditAction.REVIEW_CLOSED_UNANSWERED) == 1
        assert await tenant.events(AuditAction.REVIEW_REMINDED) == 1
        assert await tenant.events(AuditAction.REVIEW_ESCALATED) == 1
        exported = io.StringIO()  # what `dlbot audit export` writes
        await export_audit(RedisStreamAudit(tenant.client), exported)
        [line] = [
            json.loads(line)
            for line in exported.getvalue().splitlines()
            if json.loads(line)["event"] == "review_closed_unanswered"
        ]
        assert (line["request_id"], line["kind"], line["result"]) == (
            review.id,
            "review",
            "kept 2, removed 0",
        )
    finally:
        await tenant.client.aclose()


async def test_a_partly_decided_review_closes_once_with_only_the_decided_removal_made(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
) -> None:
    tenant = a_tenant(redis_url, sandbox, client)
    try:
        with time_machine.travel(START, tick=True) as traveller:
            async with two_workers(tenant) as (first_worker, second_worker):
                review = await review_of_alex_and_grady(
                    tenant, traveller, [first_worker, second_worker]
                )
                # Megan marks Grady Remove, leaves Alex undecided, and never finishes.
                await first_worker.decide(review.id, demo.MEGAN, {1: Choice.REMOVE})
                traveller.shift(timedelta(days=3, minutes=1))
                await until(carded(tenant, 2))
                traveller.shift(timedelta(days=4))
                await until(carded(tenant, 3))
                await settled_on(redis_url)
                assert tenant.removals() == 0
                traveller.shift(timedelta(days=7))  # the scheduled close falls due

                await until(closed(tenant, review.id))

                async def grady_gone() -> bool:
                    return not tenant.is_member(demo.GRADY.address)

                await until(grady_gone)
                await settled_on(redis_url)
                for job in (JobName.REVIEW_CLOSE, JobName.REVIEW_REMOVE):
                    bot = Queue.from_url(redis_url, name=QUEUE_NAME)
                    try:
                        await SaqJobQueue(bot).enqueue(job, review.id)  # as a retry would
                    finally:
                        await bot.disconnect()
                await settled_on(redis_url)

        assert tenant.removals() == 1
        assert tenant.is_member(demo.ALEX.address)
        assert len(tenant.cards.closed) == 1
        assert await tenant.events(AuditAction.REVIEW_CLOSED_UNANSWERED) == 1
        assert await tenant.events(AuditAction.REVIEW_COMPLETED) == 0
    finally:
        await tenant.client.aclose()


def restarted_with(workers: list[ReviewService], close_days: int) -> None:
    """The workers restarted with DLBOT_REVIEW_CLOSE_DAYS set to `close_days`."""
    for worker in workers:
        worker.policy = ReviewPolicy(every_days=90, close_after=timedelta(days=close_days))


async def test_close_days_raised_after_the_close_was_queued_close_it_at_the_new_time(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
) -> None:
    tenant = a_tenant(redis_url, sandbox, client)
    try:
        with time_machine.travel(START, tick=True) as traveller:
            async with two_workers(tenant) as workers:  # closing 7 days after escalation
                review = await review_of_alex_and_grady(tenant, traveller, workers)
                await settled_on(redis_url)
            async with two_workers(tenant) as workers:
                restarted_with(workers, 10)
                traveller.shift(timedelta(days=14, minutes=1))  # the old close time
                await until(carded(tenant, 3))  # reminded, escalated to Adele
                await settled_on(redis_url)
                waiting = await RedisReviewStore(tenant.client).get(review.id)
                assert waiting is not None and waiting.is_open
                due = math.ceil((review.started_at + timedelta(days=17)).timestamp())
                bot = Queue.from_url(redis_url, name=QUEUE_NAME)
                try:  # the old close job queued the close again, for its new time
                    assert await bot.job(job_key(JobName.REVIEW_CLOSE, review.id, due))
                finally:
                    await bot.disconnect()
                traveller.shift(timedelta(days=3))
                await until(closed(tenant, review.id))
                await settled_on(redis_url)

        final = await RedisReviewStore(tenant.client).get(review.id)
        assert final is not None and final.completed_at is not None
        assert final.completed_at - final.started_at >= timedelta(days=17)
        assert len(tenant.cards.closed) == 1
        assert await tenant.events(AuditAction.REVIEW_CLOSED_UNANSWERED) == 1
    finally:
        await tenant.client.aclose()


async def test_close_days_lowered_after_the_close_was_queued_close_it_when_the_sweep_finds_it(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
) -> None:
    tenant = a_tenant(redis_url, sandbox, client)
    try:
        with time_machine.travel(START, tick=True) as traveller:
            async with two_workers(tenant) as workers:  # closing 7 days after escalation
                review = await review_of_alex_and_grady(tenant, traveller, workers)
                await settled_on(redis_url)
            async with two_workers(tenant) as workers:
                restarted_with(workers, 2)
                traveller.shift(timedelta(days=9, minutes=5))  # due 9 days after the start
                await until(carded(tenant, 3))
                await settled_on(redis_url)
                # The close job queued for day 14 still waits; the sweep's is a job of its own.
                assert await workers[0].resume_stalled() == 1
                await until(closed(tenant, review.id))
                traveller.shift(timedelta(days=5))  # the old close job fires, and finds it closed
                await settled_on(redis_url)

        assert len(tenant.cards.closed) == 1
        assert await tenant.events(AuditAction.REVIEW_CLOSED_UNANSWERED) == 1
    finally:
        await tenant.client.aclose()
