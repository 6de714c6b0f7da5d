"""Time-boxed membership on real saq: two workers on one real Redis, the sandbox tenant over
loopback HTTPS as Exchange, the clock moved weeks ahead with time-machine, and both workers
replaced by two new ones half way. A 30-day membership is prompted 7 days and 1 day before its
end, renewed, prompted again in its new term, and removed at the new end: the sandbox sees
Remove-DistributionGroupMember exactly once, and the old term's end does nothing. An admin's
`dlbot requests cancel` of the removal keeps the member for good; a prompt Teams failed to take
is retried by saq with backoff (time moved past each delay) and delivered once, or given up
after its last attempt, loudly, while the last day's prompt still goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis
import time_machine
from saq import CronJob, Queue

from approvals.audit import AuditAction, RedisStreamAudit
from approvals.exchange_adapters import ExchangeMembershipWriter
from approvals.grant_service import PROMPT_ATTEMPTS, GrantService
from approvals.grant_store import RedisGrantStore
from approvals.grants import Grant, GrantStatus
from approvals.models import ADMIN_CANCEL_ACTOR, RequestKind
from approvals.ports import JobName
from approvals.redis_store import RedisRequestStore
from approvals.redraws import RedisRedrawLedger
from approvals.service import ApprovalService
from approvals.testing import InMemoryNotifier, StaticApprovers
from bot.admin_command import EXIT_OK, cancel_request
from bot.jobs import QUEUE_NAME, RETRY_PLANS, JobBody, RetryPlan, SaqJobQueue, sweep_job
from exchange.client import ExchangeClient
from exchange.sandbox.faults import Fault
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
            redraws=RedisRedrawLedger(self.client),
        )
        grants = GrantService(
            store=RedisGrantStore(self.client),
            approvals=approvals,
            jobs=jobs,
            notifier=self.notices,
            audit=RedisStreamAudit(self.client),
        )
        return approvals, grants

    def admin(self, queue: Queue) -> ApprovalService:
        """The workflow as `dlbot requests cancel` builds it: no grant service attached."""
        return ApprovalService(
            store=RedisRequestStore(self.client),
            approvers=self.approvers,
            notifier=self.notifier,
            jobs=SaqJobQueue(queue),
            writer=ExchangeMembershipWriter(self.exchange),
            audit=RedisStreamAudit(self.client),
            redraws=RedisRedrawLedger(self.client),
        )

    def removals(self) -> int:
        return sum(1 for r in self.sandbox.requests if r.cmdlet == REMOVE)

    def removed(self) -> int:
        """Removals Exchange carried out (not those a fault turned away)."""
        return sum(
            1
            for r in self.sandbox.requests
            if r.cmdlet == REMOVE and r.fault is None and r.status == 200
        )

    def is_member(self) -> bool:
        members = self.sandbox.tenant.group_snapshot("finance-emea")["members"]
        return any(m["primary_smtp_address"] == demo.ALEX.address for m in members)

    async def events(self, action: AuditAction) -> int:
        events = await RedisStreamAudit(self.client).read()
        return sum(1 for e in events if e.event == action.value)

    async def grant(self) -> Grant | None:
        found = await RedisGrantStore(self.client).of_member(demo.ALEX.object_id, 1)
        return found[0] if found else None

    async def join_for(self, days: int) -> None:
        """Alex asks to join for `days`, and Megan approves, from a bot process of its own."""
        bot = Queue.from_url(self.redis_url, name=QUEUE_NAME)
        try:
            approvals, _ = self.services(bot)
            asked = await approvals.submit(
                kind=RequestKind.JOIN,
                requester=demo.ALEX,
                group=demo.FINANCE_EMEA,
                justification="Apollo launch",
                membership_days=days,
            )
            await approvals.decide(asked.request.id, demo.MEGAN, approve=True)
        finally:
            await bot.disconnect()


def a_tenant(
    redis_url: str, store: redis.Redis, exchange: ExchangeClient, tenant: SandboxServer
) -> Tenant:
    return Tenant(
        redis_url=redis_url,
        client=store,
        exchange=exchange,
        sandbox=tenant,
        notifier=InMemoryNotifier(),
        notices=GrantNotices(),
        approvers=StaticApprovers(
            owners={demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN),)}
        ),
    )


async def as_time_runs(
    traveller: time_machine.Coordinates, condition: Callable[[], Awaitable[bool]], step: timedelta
) -> None:
    """Until `condition`, time moves on by `step` each moment: past a retry's backoff, or
    to the next per-minute sweep."""

    async def reached() -> bool:
        if await condition():
            return True
        traveller.shift(step)
        await asyncio.sleep(0.5)
        return False

    await until(reached)


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


@contextlib.asynccontextmanager
async def joined_for_30_days(tenant: Tenant) -> AsyncIterator[tuple[Any, Queue]]:
    """The clock at START and running, two workers, and Alex a member for 30 days (told so);
    yields the clock's traveller and a queue."""
    with time_machine.travel(START, tick=True) as traveller:
        async with two_workers(tenant) as queue:
            await tenant.join_for(30)
            await until(lambda: _true(tenant.notices.what() == ["granted"]))
            yield traveller, queue


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


