"""The approval workflow with time-boxed membership on in-memory fakes: the clock moves, due
jobs run (the grants' timers too), and the member's notices are recorded."""

from __future__ import annotations

from dataclasses import dataclass, field

from approvals.grant_service import GrantService
from approvals.grant_store import GrantStore, InMemoryGrantStore
from approvals.grants import Grant, GrantStatus, MembershipRules
from approvals.models import ApprovalRequest, ListRef, Person, RequestKind
from approvals.ports import JobName, MembershipWriter
from approvals.service import ApprovalService
from approvals.testing import InMemoryJobQueue
from tests.approvals import demo
from tests.approvals.conftest import Harness


@dataclass
class GrantNotices:
    """GrantNotifier that records what each member was told. `failing[days]` prompts of that
    lead time raise as an unreachable Bot Connector does before one goes through; `refused`
    answers as Teams does for someone the bot cannot reach."""

    told: list[tuple[str, str, Grant]] = field(default_factory=list)  # (member, what, grant)
    failing: dict[int, int] = field(default_factory=dict)
    tries: list[int] = field(default_factory=list)  # the lead time of every prompt attempted
    refused: bool = False

    async def granted(self, grant: Grant, *, renewed: bool) -> bool:
        self.told.append((grant.member.object_id, "renewed" if renewed else "granted", grant))
        return True

    async def prompt_renewal(self, grant: Grant, days_before: int) -> bool:
        self.tries.append(days_before)
        if self.failing.get(days_before, 0) > 0:
            self.failing[days_before] -= 1
            raise ConnectionError("Bot Connector unreachable")
        if self.refused:
            return False
        self.told.append((grant.member.object_id, f"prompt {days_before}", grant))
        return True

    async def ended(self, grant: Grant, *, failed: bool) -> bool:
        what = "end failed" if failed else "ended"
        if grant.status is GrantStatus.KEPT:
            what = "kept"
        self.told.append((grant.member.object_id, what, grant))
        return True

    def what(self) -> list[str]:
        return [what for _, what, _ in self.told]


class LosingJobQueue(InMemoryJobQueue):
    """Holds delayed jobs until the clock reaches them; with `lose_timers` set, the grants'
    timers are never queued (a process that died right after storing a grant)."""

    lose_timers = False

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if self.lose_timers and job in (JobName.GRANT_PROMPT, JobName.GRANT_END):
            return
        await super().enqueue(job, request_id, delay_seconds=delay_seconds)


@dataclass
class GrantWorld(Harness):
    rules: MembershipRules = field(default_factory=MembershipRules)
    grant_store: GrantStore = field(default_factory=InMemoryGrantStore)
    grant_notices: GrantNotices = field(default_factory=GrantNotices)
    # Exchange itself (the sandbox) instead of the in-memory writer, when given.
    exchange_writer: MembershipWriter | None = None

    def __post_init__(self) -> None:
        self.jobs = self.queue = LosingJobQueue(clock=self.clock)
        self._service = ApprovalService(
            store=self.store,
            approvers=self.approvers,
            notifier=self.notifier,
            jobs=self.jobs,
            writer=self.exchange_writer or self.writer,
            audit=self.audit,
            clock=self.clock,
            membership_rules=self.rules,
        )
        self.grants = GrantService(
            store=self.grant_store,
            approvals=self._service,
            jobs=self.jobs,
            notifier=self.grant_notices,
            audit=self.audit,
            rules=self.rules,
            clock=self.clock,
        )

    @property
    def service(self) -> ApprovalService:
        return self._service

    async def run_jobs(self) -> None:
        await self.jobs.run_all(
            self._service,
            more={JobName.GRANT_PROMPT: self.grants.prompt, JobName.GRANT_END: self.grants.end},
        )

    async def after(self, **delta: float) -> None:
        self.clock.advance(**delta)
        await self.run_jobs()

    async def ask_for(
        self,
        days: int | None,
        group: ListRef = demo.FINANCE_EMEA,
        requester: Person = demo.ALEX,
        *,
        auto_approved: str = "",
    ) -> ApprovalRequest:
        result = await self._service.submit(
            kind=RequestKind.JOIN,
            requester=requester,
            group=group,
            justification="project work",
            auto_approved=auto_approved,
            membership_days=days,
        )
        await self.run_jobs()
        return await self._service.get(result.request.id)

    def member(self, group: ListRef = demo.FINANCE_EMEA) -> set[str]:
        return self.writer.members.get(group.object_id, set())

    def removals(self) -> int:
        return sum(
            1
            for e in self.audit.events
            if e.cmdlet == "Remove-DistributionGroupMember" and e.event == "executed"
        )
