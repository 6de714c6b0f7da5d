"""Time-boxed membership, carried out: grants made when a time-boxed JOIN completes, renewal
prompts before the end, renewal, and the removal at the end.

Everything that changes Exchange goes through ApprovalService, so it inherits its guarantees:
the end is a LEAVE request approved at once ("time-boxed membership ended"), executed by the
workers exactly once (compare-and-set on the request, an idempotent remove where "not a member"
is done), retried, audited, and alerted on when Exchange refuses; a renewal is a JOIN request for
the same term that the owners approve like any other (or approved at once where the list is open
or the member owns it: skills.renew_membership decides that from the live list).

The timers are saq jobs keyed per grant and term (JobName.GRANT_PROMPT, GRANT_END), scheduled
at an absolute time when a term starts: they survive restarts, and a renewal starts a new term
whose timers replace the old ones in effect (the old ones find a newer term and do nothing).
Each timer claims its step by compare-and-set on the grant, so two workers, a retry and the
sweeper's re-queue do it once. The sweeper (`resume_overdue`, each minute) queues the end job
again for a grant past its end still waiting for one (a process died between storing the grant
and queueing its timers), and for a grant still ENDING: that job reads its removal request and
settles the grant once the request is final, which is how an admin's cancel of the removal
(`dlbot requests cancel`, a process with no grant service of its own) keeps the member, for
good (KEPT: once no removal can still be running in Exchange; one that went through all the
same ends the grant instead), and how a grant whose hook was missed by a dying worker ends
after all. The sweeper reads the grants a page at a time: a mass end keeps many ENDING.

A renewal prompt is recorded as sent only once Teams took it (the compare-and-set on
`prompted`), so a delivery that failed (Bot Connector unreachable or 5xx) is counted on the
grant and raised for saq to retry with backoff; after PROMPT_ATTEMPTS failures it is given up:
audited as not delivered and logged at WARNING. Teams refusing the member (the bot cannot reach
them at all) gives up at once. A worker that dies between Teams taking the card and the record
may send it again: at least once per attempt, never again once recorded.

MemberDepartRestriction does not stop the end: it governs members leaving by themselves, and
the owners agreed to the end date when they approved (Exchange applies no restriction to the
bot's Remove-DistributionGroupMember either). A list moved on-premises (dir-synced) meanwhile
cannot be written: the LEAVE fails permanently, the admins are alerted by the workflow, the
grant ends as END_FAILED (audited) and the member is told that the admins will remove them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from approvals import grants
from approvals.audit import AuditAction, AuditEvent, AuditLog
from approvals.errors import InvalidTransition, RequestNotFound
from approvals.grant_store import GrantStore
from approvals.grants import (
    PROMPT_DAYS_BEFORE,
    Grant,
    GrantConflict,
    GrantNotActive,
    GrantStatus,
    MembershipRules,
    NotTheMember,
)
from approvals.models import (
    ADMIN_CANCEL_ACTOR,
    ApprovalRequest,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.ports import JobName, JobQueue
from approvals.service import ApprovalService, SubmitResult, utc_now

log = logging.getLogger(__name__)

# What the LEAVE that ends a grant records as `auto_approved` (no approval: the owners agreed
# to the end date when they approved the membership).
END_REASON = "time-boxed membership ended"

# saq schedules in whole seconds, so a timer may run a moment before its time: an end job
# that early still counts as due (the sweeper would catch it a minute later anyway).
_EARLY = timedelta(seconds=60)
# How long past its end a grant may wait for its end job before the sweeper queues it again.
_OVERDUE = timedelta(minutes=2)
# How many times a renewal prompt is tried before it is given up; the saq retries of
# GRANT_PROMPT (bot/jobs.py) allow at least this many runs. A prompt queued with fewer (before
# this release) is given up on saq's last run instead: see LAST_PROMPT_RUN.
PROMPT_ATTEMPTS = 10
# Set by the job runner (bot/jobs.py) while the GRANT_PROMPT run is the job queue's last: a
# failure then gives the prompt up (audited, logged) rather than leaving saq to drop it unsaid.
LAST_PROMPT_RUN: ContextVar[bool] = ContextVar("last_prompt_run", default=False)
# An admin's cancel may land while the removal is already running in Exchange: one run of the
# EXECUTE job takes up to its timeout (ten minutes, bot/jobs.py), and a removal that goes
# through ends the grant by the workflow's hook even so. So the member is kept only once the
# cancel is this old, when no removal can still be in flight.
_CANCEL_SETTLED = timedelta(minutes=11)
# How many grants one sweep reads at most, a page at a time: a mass end keeps thousands ENDING
# (each waits for its removal), and the sweep must still reach a lost end job behind them,
# yet finish well inside its minute; whatever is past this is the next minute's.
_SWEEP_PAGE = 100
_SWEEP_MAX = 5000
_CAS_ROUNDS = 16

Step = Callable[[Grant], Grant]


class GrantNotifier(Protocol):
    """What the member hears about their time-boxed membership (bot/ draws it)."""

    async def granted(self, grant: Grant, *, renewed: bool) -> bool:
        """You are on the list until <date> (or: renewed until <date>)."""
        ...

    async def prompt_renewal(self, grant: Grant, days_before: int) -> bool:
        """Your membership ends in N days: a card with Renew."""
        ...

    async def ended(self, grant: Grant, *, failed: bool) -> bool:
        """Your time ran out: you were removed (or the admins will remove you; or, when the
        grant is KEPT, an admin stopped the removal and you stay a member)."""
        ...


@dataclass(frozen=True)
class RenewResult:
    grant: Grant
    # The JOIN asking the owners to renew; None when renewed at once.
    request: ApprovalRequest | None = None
    asked_before: bool = False  # the member's earlier renewal request is still open


def prompt_job_id(grant: Grant, days_before: int) -> str:
    return f"{grant.id}.{grant.generation}.{days_before}"


def end_job_id(grant: Grant) -> str:
    return f"{grant.id}.{grant.generation}"


def _admin_cancelled_end(grant: Grant, request: ApprovalRequest) -> bool:
    """Whether `request` is the grant's own removal, cancelled by an admin (`dlbot requests
    cancel`): the one thing that keeps a member whose time ran out."""
    return (
        request.status is RequestStatus.CANCELLED
        and request.id == grant.end_request_id
        and request.grant_id == grant.id
        and request.cancelled_by is not None
        and request.cancelled_by.display_name == ADMIN_CANCEL_ACTOR
    )


def _parse_job_id(job_id: str, parts: int) -> tuple[str, ...] | None:
    found = tuple(job_id.split("."))
    if len(found) != parts or not all(p.isdigit() for p in found[1:]):
        log.error("not a grant job id: %r", job_id)
        return None
    return found


class GrantService:
    def __init__(
        self,
        *,
        store: GrantStore,
        approvals: ApprovalService,
        jobs: JobQueue,
        notifier: GrantNotifier,
        audit: AuditLog,
        rules: MembershipRules | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._approvals = approvals
        self._jobs = jobs
        self._notifier = notifier
        self._audit = audit
        self._rules = rules or MembershipRules()
        self._clock = clock
        approvals.attach_membership(self)

    # Reading ------------------------------------------------------------------------------

    async def get(self, grant_id: str) -> Grant | None:
        return await self._store.get(grant_id)

    async def grants_of(self, member_id: str, limit: int = 20) -> list[Grant]:
        return await self._store.of_member(member_id, limit)

    # Hooks of the approval workflow (MembershipHooks) -------------------------------------

    async def completed(self, request: ApprovalRequest) -> None:
        if request.kind is RequestKind.JOIN and request.membership_days is not None:
            await self._grant(request, request.membership_days)
        elif request.kind is RequestKind.LEAVE:
            await self._left(request, failed=False)

    async def failed(self, request: ApprovalRequest) -> None:
        # A renewal JOIN that failed leaves the grant running to its end, as if never asked.
        if request.kind is RequestKind.LEAVE:
            await self._left(request, failed=True)

    async def _grant(self, request: ApprovalRequest, days: int) -> None:
        """A time-boxed JOIN completed: a new grant, or a new term of the member's active one
        (a renewal, or the same time-boxed ask made again)."""
        now = self._clock()
        current = await self._store.get(request.grant_id) if request.grant_id else None
        if current is None or not current.is_active:
            current = await self._store.current(
                request.requester.object_id, request.group.object_id
            )
        if current is not None and current.is_active:
            try:
                renewed = await self._change(
                    current,
                    partial(grants.renew, days=days, now=now, cap=self._cap(current, now)),
                )
            except GrantNotActive:
                pass  # its time ran out meanwhile: the member is on the list again, anew
            else:
                await self._schedule(renewed)
                by = request.decision.actor.display_name if request.decision else ""
                why = f"approved by {by}" if by else f"no approval needed: {request.auto_approved}"
                await self._record(
                    AuditAction.RENEWED,
                    renewed,
                    actor_id=request.decision.actor.object_id if request.decision else "",
                    detail=f"until {renewed.ends_at.isoformat()}; {why} (request {request.id})",
                )
                await self._tell(self._notifier.granted(renewed, renewed=True), renewed)
                return
        if request.execution.outcome == "already_member" and not request.grant_id:
            # Someone made them a member meanwhile, for good: a time limit asked for on top
            # must not take away a membership it did not give (they hear "you already were").
            log.info("request %s: already a member, so no time limit is recorded", request.id)
            return
        grant = grants.new_grant(
            grant_id=request.id,
            member=request.requester,
            group=request.group,
            days=days,
            now=now,
        )
        if not await self._store.create(grant):
            return  # recorded already by an earlier run of this hook
        await self._schedule(grant)
        await self._record(
            AuditAction.GRANTED,
            grant,
            detail=f"for {grant.days} days, until {grant.ends_at.isoformat()}",
        )
        await self._tell(self._notifier.granted(grant, renewed=False), grant)

    async def _left(self, request: ApprovalRequest, *, failed: bool) -> None:
        """A LEAVE finished: the end of a grant, or the member leaving before it."""
        grant = await self._store.get(request.grant_id) if request.grant_id else None
        if grant is None:
            grant = await self._store.current(request.requester.object_id, request.group.object_id)
        if grant is None or grant.status not in (
            GrantStatus.ACTIVE,
            GrantStatus.ENDING,
            GrantStatus.KEPT,  # kept for good, but off the list once they leave
        ):
            return
        # Its own removal went through (also when an admin's cancel came too late and the
        # grant was kept meanwhile): the time ran out; any other LEAVE is the member's own.
        timed_out = grant.status is GrantStatus.ENDING or (
            grant.status is GrantStatus.KEPT and request.id == grant.end_request_id
        )
        if failed and (not timed_out or grant.status is GrantStatus.KEPT):
            return  # they (or a removal cancelled) could not leave: still a member, as before
        try:
            ended = await self._change(
                grant, partial(grants.ended, now=self._clock(), failed=failed)
            )
        except GrantNotActive:
            return  # ended by another run
        if failed:
            result, detail = "failed", f"removal refused by Exchange: {request.execution.error}"
        elif timed_out:
            result, detail = request.execution.outcome, f"time ran out (request {request.id})"
        else:
            result, detail = "left", f"left before the end (request {request.id})"
        await self._record(
            AuditAction.MEMBERSHIP_ENDED,
            ended,
            cmdlet="Remove-DistributionGroupMember" if timed_out else "",
            result=result,
            exchange_request_id=request.execution.exchange_request_id,
            detail=detail,
        )
        if timed_out:
            await self._tell(self._notifier.ended(ended, failed=failed), ended)

    # Jobs ---------------------------------------------------------------------------------

    async def prompt(self, job_id: str) -> None:
        """Ask the member whether to renew, once per prompt and term."""
        parsed = _parse_job_id(job_id, 3)
        if parsed is None:
            return
        days_before, generation = int(parsed[2]), int(parsed[1])
        grant = await self._store.get(parsed[0])
        if grant is None or not grant.may_prompt(days_before=days_before, generation=generation):
            return  # renewed, ended, or delivered (or given up) by an earlier run
        try:
            reached = await self._notifier.prompt_renewal(grant, days_before)
        except Exception as exc:
            # Teams (the Bot Connector) failed: counted on the grant, then raised for saq to
            # run this again with backoff, unless that was the last attempt (ours, or saq's).
            if await self._prompt_failed(
                grant, days_before, generation, repr(exc), last=LAST_PROMPT_RUN.get()
            ):
                raise
            return
        if not reached:
            # Teams will not let the bot reach the member at all: trying again cannot help.
            await self._prompt_failed(
                grant, days_before, generation, "Teams cannot reach the member", unreachable=True
            )
            return
        try:
            prompted = await self._change(
                grant, partial(grants.prompt, days_before=days_before, generation=generation)
            )
        except GrantNotActive:
            return  # renewed or ended while the card was on its way
        await self._record(
            AuditAction.RENEWAL_PROMPTED,
            prompted,
            detail=f"{days_before} days before the end ({prompted.ends_at.isoformat()})",
        )

    async def _prompt_failed(
        self,
        grant: Grant,
        days_before: int,
        generation: int,
        error: str,
        *,
        last: bool = False,
        unreachable: bool = False,
    ) -> bool:
        """Count a failed delivery of a prompt; True when it is to be tried again, False when
        it was given up now (audited, logged) or no longer matters (renewed or ended). It is
        given up after PROMPT_ATTEMPTS, or at once when this was the `last` run the job queue
        allows, or when Teams cannot reach the member at all (`unreachable`)."""
        attempts = 1 if last or unreachable else PROMPT_ATTEMPTS
        try:
            failed = await self._change(
                grant,
                partial(
                    grants.prompt_failed,
                    days_before=days_before,
                    generation=generation,
                    max_attempts=attempts,
                ),
            )
        except GrantNotActive:
            return False
        tries = failed.prompt_failures.count(days_before)
        if days_before not in failed.undelivered:
            log.info(
                "renewal prompt %s of grant %s not delivered (attempt %d of %d): %s",
                days_before,
                grant.id,
                tries,
                PROMPT_ATTEMPTS,
                error,
            )
            return True
        log.warning(
            "renewal prompt %s of grant %s (%s on %s) not delivered, given up after %d "
            "attempt(s): %s",
            days_before,
            grant.id,
            grant.member.object_id,
            grant.group.address,
            tries,
            error,
        )
        await self._record(
            AuditAction.RENEWAL_PROMPT_UNDELIVERED,
            failed,
            result="unreachable" if unreachable else "failed",
            detail=(
                f"{days_before} days before the end ({failed.ends_at.isoformat()}); "
                f"{tries} attempt(s): {error}"
            ),
        )
        return False

    async def end(self, job_id: str) -> None:
        """The term is over: remove the member through a LEAVE approved at once."""
        parsed = _parse_job_id(job_id, 2)
        if parsed is None:
            return
        grant = await self._store.get(parsed[0])
        if grant is None:
            return
        if grant.is_active:
            try:
                grant = await self._change(
                    grant,
                    partial(
                        grants.claim_end, generation=int(parsed[1]), now=self._clock() + _EARLY
                    ),
                )
            except GrantNotActive:
                return  # renewed (a newer term has its own end), ended, or not due
        if grant.status is not GrantStatus.ENDING:
            return
        if grant.end_request_id:
            lost = await self._settle(grant)
            if lost is None:
                return
            grant = lost  # its removal ended without removing anyone: asked for again below
        # A run that died after the claim ends up here again (saq retries it, or the sweeper
        # queues it): one open LEAVE per member and list, so asking again returns the first.
        submitted = await self._submit_end(grant)
        if not submitted.created and submitted.request.status is RequestStatus.PENDING:
            # The member asked to leave themselves and the owners have not decided: that
            # request could still be denied or expire, leaving them on the list for good. It
            # gives way to the end, which needs nobody's approval.
            try:
                await self._approvals.cancel_as_admin(submitted.request.id, reason=END_REASON)
            except InvalidTransition:
                pass  # decided meanwhile: approved, it removes them; denied, asked anew below
            submitted = await self._submit_end(grant)
        try:
            await self._change(grant, partial(grants.ending_by, request_id=submitted.request.id))
        except GrantNotActive:
            pass  # recorded by another run, or the removal already finished and ended it

    async def _settle(self, grant: Grant) -> Grant | None:
        """An ENDING grant whose removal was asked for: nothing while that request is open
        (its own jobs carry it out); once it is final, what its hook would have done, had
        it run (a worker died), or had there been one (an admin's cancel). Returns the grant
        when its removal must be asked for again."""
        try:
            request = await self._approvals.get(grant.end_request_id)
        except RequestNotFound:
            log.error("grant %s: its removal request %s is gone", grant.id, grant.end_request_id)
            return None
        match request.status:
            case RequestStatus.COMPLETED:
                await self._left(request, failed=False)
            case RequestStatus.FAILED:
                await self._left(request, failed=True)
            case RequestStatus.CANCELLED if _admin_cancelled_end(grant, request):
                if self._clock() >= request.updated_at + _CANCEL_SETTLED:
                    await self._keep(grant, request)
            case RequestStatus.CANCELLED | RequestStatus.DENIED | RequestStatus.EXPIRED:
                # Not the removal an admin cancelled (the member's own LEAVE recorded as the
                # removal, cancelled by anyone; or denied or expired, which cannot happen to a
                # removal approved when asked): nobody chose to keep the member, so the time
                # limit still stands and the removal is asked again.
                try:
                    return await self._change(
                        grant, partial(grants.end_request_lost, request_id=request.id)
                    )
                except GrantNotActive:
                    pass
        return None

    async def _keep(self, grant: Grant, request: ApprovalRequest) -> None:
        """The LEAVE removing the member was cancelled by an admin (`dlbot requests cancel`),
        _CANCEL_SETTLED ago: the admin stopped the end, so the member stays, with no end date
        (KEPT), is told, and no timer or sweep ends it again (their leaving later does).
        (Cancelled before the grant recorded it, it is recorded all the same by the end job,
        and settled here by a later sweep.)"""
        try:
            kept = await self._change(
                grant, partial(grants.kept, request_id=request.id, now=self._clock())
            )
        except GrantNotActive:
            return  # settled by another run
        by = request.cancelled_by
        who = (by.object_id or by.display_name) if by is not None else ""
        why = f"; reason: {request.cancel_reason}" if request.cancel_reason else ""
        await self._record(
            AuditAction.MEMBERSHIP_KEPT,
            kept,
            actor_id=who,
            result="kept",
            detail=(
                f"the removal (request {request.id}) was cancelled by {who or 'someone'}{why}; "
                "the membership stays, with no end date"
            ),
        )
        await self._tell(self._notifier.ended(kept, failed=False), kept)

    async def _submit_end(self, grant: Grant) -> SubmitResult:
        return await self._approvals.submit(
            kind=RequestKind.LEAVE,
            requester=grant.member,
            group=grant.group,
            auto_approved=END_REASON,
            grant_id=grant.id,
        )

    async def resume_overdue(self) -> int:
        """Queue again the end job of every grant past its end still waiting for it, or still
        ENDING (the job settles it once its removal request is final). Keyed per grant and
        term, so one already queued or running is not queued twice."""
        before = self._clock() - _OVERDUE
        count = 0
        # Page by page, up to _SWEEP_MAX. A grant leaving the index meanwhile (its end job
        # settled it) shifts the later pages, so one may be passed over: the next sweep has it.
        for offset in range(0, _SWEEP_MAX, _SWEEP_PAGE):
            page = await self._store.due(before, limit=_SWEEP_PAGE, offset=offset)
            for grant in page:
                await self._jobs.enqueue(JobName.GRANT_END, end_job_id(grant))
                count += 1
            if not page:  # (a short page is no end: the Redis store drops stale entries from it)
                break
        return count

    # Renewing -----------------------------------------------------------------------------

    async def renew(
        self, grant_id: str, actor: Person, *, at_once: str = "", justification: str = ""
    ) -> RenewResult:
        """The member asks for another term: at once when `at_once` says why no approval is
        needed, else a JOIN for the same term goes to the owners (its approval renews).
        Raises RequestNotFound, NotTheMember, GrantNotActive."""
        grant = await self._store.get(grant_id)
        if grant is None:
            raise RequestNotFound(grant_id)
        if actor.object_id != grant.member.object_id:
            raise NotTheMember(actor)
        if not grant.is_active:
            raise GrantNotActive(grant)
        now = self._clock()
        if at_once:
            renewed = await self._change(
                grant, partial(grants.renew, days=grant.days, now=now, cap=self._cap(grant, now))
            )
            await self._schedule(renewed)
            await self._record(
                AuditAction.RENEWED,
                renewed,
                actor_id=actor.object_id,
                detail=f"until {renewed.ends_at.isoformat()}; no approval needed: {at_once}",
            )
            return RenewResult(renewed)
        if grant.renewal_request_id:
            try:
                earlier = await self._approvals.get(grant.renewal_request_id)
            except RequestNotFound:
                earlier = None
            if earlier is not None and earlier.is_open:
                return RenewResult(grant, earlier, asked_before=True)
        submitted = await self._approvals.submit(
            kind=RequestKind.JOIN,
            requester=grant.member,
            group=grant.group,
            justification=justification,
            membership_days=grant.days,
            grant_id=grant.id,
        )
        try:
            grant = await self._change(
                grant, partial(grants.asked_to_renew, request_id=submitted.request.id)
            )
        except GrantNotActive:
            pass  # it ended meanwhile; the approved JOIN then makes a new grant
        return RenewResult(grant, submitted.request, asked_before=not submitted.created)

    # Plumbing -----------------------------------------------------------------------------

    def _cap(self, grant: Grant, now: datetime) -> datetime | None:
        limit = self._rules.max_days(grant.group)
        return None if limit is None else now + timedelta(days=limit)

    async def _schedule(self, grant: Grant) -> None:
        """The timers of the grant's current term, each at its absolute time (a prompt whose
        time has passed, in a term shorter than its lead time, is left out)."""
        now = self._clock()
        for days_before in PROMPT_DAYS_BEFORE:
            due = grant.ends_at - timedelta(days=days_before)
            if due > now and days_before not in grant.prompted:
                await self._jobs.enqueue(
                    JobName.GRANT_PROMPT,
                    prompt_job_id(grant, days_before),
                    delay_seconds=(due - now).total_seconds(),
                )
        await self._jobs.enqueue(
            JobName.GRANT_END,
            end_job_id(grant),
            delay_seconds=max(0.0, (grant.ends_at - now).total_seconds()),
        )

    async def _change(self, grant: Grant, step: Step) -> Grant:
        """Apply `step` and store it by compare-and-set; on a lost race apply it again to the
        grant as it now is (where it may raise GrantNotActive)."""
        for _ in range(_CAS_ROUNDS):
            try:
                return await self._store.replace(step(grant), grant.version)
            except GrantConflict:
                reloaded = await self._store.get(grant.id)
                if reloaded is None:
                    raise
                grant = reloaded
        raise GrantConflict(grant.id)

    async def _record(self, action: AuditAction, grant: Grant, **fields: str) -> None:
        await self._audit.append(
            AuditEvent(
                at=self._clock(),
                event=action.value,
                request_id=grant.id,
                list_id=grant.group.object_id,
                list_address=grant.group.address,
                kind=RequestKind.JOIN.value,
                **fields,
            )
        )

    async def _tell(self, told: Awaitable[bool], grant: Grant) -> None:
        # Best effort, like the workflow's notices: the grant is stored and "my requests" shows
        # it, so a failed message must not undo or repeat the step.
        try:
            reached = await told
        except Exception:
            log.exception("telling %s about grant %s failed", grant.member.object_id, grant.id)
            return
        if not reached:
            log.warning("could not tell %s about grant %s", grant.member.object_id, grant.id)