async def test_an_admin_cancelling_the_removal_keeps_the_member_for_good_and_nothing_ends_it(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
) -> None:
    store = redis.Redis.from_url(redis_url)
    tenant = a_tenant(redis_url, store, client, sandbox)
    told = tenant.notices.what
    try:
        async with joined_for_30_days(tenant) as (traveller, queue):
            # Exchange is down when the time runs out: the removal waits for a retry.
            sandbox.inject(Fault("unavailable", cmdlet=REMOVE))
            traveller.shift(timedelta(days=30, minutes=1))

            async def removal_tried() -> bool:
                current = await tenant.grant()
                return (
                    current is not None and current.end_request_id != "" and tenant.removals() > 0
                )

            await until(removal_tried)
            ending = await tenant.grant()
            assert ending is not None and ending.status is GrantStatus.ENDING

            # The admin runs `dlbot requests cancel <id>`: a process with no grant service.
            bot = Queue.from_url(redis_url, name=QUEUE_NAME)
            try:
                code = await cancel_request(
                    tenant.admin(bot), ending.end_request_id, "needed for the audit"
                )
            finally:
                await bot.disconnect()
            assert code == EXIT_OK
            await settled(queue)  # an attempt in flight ends on the fault
            sandbox.clear_faults()

            async def kept() -> bool:
                current = await tenant.grant()
                return current is not None and current.status is GrantStatus.KEPT

            await as_time_runs(traveller, kept, timedelta(minutes=1))
            await settled(queue)
            assert tenant.is_member() and tenant.removed() == 0
            # (The prompts, due in the same jump of time, may or may not beat the end.)
            assert told()[0] == "granted" and told()[-1] == "kept"
            assert told().count("kept") == 1
            events = await RedisStreamAudit(store).read()
            (event,) = [e for e in events if e.event == AuditAction.MEMBERSHIP_KEPT.value]
            assert event.request_id == ending.id and event.actor_id == ADMIN_CANCEL_ACTOR
            assert "needed for the audit" in event.detail

            # A week of sweeps and timers later, the member is still on the list.
            sweeps = tenant.sweeps
            traveller.shift(timedelta(days=7))
            await as_time_runs(
                traveller, lambda: _true(tenant.sweeps >= sweeps + 2), timedelta(minutes=1)
            )
            await settled(queue)
            assert tenant.is_member() and tenant.removed() == 0
            assert told().count("kept") == 1
            assert await tenant.events(AuditAction.MEMBERSHIP_KEPT) == 1
            assert await tenant.events(AuditAction.MEMBERSHIP_ENDED) == 0
    finally:
        await store.aclose()


