"""Approval workers on real saq and one real Redis, for tests that kill a process part way or
restart the workers with other settings: what every process shares (Redis, and Teams as the
notifier's record), a bot process that can die before queueing a job, and worker generations
running the jobs and the per-minute sweep while time-machine moves the clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as redis
import time_machine
from saq import CronJob, Queue

from approvals.audit import AuditAction, RedisStreamAudit
from approvals.lifecycle import Timings
from approvals.models import ApprovalRequest, RequestKind
from approvals.ports import JobName
from approvals.redis_store import RedisRequestStore
from approvals.redraws import RedisRedrawLedger
from approvals.service import ApprovalService
from approvals.testing import InMemoryMembershipWriter, InMemoryNotifier, StaticApprovers
from bot.jobs import QUEUE_NAME, JobBody, SaqJobQueue, sweep_job
from tests.approvals import demo
from tests.bot.saq_workers import Bodies, running, settled, until


class ProcessDied(Exception):
    """The process stops here: nothing after this point of the step runs."""


class DyingJobQueue(SaqJobQueue):
    """The real queue, but the process dies on its next `deaths` enqueues: killed after storing
    a change and before queueing its job."""

    def __init__(self, queue: Queue) -> None:
        super().__init__(queue)
        self.deaths = 0

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if self.deaths:
            self.deaths -= 1
            raise ProcessDied
        await super().enqueue(job, request_id, delay_seconds=delay_seconds)


@dataclass
class Tenant:
    redis_url: str
    client: redis.Redis
    notifier: InMemoryNotifier = field(default_factory=InMemoryNotifier)
    approvers: StaticApprovers = field(
        default_factory=lambda: StaticApprovers(
            owners={
                demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN), demo.approver(demo.LEE))
            }
        )
    )
    sweeps: int = 0  # runs of the per-minute sweep, by any worker

    def service(self, jobs: SaqJobQueue, timings: Timings) -> ApprovalService:
        """One process's approval service: its own store client and job queue, one Redis."""
        return ApprovalService(
            store=RedisRequestStore(self.client),
            approvers=self.approvers,
            notifier=self.notifier,
            jobs=jobs,
            writer=InMemoryMembershipWriter(),
            audit=RedisStreamAudit(self.client),
            timings=timings,
            redraws=RedisRedrawLedger(self.client),  # as bot/services.py: one for every process
        )

    async def events(self, action: AuditAction) -> int:
        events = await RedisStreamAudit(self.client).read()
        return sum(1 for e in events if e.event == action.value)

    async def request(self) -> ApprovalRequest:
        found = await RedisRequestStore(self.client).requests_of(demo.ALEX.object_id, 1)
        return found[0]

    @contextlib.asynccontextmanager
    async def bot(self, timings: Timings) -> AsyncIterator[tuple[ApprovalService, DyingJobQueue]]:
        """A bot process: its service, and its queue (set `deaths` to kill it part way)."""
        queue = Queue.from_url(self.redis_url, name=QUEUE_NAME)
        jobs = DyingJobQueue(queue)
        try:
            yield self.service(jobs, timings), jobs
        finally:
            await queue.disconnect()

    async def ask(self, timings: Timings) -> ApprovalRequest:
        """Alex asks to join Finance EMEA, from a bot process that lives on."""
        async with self.bot(timings) as (service, _):
            result = await service.submit(
                kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA
            )
        return result.request

    @contextlib.asynccontextmanager
    async def workers(self, timings: Timings) -> AsyncIterator[Queue]:
        """Two worker processes as `dlbot worker` builds them (jobs and the per-minute sweep),
        started with these timings; stopped on exit."""
        queues = [Queue.from_url(self.redis_url, name=QUEUE_NAME) for _ in range(2)]
        specs: list[tuple[Queue, Bodies, list[CronJob[Any]]]] = []
        for queue in queues:
            service = self.service(SaqJobQueue(queue), timings)

            async def sweep(service: ApprovalService = service) -> int:
                resumed = await service.resume_stalled()
                self.sweeps += 1
                return resumed

            def bodies(
                ctx: dict[str, Any], service: ApprovalService = service
            ) -> dict[JobName, JobBody]:
                return {
                    JobName.DELIVER_CARDS: service.deliver_cards,
                    JobName.EXECUTE: service.execute,
                    JobName.UPDATE_CARDS: service.update_cards,
                    JobName.REMIND: service.lifecycle.remind,
                    JobName.ESCALATE: service.lifecycle.escalate,
                    JobName.EXPIRE: service.lifecycle.expire,
                }

            specs.append((queue, bodies, [sweep_job(sweep)]))
        async with running(specs):
            yield queues[0]

    async def swept(self, traveller: time_machine.Coordinates, queue: Queue) -> None:
        """Minutes pass until the per-minute sweep has run again, and whatever it queued has
        run too."""
        before = self.sweeps
        traveller.shift(60)

        async def ran() -> bool:
            if self.sweeps > before:
                return True
            await asyncio.sleep(1)  # a scheduler tick, then the next minute
            traveller.shift(60)
            return False

        await until(ran)
        await settled(queue)
