"""The approval workflow as one service: submit, decide, cancel, and the jobs that follow them.

Every change of a request is a compare-and-set through the store, so any number of bot and
worker processes can run this at once: the first decision wins, and a change is carried out in
Exchange and reported once. Anything slow or fallible that follows a change (posting cards,
writing to Exchange, redrawing cards) runs as a job, queued right after the change is stored,
so a Teams or Exchange failure is retried by the queue rather than lost, and each job is safe to
run twice. A process dying in the instant between storing a change and queueing its job (the
JobQueue port cannot join the store's write) leaves the request waiting without a job:
resume_stalled, which every worker runs each minute, queues it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog

from approvals import state
from approvals.audit import AuditAction, AuditEvent, AuditLog
from approvals.errors import (
    ConcurrentUpdate,
    InvalidTransition,
    RequestNotFound,
)
from approvals.execution import Executor
from approvals.grants import MembershipRules
from approvals.lifecycle import Lifecycle, Timings
from approvals.models import (
    ADMIN_CANCEL_ACTOR,
    ApprovalRequest,
    Approver,
    ListRef,
    NewList,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.ports import (
    ApproverSet,
    ApproverSource,
    CreationApproverSource,
    JobName,
    JobQueue,
    MembershipHooks,
    MembershipWriter,
    NewListHooks,
    NoticeKind,
    Notifier,
)
from approvals.redraws import InMemoryRedrawLedger, RedrawLedger
from approvals.store import RequestStore

log = logging.getLogger(__name__)

# Each lost compare-and-set means another step of the same request landed first (a card was
# recorded, someone decided); a request sees a handful of those, so running out means a bug.
_CAS_ROUNDS = 16

Step = Callable[[ApprovalRequest], ApprovalRequest]

# A request changes a handful of times after its decision; a redraw that keeps finding it
# changed after this many rounds leaves the rest to the redraw queued by the latest change.
_REDRAW_ROUNDS = 5

# How many open requests resume_stalled reads from the store at once (it reads them all).
_SWEEP_PAGE = 100

# A redraw owed this long is taken for lost (its queueing died with its process): the normal
# path queues it at once, so the sweep does not race it. One the sweep queued and that still
# fails (Teams down) is queued again after the retry interval, not every minute.
REDRAW_GRACE = timedelta(seconds=30)
_REDRAW_RETRY = timedelta(minutes=10)
# A redraw still failing this long after the change that made the cards stale (Teams down for a
# day, a chat the bot was removed from) is given up, with a warning, rather than queued again
# every _REDRAW_RETRY for ever: the cards then show the old status until the request changes
# again, and an approver pressing a button on one is told it is decided already.
REDRAW_GIVE_UP = timedelta(hours=24)
# A sweep looks at no more than this many pages of the ledger (of _SWEEP_PAGE entries), so a
# backlog after an outage (or Teams refusing every redraw) cannot run the sweep past its timeout
# (bot.jobs.SWEEP_TIMEOUT_SECONDS) and starve what comes after it; the rest is due next minute.
_REDRAW_SWEEP_PAGES = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SubmitResult:
    request: ApprovalRequest
    created: bool  # False: the requester's open request for the list, returned unchanged


class ApprovalService:
    def __init__(
        self,
        *,
        store: RequestStore,
        approvers: ApproverSource,
        notifier: Notifier,
        jobs: JobQueue,
        writer: MembershipWriter,
        audit: AuditLog,
        clock: Callable[[], datetime] = utc_now,
        max_execution_attempts: int = 8,
        timings: Timings = Timings(),
        creation_approvers: CreationApproverSource | None = None,
        new_lists: NewListHooks | None = None,
        membership_rules: MembershipRules | None = None,
        redraws: RedrawLedger | None = None,
    ) -> None:
        if max_execution_attempts < 1:
            raise ValueError("max_execution_attempts must be at least 1")
        self._store = store
        self._approvers = approvers
        self._notifier = notifier
        self._jobs = jobs
        self._audit = audit
        self._clock = clock
        # Where the sweep finds redraws a crash may have lost. Every process sharing a store
        # must share it too (approvals.redraws.RedisRedrawLedger): the one in memory serves
        # one process only (tests, demos).
        self._redraws = redraws if redraws is not None else InMemoryRedrawLedger()
        # CREATE only: without them a new list has nobody to approve it and is not indexed.
        self._creation_approvers = creation_approvers
        self._new_lists = new_lists
        # Time-boxed membership: the admin's maximum per list, and what records and ends grants
        # (attach_membership; none: JOINs are simply carried out). Access reviews attach too,
        # to know whom the bot added to each list.
        self._membership_rules = membership_rules or MembershipRules()
        self._membership: list[MembershipHooks] = []
        # The reminder, escalation and expiry of pending requests (off unless timings say).
        self.lifecycle = Lifecycle(
            timings=timings,
            jobs=jobs,
            notifier=notifier,
            # Per request: a new list (CREATE) has no owners, its creation approvers stand in.
            approvers_of=self._approvers_of,
            clock=clock,
            get=self.get,
            change=self._change,
            record=self._record,
            tell=self._tell,
        )

        # Carrying out approved changes in Exchange, with the same plumbing.
        self._executor = Executor(
            writer=writer,
            jobs=jobs,
            new_lists=new_lists,
            membership=self._membership,
            max_attempts=max_execution_attempts,
            clock=clock,
            get=self.get,
            change=self._change,
            record=self._record,
            tell=self._tell,
            alert=self._alert,
        )

    def attach_membership(self, hooks: MembershipHooks) -> None:
        """Who hears of every membership change made or refused (approvals.grant_service),
        attached after construction because it submits requests through this service; each
        attached one hears of each change (approvals.review_service attaches too)."""
        self._membership.append(hooks)

    # Asking -------------------------------------------------------------------------------

    async def submit(
        self,
        *,
        kind: RequestKind,
        requester: Person,
        group: ListRef,
        justification: str = "",
        auto_approved: str = "",
        new_list: NewList | None = None,
        membership_days: int | None = None,
        grant_id: str = "",
    ) -> SubmitResult:
        """Store a request (one open per person, list and kind) and queue its next step.

        `auto_approved` says why no approval is needed ("open list"): the change is queued at
        once. Otherwise the approvers are resolved now and their cards go out from a job.
        A JOIN lasts `membership_days` (at most the admin's maximum for the list, which also
        applies when none is asked); `grant_id` names the grant a JOIN renews or a LEAVE ends.
        """
        # A CREATE's group is the planned list: its object id is planned_list_id(address).
        existing = await self._store.open_request(requester.object_id, group.object_id, kind)
        if existing is not None:
            # Checked first so that asking twice costs no directory lookup; create() below
            # still decides atomically when two asks race.
            return SubmitResult(existing, created=False)
        now = self._clock()
        if auto_approved:
            request = state.new_request(
                kind=kind,
                requester=requester,
                group=group,
                now=now,
                justification=justification,
                auto_approved=auto_approved,
            )
        else:
            approvers, orphaned = await self._approvers_for(kind, requester, group)
            request = state.new_request(
                kind=kind,
                requester=requester,
                group=group,
                now=now,
                justification=justification,
                approvers=approvers,
                orphaned=orphaned,
            )
        # The edge binds the activity's correlation id (bot/logs.py); kept on the request so
        # the worker's jobs for it log the same id.
        days = (
            self._membership_rules.days_for(group, membership_days)
            if kind is RequestKind.JOIN
            else None
        )
        request = request.model_copy(
            update={
                "correlation_id": _correlation_id(),
                "new_list": new_list,
                "membership_days": days,
                "grant_id": grant_id,
            }
        )
        stored, created = await self._store.create(request)
        if not created:
            return SubmitResult(stored, created=False)
        log.info(
            "request %s submitted (%s, %s)",
            stored.id,
            stored.kind.value,
            stored.status.value,
            extra={"request_id": stored.id},
        )
        if auto_approved:
            await self._jobs.enqueue(JobName.EXECUTE, stored.id)
            await self._record(AuditAction.SUBMITTED, stored, actor_id=requester.object_id)
            await self._record(
                AuditAction.APPROVED, stored, detail=f"no approval needed: {auto_approved}"
            )
        else:
            await self._jobs.enqueue(JobName.DELIVER_CARDS, stored.id)
            await self.lifecycle.schedule(stored)
            await self._record(
                AuditAction.SUBMITTED,
                stored,
                actor_id=requester.object_id,
                detail=f"asking {_named(stored.approvers)}",
            )
        return SubmitResult(stored, created=True)

    async def _approvers_for(
        self, kind: RequestKind, requester: Person, group: ListRef
    ) -> tuple[tuple[Approver, ...], bool]:
        current = await self._current_approvers(kind, requester, group)
        return current.asked_for(requester)

    # Reading ------------------------------------------------------------------------------

    async def open_request(
        self, requester_id: str, group_id: str, kind: RequestKind
    ) -> ApprovalRequest | None:
        return await self._store.open_request(requester_id, group_id, kind)

    async def get(self, request_id: str) -> ApprovalRequest:
        request = await self._store.get(request_id)
        if request is None:
            raise RequestNotFound(request_id)
        return request

    async def requests_of(self, requester_id: str, limit: int = 20) -> list[ApprovalRequest]:
        return await self._store.requests_of(requester_id, limit)

    async def recent(
        self, limit: int, statuses: Collection[RequestStatus] | None = None
    ) -> list[ApprovalRequest]:
        """Everyone's requests, newest first (for admins)."""
        return await self._store.recent(limit, statuses)

    # Deciding -----------------------------------------------------------------------------

    async def decide(
        self,
        request_id: str,
        actor: Person,
        *,
        approve: bool,
        reason: str = "",
        membership_days: int | None = None,
    ) -> ApprovalRequest:
        """Approve or deny. The actor is checked against the approvers as they are NOW (owners
        read live; plus the fallback approvers once they were asked), never against card data.
        An approver may time-box a JOIN (`membership_days`, at most the admin's maximum).

        Raises SelfApproval, NotAnApprover, or AlreadyDecided carrying the request as it is.
        """
        request = await self.get(request_id)
        current = await self._current_approvers(request.kind, request.requester, request.group)
        allowed = {a.object_id for a in current.approvers}
        if request.orphaned or request.asked_fallback:
            allowed |= {a.object_id for a in current.fallback}
        now = self._clock()
        if membership_days is not None:
            membership_days = self._membership_rules.days_for(request.group, membership_days)
        decided = await self._change(
            request,
            partial(
                state.decide,
                actor=actor,
                approve=approve,
                approver_ids=allowed,
                now=now,
                reason=reason,
                membership_days=membership_days,
            ),
        )
        # Logged under the approver's activity, naming the requester's correlation id too, so a
        # search for either finds the decision.
        log.info(
            "request %s %s by %s",
            decided.id,
            decided.status.value,
            actor.object_id,
            extra={"request_id": decided.id, "request_correlation_id": decided.correlation_id},
        )
        if approve:
            await self._jobs.enqueue(JobName.EXECUTE, decided.id)
            await self._jobs.enqueue(JobName.UPDATE_CARDS, decided.id)
            await self._record(
                AuditAction.APPROVED, decided, actor_id=actor.object_id, detail=reason
            )
            await self._tell(decided.requester, NoticeKind.APPROVED, decided)
        else:
            await self._jobs.enqueue(JobName.UPDATE_CARDS, decided.id)
            await self._record(AuditAction.DENIED, decided, actor_id=actor.object_id, detail=reason)
            await self._tell(decided.requester, NoticeKind.DENIED, decided)
        return decided

    async def cancel(self, request_id: str, actor: Person) -> ApprovalRequest:
        """The requester withdraws a pending request (NotTheRequester, NotCancellable)."""
        request = await self.get(request_id)
        cancelled = await self._change(
            request, partial(state.cancel, actor=actor, now=self._clock())
        )
        await self._jobs.enqueue(JobName.UPDATE_CARDS, cancelled.id)
        await self._record(AuditAction.CANCELLED, cancelled, actor_id=actor.object_id)
        return cancelled

    async def cancel_as_admin(self, request_id: str, reason: str = "") -> ApprovalRequest:
        """An admin cancels an open request: pending, or approved and not carried out yet
        (RequestNotFound, NotCancellable once it is final). The requester is told, and every
        approver's card is redrawn to show it.

        An approved request whose Exchange change is already in flight may still be carried
        out; the worker then records that in the audit trail and alerts the admins.
        """
        request = await self.get(request_id)
        was = request.status
        cancelled = await self._change(
            request, partial(state.cancel_as_admin, now=self._clock(), reason=reason)
        )
        await self._jobs.enqueue(JobName.UPDATE_CARDS, cancelled.id)
        note = f"was {was.value}" + (f"; reason: {reason}" if reason else "")
        await self._record(
            AuditAction.CANCELLED, cancelled, actor_id=ADMIN_CANCEL_ACTOR, detail=note
        )
        await self._tell(cancelled.requester, NoticeKind.CANCELLED, cancelled)
        return cancelled

    # Jobs ---------------------------------------------------------------------------------

    async def deliver_cards(self, request_id: str) -> None:
        """Post a card to each approver who has none yet. When no owner can be reached, the
        fallback approvers are asked instead; the requester hears who was asked."""
        request = await self.get(request_id)
        if request.status is not RequestStatus.PENDING:
            return
        request, reached = await self._send_cards(request)
        if not request.cards and request.status is RequestStatus.PENDING:
            if not request.asked_fallback:
                current = await self._current_approvers(
                    request.kind, request.requester, request.group
                )
                fallback = _without(current.fallback, request.requester)
                if fallback:
                    try:
                        request = await self._escalate(request, fallback)
                    except InvalidTransition:
                        return  # an owner decided without a card meanwhile: nobody to ask
                    request, reached = await self._send_cards(request)
        if reached:
            await self._record(AuditAction.CARDS_SENT, request, detail=f"to {_named(reached)}")
            kind = NoticeKind.SENT_TO_FALLBACK if request.asked_fallback else NoticeKind.SUBMITTED
            # An overdue escalation told the requester itself (lifecycle.escalate).
            if request.escalated_at is None:
                await self._tell(request.requester, kind, request)
        elif not request.cards and request.status is RequestStatus.PENDING:
            problem = (
                f"nobody who can approve could be reached in Teams (asked "
                f"{_named(request.approvers)}); approve or deny request {request.id} for them"
            )
            await self._record(AuditAction.UNREACHABLE, request, detail=problem)
            await self._alert(request, problem)
            # Delivery ran and reached nobody: resume_stalled must not take this request for one
            # whose delivery was lost, and deliver (and alert) again.
            await self._store.set_aside(request.id, request.version)

    async def _send_cards(self, request: ApprovalRequest) -> tuple[ApprovalRequest, list[Approver]]:
        reached: list[Approver] = []
        for approver in request.approvers:
            if request.status is not RequestStatus.PENDING:
                break
            if request.card_of(approver.object_id) is not None:
                continue
            card = await self._notifier.send_card(approver, request)
            if card is None:
                continue
            try:
                request = await self._change(
                    request, partial(state.add_card, card=card, now=self._clock())
                )
            except InvalidTransition as ended:
                # The request ended while the card was on its way; it is never stored, so it
                # is redrawn now or never.
                await self._notifier.update_card(card, ended.request)
                break
            reached.append(approver)
            if request.status is not RequestStatus.PENDING:
                # Decided while the card was on its way: that decision's redraw may have run
                # before this card was recorded.
                await self._notifier.update_card(card, request)
        return request, reached

    async def _escalate(
        self, request: ApprovalRequest, fallback: tuple[Approver, ...]
    ) -> ApprovalRequest:
        escalated = await self._change(
            request, partial(state.escalate, fallback=fallback, now=self._clock())
        )
        await self._record(
            AuditAction.SENT_TO_FALLBACK,
            escalated,
            detail=f"no owner reachable in Teams; asking {_named(fallback)}",
        )
        return escalated

    async def execute(self, request_id: str) -> None:
        """Make the approved change in Exchange, once (approvals.execution.Executor)."""
        await self._executor.execute(request_id)

    async def update_cards(self, request_id: str) -> None:
        """Redraw every posted card to show the request as it is now.

        Redraws of one request can run at once (one queued at the approval, one at the
        completion), and the older one's may reach Teams last. So after drawing, the request is
        read again, and if it changed meanwhile every card is drawn again from the newer state:
        the last redraw to finish is always of the latest state. A redraw of every card of the
        latest state settles what that state owed (`cards_owed_since`)."""
        request = await self.get(request_id)
        failures: list[Exception] = []
        for _ in range(_REDRAW_ROUNDS):
            failures = await self._redraw(request)
            latest = await self.get(request_id)
            if latest.version == request.version:
                if failures or latest.cards_owed_since is None or await self._drawn(latest):
                    break
                latest = await self.get(request_id)
            request = latest
        if failures:
            raise failures[0]

    async def _drawn(self, request: ApprovalRequest) -> bool:
        """Clear what `request` owed, at its own version (a same-version compare-and-set: a
        change made meanwhile keeps it owed, and is redrawn next)."""
        # The version is kept, not bumped: clearing the mark changes nothing a card shows, and
        # a new version would be a change to everyone watching versions. A redraw running at
        # once would see the request "changed" and draw it all again (each clearing and bumping
        # in turn), a step that read this version would lose its compare-and-set for nothing,
        # and the sweep, which looks at each open request once per version, would read it
        # again. Two documents at one version is safe here: a writer holding the older one
        # (still marked owed) can only leave it marked, which at worst costs a redraw more,
        # never one missed.
        try:
            await self._store.replace(
                request.model_copy(update={"cards_owed_since": None}), request.version
            )
        except ConcurrentUpdate:
            return False
        return True

    async def _redraw(self, request: ApprovalRequest) -> list[Exception]:
        failures: list[Exception] = []
        for card in request.cards:
            try:
                await self._notifier.update_card(card, request)
            except Exception as exc:  # one unreachable chat must not keep the others stale
                log.warning(
                    "redrawing %s's card of %s failed: %r", card.approver_id, request.id, exc
                )
                failures.append(exc)
        return failures

    # Sweeping -----------------------------------------------------------------------------

    async def resume_stalled(self, *, older_than_seconds: float = 60) -> int:
        """Queue again the job of every open request left without one: stored by a process
        that died before queueing its job. Returns how many requests it queued a job for.

        Looks at open requests unchanged for `older_than_seconds` (longer than their jobs
        take to be picked up), each once per version (the store sets them aside): a pending
        request with no card posted gets DELIVER_CARDS, an approved one EXECUTE, and a pending
        one its lifecycle timers (Lifecycle.requeue; not counted). Nothing else: no one is told
        anything. All of these are keyed per request, so one queued for a request whose job is
        in fact queued or running is dropped by the queue, and all are safe to run again anyway.

        Then, whatever their status: the redraw of cards still owed REDRAW_GRACE after the
        change that made them stale (approvals.redraws; not counted; given up REDRAW_GIVE_UP
        after it), and once per process the lifecycle timers under the current timings, a
        bounded part each sweep (Lifecycle.retime).
        """
        cutoff = self._clock() - timedelta(seconds=older_than_seconds)
        seen: set[tuple[str, int]] = set()
        resumed = 0
        while True:
            page = await self._store.open_requests(cutoff, _SWEEP_PAGE)
            fresh = [r for r in page if (r.id, r.version) not in seen]
            for request in fresh:
                seen.add((request.id, request.version))
                job = _lost_job(request)
                if job is not None:
                    await self._jobs.enqueue(job, request.id)
                    resumed += 1
                    log.info(
                        "request %s (%s) unchanged since %s: queued %s again",
                        request.id,
                        request.status.value,
                        request.updated_at.isoformat(),
                        job.value,
                    )
                # A pending request's timers may have been lost the same way.
                await self.lifecycle.requeue(request)
                # After queueing: a crash before this line only means looking at it again.
                await self._store.set_aside(request.id, request.version)
            # A short page is the last; a page of nothing new means set_aside could not
            # unlist them (changed meanwhile), and they are looked at again next time.
            if len(page) < _SWEEP_PAGE or not fresh:
                break
        await self._redraw_owed()
        # Timers queued under other settings follow the current ones: once per process, a
        # bounded part of the queue each sweep until it is through (Lifecycle.retime).
        await self.lifecycle.retime()
        return resumed

    async def _redraw_owed(self) -> None:
        """Queue the redraw of every request whose cards still owe one REDRAW_GRACE after the
        change that made them stale; drop ledger entries that owe nothing."""
        now = self._clock()
        for _ in range(_REDRAW_SWEEP_PAGES):
            page = await self._redraws.due(now - REDRAW_GRACE, _SWEEP_PAGE)
            for request_id, since in page:
                request = await self._store.get(request_id)
                if request is None or request.cards_owed_since is None:
                    await self._redraws.settle(request_id, since)
                    continue
                # Given up only once the sweep has queued it before (the entry was moved on at
                # least once), so a request owed since before a long outage still gets a try.
                tried = since - request.cards_owed_since >= _REDRAW_RETRY
                if tried and now - request.cards_owed_since >= REDRAW_GIVE_UP:
                    await self._redraws.settle(request_id, since)
                    log.warning(
                        "request %s (%s): cards still not redrawn since %s; gave up redrawing "
                        "them (they show an older status until the request changes again)",
                        request_id,
                        request.status.value,
                        request.cards_owed_since.isoformat(),
                    )
                    continue
                await self._jobs.enqueue(JobName.UPDATE_CARDS, request_id)
                log.info(
                    "request %s (%s): cards not redrawn since %s; queued their redraw",
                    request_id,
                    request.status.value,
                    request.cards_owed_since.isoformat(),
                )
                await self._redraws.postpone(request_id, since, now + _REDRAW_RETRY)
            # Each entry read was dropped or moved past the cutoff, so the next page is new.
            if len(page) < _SWEEP_PAGE:
                return

    # Plumbing -----------------------------------------------------------------------------

    async def _current_approvers(
        self, kind: RequestKind, requester: Person, group: ListRef
    ) -> ApproverSet:
        """Who may decide now: a list's owners, or for a new list the creation approvers."""
        if kind is not RequestKind.CREATE:
            return await self._approvers.current_approvers(group)
        if self._creation_approvers is None:
            return ApproverSet((), orphaned=True)
        return await self._creation_approvers.creation_approvers(requester)

    async def _approvers_of(self, request: ApprovalRequest) -> ApproverSet:
        return await self._current_approvers(request.kind, request.requester, request.group)

    async def _change(self, request: ApprovalRequest, step: Step) -> ApprovalRequest:
        """Apply `step` and store the result by compare-and-set; on a lost race, reload and
        apply it again to the request as it now is (where it may raise, e.g. AlreadyDecided)."""
        for _ in range(_CAS_ROUNDS):
            new = step(request)
            if new.cards and new.status not in (request.status, RequestStatus.PENDING):
                # Every card now shows an older status: owed in this same compare-and-set, and
                # noted in the ledger first, so a crash before the redraw is queued loses nothing.
                # (With no card out there is nothing to redraw; one landing later is redrawn
                # by its sender, and by the next change of status.)
                new = new.model_copy(update={"cards_owed_since": new.updated_at})
                await self._redraws.owe(new.id, new.updated_at)
            try:
                return await self._store.replace(new, request.version)
            except ConcurrentUpdate:
                request = await self.get(request.id)
        raise ConcurrentUpdate(request.id, request.version)

    async def _record(self, action: AuditAction, request: ApprovalRequest, **fields: str) -> None:
        await self._audit.append(AuditEvent.of(action, request, at=self._clock(), **fields))

    async def _tell(self, person: Person, kind: NoticeKind, request: ApprovalRequest) -> None:
        # Best effort: the request is already stored and the person can always ask for its
        # status, so a failed message must not undo or repeat the step that led to it.
        try:
            reached = await self._notifier.notify(person, kind, request)
        except Exception:
            log.exception(
                "telling %s %s about request %s failed", person.object_id, kind, request.id
            )
            return
        if not reached:
            log.warning("could not tell %s %s about request %s", person.object_id, kind, request.id)

    async def _alert(self, request: ApprovalRequest, problem: str) -> None:
        # Best effort too, for the same reason; the log line is the alert of last resort.
        try:
            await self._notifier.alert_admins(request, problem)
        except Exception:
            log.exception("alerting the admins about request %s failed: %s", request.id, problem)


def _correlation_id() -> str:
    """The id bot/logs.py bound for the activity being handled ("" outside one): read from the
    logging context rather than passed down through every use case that may submit."""
    value = structlog.contextvars.get_contextvars().get("correlation_id", "")
    return value if isinstance(value, str) else ""


def _lost_job(request: ApprovalRequest) -> JobName | None:
    """The job an open request unchanged for a while may have lost, if any."""
    if request.status is RequestStatus.PENDING and not request.cards:
        return JobName.DELIVER_CARDS  # submitted, and no card out: its delivery may be lost
    if request.status is RequestStatus.APPROVED:
        return JobName.EXECUTE  # approved and not carried out: its execution may be lost
    return None


def _without(approvers: tuple[Approver, ...], person: Person) -> tuple[Approver, ...]:
    return tuple(a for a in approvers if a.object_id != person.object_id)


def _named(people: tuple[Approver, ...] | list[Approver]) -> str:
    return ", ".join(f"{p.display_name} ({p.via})" for p in people) or "nobody"
