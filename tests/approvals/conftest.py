"""Fixtures of the approval workflow's tests: a settable clock and the service on in-memory
fakes; the sandbox tenant fixtures come from the Exchange client's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from approvals.audit import InMemoryAudit
from approvals.models import ApprovalRequest, ListRef, Person, RequestKind
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore, RequestStore
from approvals.testing import (
    InMemoryJobQueue,
    InMemoryMembershipWriter,
    InMemoryNotifier,
    StaticApprovers,
)
from tests.approvals import demo
from tests.exchange.conftest import client, make_config, sandbox, sandbox_state_dir  # noqa: F401

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Harness:
    """The service wired to in-memory fakes, each reachable for assertions."""

    clock: Clock = field(default_factory=Clock)
    store: RequestStore = field(default_factory=InMemoryRequestStore)
    approvers: StaticApprovers = field(
        default_factory=lambda: StaticApprovers(
            owners={
                demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN), demo.approver(demo.LEE)),
            },
            fallback=(demo.approver(demo.ADELE, "fallback"),),
        )
    )
    notifier: InMemoryNotifier = field(default_factory=InMemoryNotifier)
    jobs: InMemoryJobQueue = field(default_factory=InMemoryJobQueue)
    writer: InMemoryMembershipWriter = field(default_factory=InMemoryMembershipWriter)
    audit: InMemoryAudit = field(default_factory=InMemoryAudit)
    max_execution_attempts: int = 8

    @property
    def service(self) -> ApprovalService:
        return ApprovalService(
            store=self.store,
            approvers=self.approvers,
            notifier=self.notifier,
            jobs=self.jobs,
            writer=self.writer,
            audit=self.audit,
            clock=self.clock,
            max_execution_attempts=self.max_execution_attempts,
        )

    def events(self) -> list[str]:
        return [e.event for e in self.audit.events]

    async def run_jobs(self) -> None:
        await self.jobs.run_all(self.service)

    async def ask(
        self,
        requester: Person = demo.ALEX,
        group: ListRef = demo.FINANCE_EMEA,
        *,
        auto_approved: str = "",
        run_jobs: bool = True,
    ) -> ApprovalRequest:
        """Submit a join request and, unless told not to, run the jobs it queued."""
        result = await self.service.submit(
            kind=RequestKind.JOIN,
            requester=requester,
            group=group,
            justification="I work with this team now",
            auto_approved=auto_approved,
        )
        if run_jobs:
            await self.run_jobs()
        return await self.service.get(result.request.id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def harness() -> Harness:
    return Harness()
