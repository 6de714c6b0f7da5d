"""Time-boxed membership on real saq: two workers on one real Redis, the sandbox tenant over
loopback HTTPS as Exchange, the clock moved weeks ahead with time-machine, and both workers
replaced by two new ones half way. A 30-day membership is prompted 7 days and 1 day before its
end, renewed, prompted again in its new term, and removed at the new end: the sandbox sees
Remove-DistributionGroupMember exactly once, and the old term's end does nothing."""

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
from approvals.grant_service import GrantService
from approvals.grant_store import RedisGrantStore
from approvals.grants import Grant, GrantStatus
from approvals.models import RequestKind
from approvals.ports import JobName
from approvals.redis_store import RedisRequestStore
from approvals.service import ApprovalService
from approvals.testing import InMemoryNotifier, StaticApprovers
from bot.jobs import QUEUE_NAME, JobBody, SaqJobQueue, sweep_job
from exchange.client import ExchangeClient
from exchange.sandbox.server import SandboxServer
from tests.approvals import demo
from tests.approvals.grant_world import GrantNotices
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
    notifier: InMemoryNotifier
    notices: GrantNotices
    approvers: StaticApprovers
    sweeps: int = 0

    def services(self, queue: Queue) -> tuple[ApprovalService, GrantService]:
        """One process's services: its own Redis stores and job queue, one Redis, one tenant."""
        jobs = SaqJobQueue(queue)
        approvals = ApprovalService(
            store=RedisRequestStore(self.client),
            approvers=self.approvers,
            notifier=self.notifier,
            jobs=jobs,
            writer=ExchangeMembershipWriter(self.exchange),
            audit=RedisStreamAudit(self.client),
        )
        grants = GrantService(
            store=RedisGrantStore(self.client),
            approvals=approvals,
            jobs=jobs,
            notifier=self.notices,
            audit=RedisStreamAudit(self.client),
        )
        return approvals, grants

    def removals(self) -> int:
        return sum(1 for r in self.sandbox.requests if r.cmdlet == REMOVE)

    def is_member(self) -> bool:
        members = self.sandbox.tenant.group_snapshot("finance-emea")["members"]
        return any(m["primary_smtp_address"] == demo.ALEX.address for m in members)

    async def events(self, action: AuditAction) -> int:
        events = await RedisStreamAudit(self.client).read()
        return sum(1 for e in events if e.event == action.value)


@contextlib.asynccontextmanager
async def two_workers(tenant: Tenant) -> AsyncIterator[Queue]:
    queues = [Queue.from_url(tenant.redis_url, name=QUEUE_NAME) for _ in range(2)]
    specs: list[tuple[Queue, Bodies, list[CronJob[Any]]]] = []
    for queue in queues:
        approvals, grants = tenant.services(queue)

        async def sweep(
            approvals: ApprovalService = approvals, grants: GrantService = grants
        ) -> int:
            resumed = await approvals.resume_stalled() + await grants.resume_overdue()
            tenant.sweeps += 1
            return resumed

        def bodies(
            ctx: dict[str, Any],
            approvals: ApprovalService = approvals,
            grants: GrantService = grants,
        ) -> dict[JobName, JobBody]:
            return {
                JobName.DELIVER_CARDS: approvals.deliver_cards,
                JobName.EXECUTE: approvals.execute,
                JobName.UPDATE_CARDS: approvals.update_cards,
                JobName.REMIND: approvals.lifecycle.remind,
                JobName.ESCALATE: approvals.lifecycle.escalate,
                JobName.EXPIRE: approvals.lifecycle.expire,
                JobName.GRANT_PROMPT: grants.prompt,
                JobName.GRANT_END: grants.end,
            }

        specs.append((queue, bodies, [sweep_job(sweep)]))
    async with running(specs):
        yield queues[0]


async def test_prompts_renewal_and_one_removal_at_the_new_end_with_two_workers_and_a_restart(
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
        notifier=InMemoryNotifier(),
        notices=GrantNotices(),
        approvers=StaticApprovers(
            owners={demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN),)}
        ),
    )
    told = tenant.notices.what

    async def grant() -> Grant | None:
        found = await RedisGrantStore(store).of_member(demo.ALEX.object_id, 1)
        return found[0] if found else None

    def saying(*what: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return told() == list(what)

        return check

    async def swept(queue: Queue) -> None:
        """Minutes pass until the per-minute sweep has run; nothing may happen twice."""
        before = tenant.sweeps
        traveller.shift(timedelta(minutes=2))

        async def ran() -> bool:
            if tenant.sweeps > before:
                return True
            await asyncio.sleep(1)
            traveller.shift(timedelta(minutes=1))
            return False

        await until(ran)
        await settled(queue)

    try:
        with time_machine.travel(START, tick=True) as traveller:
            async with two_workers(tenant) as queue:
                bot = Queue.from_url(redis_url, name=QUEUE_NAME)
                try:
                    approvals, grants = tenant.services(bot)
                    asked = await approvals.submit(
                        kind=RequestKind.JOIN,
                        requester=demo.ALEX,
                        group=demo.FINANCE_EMEA,
                        justification="Apollo launch",
                        membership_days=30,
                    )
                    await approvals.decide(asked.request.id, demo.MEGAN, approve=True)
                finally:
                    await bot.disconnect()
                await until(saying("granted"))
                assert tenant.is_member()
                await swept(queue)

                traveller.shift(timedelta(days=23))
                await until(saying("granted", "prompt 7"))
                traveller.shift(timedelta(days=6))
                await until(saying("granted", "prompt 7", "prompt 1"))
                await swept(queue)

                # Renewed on the last day, at once (as on an open list; renewing through the
                # owners is the JOIN path of the first ask, tests/approvals/test_grant_service).
                bot = Queue.from_url(redis_url, name=QUEUE_NAME)
                try:
                    current = await grant()
                    assert current is not None
                    await tenant.services(bot)[1].renew(current.id, demo.ALEX, at_once="open list")
                finally:
                    await bot.disconnect()

            # Both workers stop; two new ones start, knowing nothing but what Redis holds.
            async with two_workers(tenant) as queue:
                traveller.shift(timedelta(days=1, hours=1))  # the first term's end passes
                await swept(queue)
                assert tenant.is_member() and tenant.removals() == 0

                traveller.shift(timedelta(days=23))  # the new term ends on day 60
                await until(saying("granted", "prompt 7", "prompt 1", "prompt 7"))
                traveller.shift(timedelta(days=6))
                await until(saying("granted", "prompt 7", "prompt 1", "prompt 7", "prompt 1"))
                traveller.shift(timedelta(days=1))

                async def removed() -> bool:
                    current = await grant()
                    return current is not None and current.status is GrantStatus.ENDED

                await until(removed)
                await settled(queue)
                assert not tenant.is_member()
                assert told()[-1] == "ended"

                traveller.shift(timedelta(days=30))
                await swept(queue)
                assert tenant.removals() == 1
                assert told().count("ended") == 1
                assert await tenant.events(AuditAction.RENEWAL_PROMPTED) == 4
                assert await tenant.events(AuditAction.RENEWED) == 1
                assert await tenant.events(AuditAction.MEMBERSHIP_ENDED) == 1
    finally:
        await store.aclose()