async def test_a_prompt_the_connector_failed_three_times_is_retried_and_delivered_once(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
) -> None:
    store = redis.Redis.from_url(redis_url)
    tenant = a_tenant(redis_url, store, client, sandbox)
    tenant.notices.failing[7] = 3
    tries = tenant.notices.tries
    try:
        async with joined_for_30_days(tenant) as (traveller, queue):
            traveller.shift(timedelta(days=23))
            # Each retry waits its backoff (at most 30 minutes): time is moved past it.
            await as_time_runs(
                traveller,
                lambda: _true("prompt 7" in tenant.notices.what()),
                timedelta(minutes=31),
            )
            await settled(queue)
            traveller.shift(timedelta(hours=6))  # any retry still due would run now
            await settled(queue)
            assert tries.count(7) == 4
            assert tenant.notices.what() == ["granted", "prompt 7"]
            assert await tenant.events(AuditAction.RENEWAL_PROMPTED) == 1
            assert await tenant.events(AuditAction.RENEWAL_PROMPT_UNDELIVERED) == 0
    finally:
        await store.aclose()


async def test_a_prompt_failing_every_retry_is_audited_and_logged_and_the_last_days_still_goes(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = redis.Redis.from_url(redis_url)
    tenant = a_tenant(redis_url, store, client, sandbox)
    tenant.notices.failing[7] = 1000
    tries = tenant.notices.tries
    caplog.set_level(logging.WARNING, logger="approvals.grant_service")
    try:
        async with joined_for_30_days(tenant) as (traveller, queue):
            traveller.shift(timedelta(days=23))

            async def given_up() -> bool:
                return await tenant.events(AuditAction.RENEWAL_PROMPT_UNDELIVERED) == 1

            await as_time_runs(traveller, given_up, timedelta(minutes=31))
            await settled(queue)
            traveller.shift(timedelta(hours=6))  # saq's spare run would be due by now
            await settled(queue)
            assert tries.count(7) == PROMPT_ATTEMPTS
            events = await RedisStreamAudit(store).read()
            (event,) = [
                e for e in events if e.event == AuditAction.RENEWAL_PROMPT_UNDELIVERED.value
            ]
            assert event.result == "failed" and "Bot Connector unreachable" in event.detail
            warned = [r for r in caplog.records if "given up" in r.getMessage()]
            assert [r.levelno for r in warned] == [logging.WARNING]

            traveller.shift(timedelta(days=6))
            await until(lambda: _true(tenant.notices.what() == ["granted", "prompt 1"]))
            await settled(queue)
            assert tries.count(7) == PROMPT_ATTEMPTS
            assert await tenant.events(AuditAction.RENEWAL_PROMPTED) == 1
    finally:
        await store.aclose()


async def test_a_prompt_queued_with_the_old_shorter_retry_plan_is_given_up_on_its_last_run(
    redis_url: str,
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    client: ExchangeClient,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The plan renewal prompts were queued with before PROMPT_ATTEMPTS: fewer runs than that.
    old = RetryPlan(retries=8, retry_delay=2.0, max_delay=120.0, timeout=120)
    monkeypatch.setitem(RETRY_PLANS, JobName.GRANT_PROMPT, old)
    store = redis.Redis.from_url(redis_url)
    tenant = a_tenant(redis_url, store, client, sandbox)
    tenant.notices.failing[7] = 1000
    tries = tenant.notices.tries
    caplog.set_level(logging.WARNING, logger="approvals.grant_service")
    try:
        async with joined_for_30_days(tenant) as (traveller, queue):
            traveller.shift(timedelta(days=23))

            async def given_up() -> bool:
                return await tenant.events(AuditAction.RENEWAL_PROMPT_UNDELIVERED) == 1

            await as_time_runs(traveller, given_up, timedelta(minutes=3))
            await settled(queue)
            assert tries.count(7) == old.retries
            events = await RedisStreamAudit(store).read()
            (event,) = [
                e for e in events if e.event == AuditAction.RENEWAL_PROMPT_UNDELIVERED.value
            ]
            assert event.result == "failed" and f"{old.retries} attempt(s)" in event.detail
            warned = [r for r in caplog.records if "given up" in r.getMessage()]
            assert [r.levelno for r in warned] == [logging.WARNING]
    finally:
        await store.aclose()


async def _true(value: bool) -> bool:
    return value
