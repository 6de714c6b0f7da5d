"""Owner access reviews on real saq: two workers on one real Redis, the sandbox tenant over
loopback HTTPS as Exchange, the clock moved months ahead with time-machine. Two processes run
the daily start at once and one review starts; the owner removes Grady and the removal job,
queued again as a retry would, removes him exactly once; the next review, unanswered, is
reminded once and escalated once to the fallback approver, whichever worker runs the timers."""

from __future__ import annotations

import asyncio
import contextlib
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
from approvals.ports import JobName
from approvals.redis_store import RedisRequestStore
from approvals.review_exchange import ExchangeReviewFacts
from approvals.review_service import ReviewPolicy, ReviewService
from approvals.review_store import RedisReviewStore
from approvals.reviews import Choice, Review
from approvals.service import ApprovalService
from approvals.testing import InMemoryNotifier, StaticApprovers
from bot.jobs import QUEUE_NAME, JobBody, SaqJobQueue
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

    def services(self, queue: Queue) -> tuple[ApprovalService, ReviewService]:
        """One process's services: its own Redis stores and job queue, one Redis, one tenant."""
        jobs = SaqJobQueue(queue)
        approvals = ApprovalService(
            store=RedisRequestStore(self.client),
            approvers=self.approvers,
            notifier=InMemoryNotifier(),
            jobs=jobs,
            writer=ExchangeMembershipWriter(self.exchange),
            audit=RedisStreamAudit(self.client),
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

    async def events(self, action: AuditAction) -> int:
        events = await RedisStreamAudit(self.client).read()
        return sum(1 for e in events if e.event == action.value)


@contextlib.asynccontextmanager
async def two_workers(tenant: Tenant) -> AsyncIterator[list[ReviewService]]:
    queues = [Queue.from_url(tenant.redis_url, name=QUEUE_NAME) for _ in range(2)]
    specs: list[tuple[Queue, Bodies, list[CronJob[Any]]]] = []
    services: list[ReviewService] = []
    for queue in queues:
        approvals, reviews = tenant.services(queue)
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
