"""The lifecycle of a pending request: a reminder to its approvers, escalation to the fallback
approvers, and expiry, each a fixed time after the request was made (Timings; each can be off).

Each step is a job (JobName.REMIND, ESCALATE, EXPIRE) queued when the request is stored
pending, scheduled for `created_at + delay` (on a whole second), and keyed by (step, request,
that second), so the queue holds one of each per request and time however often it is queued
and however many workers poll it. A job re-reads the request and acts only while it is still
pending and the step is not done yet, and claims the step by compare-and-set before anything is
sent, so a second run (another worker, the sweeper's re-queue, a retry, a job queued for another
time) does nothing twice. A decided request keeps its timers queued: they run, find it decided,
and do nothing, which is cheaper than chasing them down.

The delays are read at start-up, and timers follow the ones a worker runs with now: a job that
fires before its step is due under them (queued under longer delays) queues itself for the due
time and does nothing; one whose step is off does nothing; and every waiting request's timers
are queued once more for their current times (`retime`: a timer queued under longer delays
would wait for its old time, and a new time is a new job key). That re-timing is part of the
sweep, a saq cron job that one worker (whichever takes it) runs each minute: each worker process
goes through the queue's waiting timers once, a bounded part in each sweep it happens to run
(a large queue takes several sweeps, never one that outlives its timeout and starts over).
docs/operations.md tells admins what a change of the hours does.

A process that dies between storing a request and queueing its timers leaves them unqueued;
the sweeper (ApprovalService.resume_stalled) looks at every open request once per version and
queues them again (`requeue`): a timer already queued is dropped by its key, one already done
is not queued at all.

The reminder is a fresh approval card, not a chat message. An owner with fifty requests a week
would have to scroll back through all their cards to act on a message saying "you have one
waiting"; a fresh card lands at the bottom of the chat, raises a Teams notification, and can be
decided on the spot. Both cards stay live, so both are kept (CardRef.reminder) and the outcome
redraws them all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, runtime_checkable

from approvals import state
from approvals.audit import AuditAction
from approvals.errors import InvalidTransition, RequestNotFound
from approvals.models import FALLBACK_VIA, ApprovalRequest, Approver, Person, RequestStatus
from approvals.ports import ApproverSet, JobName, JobQueue, NoticeKind, Notifier

log = logging.getLogger(__name__)

Step = Callable[[ApprovalRequest], ApprovalRequest]

# A timer this close to its time acts rather than waits: the queue may fire a job a second
# early, and the worker that runs it may read a clock a few seconds behind the one that moved it
# to the queue; its own key would then still be taken, and waiting would lose the step.
_EARLY = timedelta(minutes=1)

# Re-timing reads the queue's scheduled jobs of every kind (months of them) and each request
# with a timer among them; a sweep does this many pages of about this many jobs, then leaves
# the rest to the next sweep the process runs. Bounded, so the sweep stays well inside its
# timeout (bot.jobs.SWEEP_TIMEOUT_SECONDS) however large the queue: a sweep that timed out
# part way would otherwise start over, and never finish, every minute.
RETIME_PAGES = 5
RETIME_PAGE = 200


@dataclass(frozen=True)
class Timings:
    """How long after a request was made each step happens; None switches a step off. The
    steps that are on must come in order: reminder, then escalation, then expiry."""

    remind_after: timedelta | None = None
    escalate_after: timedelta | None = None
    expire_after: timedelta | None = None

    def __post_init__(self) -> None:
        on = [after for _, after in self.steps()]
        if any(after <= timedelta(0) for after in on):
            raise ValueError("each lifecycle delay must be positive (or None: off)")
        if any(earlier >= later for earlier, later in zip(on, on[1:], strict=False)):
            raise ValueError("the reminder must come before the escalation, and both before expiry")

    @classmethod
    def from_hours(cls, remind: float, escalate: float, expire: float) -> Timings:
        """From hours after the request was made; 0 switches a step off."""

        def after(hours: float) -> timedelta | None:
            return timedelta(hours=hours) if hours else None

        return cls(after(remind), after(escalate), after(expire))

    def steps(self) -> list[tuple[JobName, timedelta]]:
        """The steps that are on, in order, with their delay after the request was made."""
        steps = [
            (JobName.REMIND, self.remind_after),
            (JobName.ESCALATE, self.escalate_after),
            (JobName.EXPIRE, self.expire_after),
        ]
        return [(job, after) for job, after in steps if after is not None]

    def is_on(self, job: JobName) -> bool:
        return any(step is job for step, _ in self.steps())

    def after(self, job: JobName) -> timedelta | None:
        """The delay of a step after the request was made; None when it is off."""
        return next((after for step, after in self.steps() if step is job), None)


@runtime_checkable
class TimerListing(Protocol):
    """A job queue that can say which requests have a timer waiting (bot.jobs.SaqJobQueue)."""

    async def timed_requests(self, cursor: int, count: int) -> tuple[int, set[str]]:
        """One page, from `cursor` (0: the start), of about `count` queued jobs: the cursor of
        the next page (0: done), and the ids of the requests among them with a timer waiting."""
        ...


class _Record(Protocol):
    async def __call__(
        self, action: AuditAction, request: ApprovalRequest, **fields: str
    ) -> None: ...


class Lifecycle:
    """The timer jobs of pending requests, run by the workers; built by ApprovalService, whose
    plumbing it shares (compare-and-set with reload, the audit, best-effort notices)."""

    def __init__(
        self,
        *,
        timings: Timings,
        jobs: JobQueue,
        notifier: Notifier,
        approvers_of: Callable[[ApprovalRequest], Awaitable[ApproverSet]],
        clock: Callable[[], datetime],
        get: Callable[[str], Awaitable[ApprovalRequest]],
        change: Callable[[ApprovalRequest, Step], Awaitable[ApprovalRequest]],
        record: _Record,
        tell: Callable[[Person, NoticeKind, ApprovalRequest], Awaitable[None]],
    ) -> None:
        self.timings = timings
        self._jobs = jobs
        self._notifier = notifier
        self._approvers_of = approvers_of
        self._clock = clock
        self._get = get
        self._change = change
        self._record = record
        self._tell = tell
        # Re-timing's progress through the queue (retime): where its next page starts, the
        # requests re-timed so far, and whether it has been through the whole queue.
        self._retime_cursor = 0
        self._retimed_ids: set[str] = set()
        self._retimed = False

    # Scheduling ---------------------------------------------------------------------------

    async def schedule(self, request: ApprovalRequest) -> None:
        """Queue each timer of a pending request that is on and not done yet, for the time it
        is due (at once when that has passed: a request resumed after an outage)."""
        if request.status is not RequestStatus.PENDING:
            return
        for job, _ in self.timings.steps():
            if not _done(job, request):
                await self._enqueue(job, request)

    async def _enqueue(self, job: JobName, request: ApprovalRequest) -> None:
        due = self._due(job, request)
        if due is None:
            return
        delay = (due - self._clock()).total_seconds()
        await self._jobs.enqueue(job, request.id, delay_seconds=max(0.0, delay))

    def _due(self, job: JobName, request: ApprovalRequest) -> datetime | None:
        """When a step is due under the current timings, on a whole second: the queue keys a
        timer by the second it is due (bot.jobs.job_key), so queueing it again for the same
        time is dropped, and one for another time (the timings changed) is a new job."""
        after = self.timings.after(job)
        if after is None:
            return None
        due = request.created_at + after
        return due.replace(microsecond=0) + timedelta(seconds=1 if due.microsecond else 0)

    async def _not_yet(self, job: JobName, request: ApprovalRequest) -> bool:
        """Whether a timer fired before its step is due under the current timings (queued under
        longer ones, since changed): then it queues itself for the right time and does nothing."""
        due = self._due(job, request)
        if due is None or self._clock() + _EARLY >= due:
            return False
        await self._enqueue(job, request)
        return True

    async def retime(self, *, pages: int = RETIME_PAGES, page: int = RETIME_PAGE) -> bool:
        """Once per process (the timings are read at start-up): queue every waiting request's
        timers for their times under the current timings. A timer queued under longer delays
        would otherwise wait for its old time; one now due or overdue is queued at once. Reads
        only the requests the queue holds a timer for (none when it cannot list them), at most
        `pages` pages of about `page` jobs a call, going on where the last call stopped (one
        cut short, by the sweep's timeout, reads its page again). True once done."""
        if self._retimed or not isinstance(self._jobs, TimerListing):
            return True
        for _ in range(pages):
            cursor, found = await self._jobs.timed_requests(self._retime_cursor, page)
            for request_id in sorted(found - self._retimed_ids):
                try:
                    request = await self._get(request_id)
                except RequestNotFound:
                    continue
                await self.schedule(request)
            self._retimed_ids |= found
            self._retime_cursor = cursor
            if cursor == 0:
                self._retimed = True
                self._retimed_ids.clear()
                return True
        return False

    async def requeue(self, request: ApprovalRequest) -> None:
        """What the sweeper queues again for a pending request: its timers, and the delivery
        of an escalation whose process died before queueing it (a fallback approver it added
        has no card; one Teams cannot reach is tried once more, which does no harm)."""
        if request.status is not RequestStatus.PENDING:
            return
        await self.schedule(request)
        if request.escalated_at is not None and any(
            a.via == FALLBACK_VIA and request.card_of(a.object_id) is None
            for a in request.approvers
        ):
            await self._jobs.enqueue(JobName.DELIVER_CARDS, request.id)

    # Jobs ---------------------------------------------------------------------------------

    async def remind(self, request_id: str) -> None:
        """A fresh card to every approver of a request still pending, once."""
        if not self.timings.is_on(JobName.REMIND):
            return  # switched off since it was queued
        request = await self._get(request_id)
        if request.status is not RequestStatus.PENDING:
            return
        if request.reminded_at is None and await self._not_yet(JobName.REMIND, request):
            return
        if request.reminded_at is None:
            try:
                request = await self._change(request, partial(state.remind, now=self._clock()))
            except InvalidTransition:
                return  # decided, or reminded by another run, meanwhile
            await self._record(
                AuditAction.REMINDED,
                request,
                detail=f"no decision in {span(request.created_at, request.updated_at)}; "
                f"reminding {_named(request.approvers)}",
            )
            # Told once, by the run that claimed the step (design.md: "told each time").
            await self._tell(request.requester, NoticeKind.REMINDED, request)
        # A run retried after a failure part way (Teams unavailable) goes on where it stopped:
        # approvers holding a reminder card already are skipped.
        await self._send_reminders(request)

    async def _send_reminders(self, request: ApprovalRequest) -> None:
        for approver in request.approvers:
            if request.status is not RequestStatus.PENDING:
                return
            if any(c.approver_id == approver.object_id and c.reminder for c in request.cards):
                continue
            posted = await self._notifier.send_card(approver, request)
            if posted is None:
                continue  # Teams cannot reach them; their first card (if any) still stands
            card = posted.model_copy(update={"reminder": True})
            try:
                request = await self._change(
                    request, partial(state.add_card, card=card, now=self._clock())
                )
            except InvalidTransition as ended:
                # Decided while the card was on its way: never stored, so redrawn now or never.
                await self._notifier.update_card(card, ended.request)
                return
            if request.status is not RequestStatus.PENDING:
                # Decided meanwhile: that decision's redraw may have run before this card was kept.
                await self._notifier.update_card(card, request)

    async def escalate(self, request_id: str) -> None:
        """Ask the fallback approvers too, once, and tell the requester; with nobody to add,
        the escalation is recorded as skipped (not an error: no fallback may be configured)."""
        if not self.timings.is_on(JobName.ESCALATE):
            return
        request = await self._get(request_id)
        if request.status is not RequestStatus.PENDING or request.escalated_at is not None:
            return
        if await self._not_yet(JobName.ESCALATE, request):
            return
        fallback = (await self._approvers_of(request)).fallback
        before = {a.object_id for a in request.approvers}
        try:
            escalated = await self._change(
                request,
                partial(state.escalate_overdue, fallback=fallback, now=self._clock()),
            )
        except InvalidTransition:
            return  # decided, or escalated by another run, meanwhile
        added = tuple(a for a in escalated.approvers if a.object_id not in before)
        waited = span(escalated.created_at, escalated.updated_at)
        if not added:
            why = "no fallback approvers are configured" if not fallback else "asked already"
            await self._record(
                AuditAction.ESCALATED,
                escalated,
                result="skipped",
                detail=f"no decision in {waited}; nobody to escalate to: {why}",
            )
            return
        # Posting their cards is the delivery job's (retried, and safe to repeat); it skips
        # approvers who hold a card, so only the fallback approvers just added get one.
        await self._jobs.enqueue(JobName.DELIVER_CARDS, escalated.id)
        await self._record(
            AuditAction.ESCALATED,
            escalated,
            detail=f"no decision in {waited}; asking {_named(added)} too",
        )
        await self._tell(escalated.requester, NoticeKind.ESCALATED, escalated)

    async def expire(self, request_id: str) -> None:
        """End a request nobody decided in time; every card is redrawn to say so, and the
        requester is told."""
        if not self.timings.is_on(JobName.EXPIRE):
            return
        request = await self._get(request_id)
        if request.status is not RequestStatus.PENDING:
            return
        if await self._not_yet(JobName.EXPIRE, request):
            return
        try:
            expired = await self._change(request, partial(state.expire, now=self._clock()))
        except InvalidTransition:
            return  # decided (or cancelled) meanwhile
        await self._jobs.enqueue(JobName.UPDATE_CARDS, expired.id)
        await self._record(
            AuditAction.EXPIRED,
            expired,
            detail=f"no decision in {span(expired.created_at, expired.updated_at)}",
        )
        await self._tell(expired.requester, NoticeKind.EXPIRED, expired)


def _done(job: JobName, request: ApprovalRequest) -> bool:
    if job is JobName.REMIND:
        return request.reminded_at is not None
    if job is JobName.ESCALATE:
        return request.escalated_at is not None
    return False  # expiry is done when the request is no longer pending


def span(since: datetime, until: datetime) -> str:
    """How long a request waited, for the audit trail: "4 days", "6 hours", "5 minutes"."""
    minutes = max(0, round((until - since).total_seconds() / 60))
    if minutes >= 24 * 60:
        count, unit = round(minutes / (24 * 60)), "day"
    elif minutes >= 60:
        count, unit = round(minutes / 60), "hour"
    else:
        count, unit = minutes, "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _named(people: tuple[Approver, ...]) -> str:
    return ", ".join(f"{p.display_name} ({p.via})" for p in people) or "nobody"
