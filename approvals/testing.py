"""In-memory stand-ins for the approval workflow's ports, for tests and local experiments.

They record what happened so a test can assert on it, and can be told to misbehave the way the
real thing does (an approver Teams cannot reach, Exchange throttling). The store and audit log
have their own in-memory implementations beside their ports (approvals.store, approvals.audit).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from approvals.errors import ListNameTaken, WriteError
from approvals.models import ApprovalRequest, Approver, CardRef, ListRef, NewList, Person
from approvals.ports import ApproverSet, DirectoryEntry, JobName, NoticeKind, WriteResult
from approvals.service import ApprovalService


@dataclass(frozen=True)
class Notice:
    person: Person
    kind: NoticeKind
    request: ApprovalRequest


class InMemoryNotifier:
    """Notifier that posts nothing: cards get made-up ids; people in `unreachable` have no chat
    with the bot (send_card returns None, notify returns False)."""

    def __init__(self, *, unreachable: Iterable[str] = ()) -> None:
        self.unreachable: set[str] = set(unreachable)
        self.cards: list[tuple[Approver, ApprovalRequest, CardRef]] = []
        self.updates: list[tuple[CardRef, ApprovalRequest]] = []
        self.notices: list[Notice] = []
        self.alerts: list[tuple[ApprovalRequest, str]] = []
        self._ids = itertools.count(1)

    async def send_card(self, approver: Approver, request: ApprovalRequest) -> CardRef | None:
        if approver.object_id in self.unreachable:
            return None
        card = CardRef(
            approver_id=approver.object_id,
            conversation_id=f"conversation-{approver.object_id}",
            activity_id=f"activity-{next(self._ids)}",
        )
        self.cards.append((approver, request, card))
        return card

    async def update_card(self, card: CardRef, request: ApprovalRequest) -> None:
        self.updates.append((card, request))

    async def notify(self, person: Person, kind: NoticeKind, request: ApprovalRequest) -> bool:
        if person.object_id in self.unreachable:
            return False
        self.notices.append(Notice(person, kind, request))
        return True

    async def alert_admins(self, request: ApprovalRequest, problem: str) -> None:
        self.alerts.append((request, problem))

    def carded(self) -> list[str]:
        """Object ids of the approvers sent a card, in order."""
        return [approver.object_id for approver, _, _ in self.cards]

    def notices_to(self, object_id: str) -> list[NoticeKind]:
        return [n.kind for n in self.notices if n.person.object_id == object_id]


@dataclass(frozen=True)
class QueuedJob:
    job: JobName
    request_id: str
    delay_seconds: float = 0
    due: datetime | None = None  # with a clock: when a delayed job may run


@dataclass
class JobFailure:
    job: QueuedJob
    error: Exception


class InMemoryJobQueue:
    """JobQueue that holds jobs until `run_all` runs them against a service.

    Like saq with a job key: a job already queued for a request is not queued twice (one that
    is running may be queued again). A job that raises is retried, up to `max_retries` times,
    as the real queue does with backoff. Delays are recorded, not waited for; given a `clock`,
    a delayed job is held until the clock reaches its time (a test moves the clock on).
    """

    def __init__(
        self, *, max_retries: int = 10, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.max_retries = max_retries
        self._clock = clock
        self.enqueued: list[QueuedJob] = []  # every accepted enqueue, in order
        self.ran: list[QueuedJob] = []
        self.failures: list[JobFailure] = []  # every failed run, retried or not
        self.dead: list[JobFailure] = []  # jobs that failed on their last retry
        self._queue: deque[QueuedJob] = deque()
        self._tries: dict[tuple[JobName, str], int] = {}

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if any(q.job is job and q.request_id == request_id for q in self._queue):
            return
        due = None
        if self._clock is not None and delay_seconds > 0:
            due = self._clock() + timedelta(seconds=delay_seconds)
        queued = QueuedJob(job, request_id, delay_seconds, due)
        self.enqueued.append(queued)
        self._queue.append(queued)

    def pending(self) -> list[QueuedJob]:
        return list(self._queue)

    def names(self) -> list[JobName]:
        """The jobs waiting, in order."""
        return [q.job for q in self._queue]

    async def run_all(
        self,
        service: ApprovalService,
        *,
        max_runs: int = 1000,
        more: Mapping[JobName, Callable[[str], Awaitable[None]]] | None = None,
    ) -> None:
        """Run queued jobs (and those they queue) until none is left that is due; `more`
        runs the jobs of other services (the grants' timers)."""
        bodies: dict[JobName, Callable[[str], Awaitable[None]]] = {
            **(more or {}),
            JobName.DELIVER_CARDS: service.deliver_cards,
            JobName.EXECUTE: service.execute,
            JobName.UPDATE_CARDS: service.update_cards,
            JobName.REMIND: service.lifecycle.remind,
            JobName.ESCALATE: service.lifecycle.escalate,
            JobName.EXPIRE: service.lifecycle.expire,
        }
        for _ in range(max_runs):
            queued = self._next_due()
            if queued is None:
                return
            self.ran.append(queued)
            key = (queued.job, queued.request_id)
            try:
                await bodies[queued.job](queued.request_id)
            except Exception as exc:
                failure = JobFailure(queued, exc)
                self.failures.append(failure)
                self._tries[key] = self._tries.get(key, 0) + 1
                if self._tries[key] > self.max_retries:
                    self.dead.append(failure)
                else:
                    self._queue.append(queued)
            else:
                self._tries.pop(key, None)
        raise RuntimeError(f"jobs still queued after {max_runs} runs: {self.names()}")

    def _next_due(self) -> QueuedJob | None:
        """Take the first job that may run now; jobs still waiting for their time stay."""
        for queued in self._queue:
            if queued.due is None or self._clock is None or queued.due <= self._clock():
                self._queue.remove(queued)
                return queued
        return None


class InMemoryMembershipWriter:
    """MembershipWriter over a dict of memberships. `script` holds what the next calls do: an
    exception to raise, or None for a normal call; once it is used up every call succeeds."""

    def __init__(self, script: Iterable[WriteError | None] = ()) -> None:
        self.members: dict[str, set[str]] = {}
        self.calls: list[tuple[ListRef, Person]] = []
        self.created: dict[str, ListRef] = {}  # by address, casefolded
        self.script: deque[WriteError | None] = deque(script)
        self._ids = itertools.count(1)

    async def add_member(self, group: ListRef, person: Person) -> WriteResult:
        self._next_step(group, person)
        members = self.members.setdefault(group.object_id, set())
        outcome = "already_member" if person.object_id in members else "added"
        members.add(person.object_id)
        return WriteResult(outcome=outcome, exchange_request_id=f"exchange-{next(self._ids)}")

    async def remove_member(self, group: ListRef, person: Person) -> WriteResult:
        self._next_step(group, person)
        members = self.members.setdefault(group.object_id, set())
        outcome = "removed" if person.object_id in members else "not_a_member"
        members.discard(person.object_id)
        return WriteResult(outcome=outcome, exchange_request_id=f"exchange-{next(self._ids)}")

    async def create_list(self, spec: NewList, *, may_already_exist: bool) -> WriteResult:
        planned = ListRef(object_id="", address=spec.address, display_name=spec.display_name)
        self._next_step(planned, spec.owners[0] if spec.owners else _NOBODY)
        existing = self.created.get(spec.address.casefold())
        if existing is not None and not may_already_exist:
            raise ListNameTaken(f"the name or address of {spec.address} is taken")
        created = existing or ListRef(
            object_id=f"created-{next(self._ids)}",
            address=spec.address,
            display_name=spec.display_name,
        )
        self.created[spec.address.casefold()] = created
        self.members[created.object_id] = {p.object_id for p in spec.members}
        return WriteResult(
            outcome="created", exchange_request_id=f"exchange-{next(self._ids)}", created=created
        )

    def _next_step(self, group: ListRef, person: Person) -> None:
        self.calls.append((group, person))
        step = self.script.popleft() if self.script else None
        if step is not None:
            raise step


_NOBODY = Person(object_id="", display_name="")


@dataclass
class StaticApprovers:
    """ApproverSource from a dict: list object id -> approvers, changeable between calls (an
    owner leaves, the list is orphaned). Lists not in the dict have no owner."""

    owners: dict[str, tuple[Approver, ...]] = field(default_factory=dict)
    fallback: tuple[Approver, ...] = ()
    calls: int = 0

    async def current_approvers(self, group: ListRef) -> ApproverSet:
        self.calls += 1
        owners = self.owners.get(group.object_id, ())
        if owners:
            return ApproverSet(owners, orphaned=False, fallback=self.fallback)
        return ApproverSet(self.fallback, orphaned=True, fallback=self.fallback)


@dataclass
class InMemoryOwnerDirectory:
    """OwnerDirectory from dicts: list object id -> its ManagedBy entries, group object id ->
    its members. Counts calls, so a test can see what a lookup costs."""

    owners_of: dict[str, list[DirectoryEntry]] = field(default_factory=dict)
    members_of: dict[str, list[DirectoryEntry]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def owners(self, group: ListRef) -> list[DirectoryEntry]:
        self.calls.append(f"owners {group.object_id}")
        return list(self.owners_of.get(group.object_id, []))

    async def group_members(self, group_object_id: str) -> list[DirectoryEntry]:
        self.calls.append(f"members {group_object_id}")
        return list(self.members_of.get(group_object_id, []))


if TYPE_CHECKING:  # mypy proves each fake satisfies its port
    from approvals.ports import ApproverSource, JobQueue, MembershipWriter, Notifier, OwnerDirectory

    _notifier: Notifier = InMemoryNotifier()
    _jobs: JobQueue = InMemoryJobQueue()
    _writer: MembershipWriter = InMemoryMembershipWriter()
    _approvers: ApproverSource = StaticApprovers()
    _directory: OwnerDirectory = InMemoryOwnerDirectory()
