"""The whole workflow on the real backends: requests and audit in a real redis-server, owners
and the membership change in the sandbox tenant over loopback HTTPS. Only Teams (the notifier)
and saq (the job queue) are the in-memory stand-ins, which bot/ replaces."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as redis

from approvals.approvers import OwnerApprovers
from approvals.audit import RedisStreamAudit
from approvals.errors import AlreadyDecided
from approvals.exchange_adapters import ExchangeMembershipWriter, ExchangeOwnerDirectory
from approvals.models import RequestKind, RequestStatus
from approvals.ports import NoticeKind
from approvals.redis_store import RedisRequestStore
from approvals.service import ApprovalService
from approvals.testing import InMemoryJobQueue, InMemoryNotifier
from exchange.client import ExchangeClient
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from tests.approvals import demo

ADD = "Add-DistributionGroupMember"


@dataclass
class Stack:
    service: ApprovalService
    audit: RedisStreamAudit
    notifier: InMemoryNotifier
    jobs: InMemoryJobQueue
    sandbox: SandboxServer

    async def run_jobs(self) -> None:
        await self.jobs.run_all(self.service)

    def members(self, group: str) -> list[str]:
        snapshot = self.sandbox.tenant.group_snapshot(group)
        return [m["primary_smtp_address"] for m in snapshot["members"]]

    def calls(self, cmdlet: str) -> list[str | None]:
        return [r.client_request_id for r in self.sandbox.requests if r.cmdlet == cmdlet]


@pytest.fixture
async def stack(
    redis_url: str, sandbox: SandboxServer, client: ExchangeClient
) -> AsyncIterator[Stack]:
    connection = redis.Redis.from_url(redis_url)
    try:
        audit = RedisStreamAudit(connection)
        notifier, jobs = InMemoryNotifier(), InMemoryJobQueue()
        service = ApprovalService(
            store=RedisRequestStore(connection),
            approvers=OwnerApprovers(
                ExchangeOwnerDirectory(client), fallback=(demo.approver(demo.PATTI),)
            ),
            notifier=notifier,
            jobs=jobs,
            writer=ExchangeMembershipWriter(client),
            audit=audit,
        )
        yield Stack(service, audit, notifier, jobs, sandbox)
    finally:
        await connection.aclose()


async def test_alex_joins_finance_emea_once_although_the_answer_is_lost_and_execute_runs_twice(
    stack: Stack,
) -> None:
    submitted = await stack.service.submit(
        kind=RequestKind.JOIN,
        requester=demo.ALEX,
        group=demo.FINANCE_EMEA,
        justification="I joined the Paris office",
    )
    await stack.run_jobs()
    assert stack.notifier.carded() == [demo.MEGAN.object_id, demo.LEE.object_id]

    await stack.service.decide(submitted.request.id, demo.MEGAN, approve=True, reason="welcome")
    stack.sandbox.inject(Fault("drop_after_execute", cmdlet=ADD, count=1))
    await stack.run_jobs()
    await stack.service.execute(submitted.request.id)

    done = await stack.service.get(submitted.request.id)
    assert done.status is RequestStatus.COMPLETED and done.execution.outcome == "added"
    assert stack.members("finance-emea").count("alexw@contoso.com") == 1
    # One logical add (its retry after the lost answer carries the same id); none after that.
    assert stack.calls(ADD) == [done.execution.exchange_request_id] * 2
    assert stack.notifier.notices_to(demo.ALEX.object_id) == [
        NoticeKind.SUBMITTED,
        NoticeKind.APPROVED,
        NoticeKind.COMPLETED,
    ]
    trail = await stack.audit.read()
    assert [(e.event, e.actor_id) for e in trail] == [
        ("submitted", demo.ALEX.object_id),
        ("cards_sent", ""),
        ("approved", demo.MEGAN.object_id),
        ("executed", ""),
    ]
    assert (trail[-1].cmdlet, trail[-1].exchange_request_id) == (
        ADD,
        done.execution.exchange_request_id,
    )


async def test_two_owners_clicking_at_once_on_redis_make_exactly_one_decision(
    stack: Stack,
) -> None:
    submitted = await stack.service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )
    await stack.run_jobs()

    results = await asyncio.gather(
        stack.service.decide(submitted.request.id, demo.MEGAN, approve=True),
        stack.service.decide(submitted.request.id, demo.LEE, approve=False),
        return_exceptions=True,
    )

    assert sum(isinstance(r, AlreadyDecided) for r in results) == 1
    decisions = [e.event for e in await stack.audit.read() if e.event in ("approved", "denied")]
    assert len(decisions) == 1


async def test_two_asks_at_once_on_redis_make_one_request(stack: Stack) -> None:
    results = await asyncio.gather(
        *(
            stack.service.submit(kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.SALES_TEAM)
            for _ in range(5)
        )
    )
    assert sum(r.created for r in results) == 1
    assert len({r.request.id for r in results}) == 1
    assert len(await stack.service.requests_of(demo.ALEX.object_id)) == 1


async def test_executing_twice_at_once_adds_the_member_once_and_reports_it_once(
    stack: Stack,
) -> None:
    submitted = await stack.service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )
    await stack.run_jobs()
    await stack.service.decide(submitted.request.id, demo.LEE, approve=True)

    await asyncio.gather(*(stack.service.execute(submitted.request.id) for _ in range(2)))

    assert stack.members("finance-emea").count("alexw@contoso.com") == 1
    assert stack.notifier.notices_to(demo.ALEX.object_id).count(NoticeKind.COMPLETED) == 1
    assert [e.event for e in await stack.audit.read()].count("executed") == 1


async def test_an_ownerless_list_goes_to_the_fallback_approver_who_approves_it(
    stack: Stack,
) -> None:
    submitted = await stack.service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FORMER_INTERNS
    )
    await stack.run_jobs()
    assert submitted.request.orphaned
    assert stack.notifier.carded() == [demo.PATTI.object_id]
    assert stack.notifier.notices_to(demo.ALEX.object_id) == [NoticeKind.SENT_TO_FALLBACK]

    await stack.service.decide(submitted.request.id, demo.PATTI, approve=True)
    await stack.run_jobs()

    assert "alexw@contoso.com" in stack.members("former-interns")


async def test_a_list_synced_from_on_premises_fails_with_the_admins_told_what_to_do(
    stack: Stack,
) -> None:
    submitted = await stack.service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.ONPREM_ENGINEERING
    )
    await stack.run_jobs()
    await stack.service.decide(submitted.request.id, demo.GRADY, approve=True)

    await stack.run_jobs()

    failed = await stack.service.get(submitted.request.id)
    assert failed.status is RequestStatus.FAILED
    [(_, problem)] = stack.notifier.alerts
    assert "on-premises Active Directory" in problem
    trail = await stack.audit.read()
    assert trail[-1].event == "failed"
    assert trail[-1].exchange_request_id == stack.calls(ADD)[-1]
