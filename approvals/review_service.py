"""Owner access reviews, carried out: who is reviewed, the cards, the decisions, the removals,
and the reminder, escalation and close of a review nobody answers.

What is reviewed: the members the bot added to a list (kept per list from completed JOINs,
dropped again by completed LEAVEs: `completed`, a MembershipHooks of the workflow), or, when the
admin enables it, every direct member (Get-DistributionGroupMember, through ReviewListFacts).
A list is due `every_days` after the bot first added someone to it, then `every_days` after
each review started; the daily cron (`start_due`) claims each due list by compare-and-set, so
one worker starts its review however many run the cron.

Removals go through ApprovalService: each is a LEAVE approved at once ("access review by
<owner>"), executed by the workers exactly once, retried, audited, and alerted on when Exchange
refuses. The removal job is keyed per review and records each LEAVE on the review by
compare-and-set, so a retried or repeated job asks for each removal once.

MemberDepartRestriction does not stop a review's removal: that restriction governs members
leaving by themselves, while this is the owners' own decision (Exchange applies it to the bot's
Remove-DistributionGroupMember no more than to an owner's). A dir-synced list is mastered
on-premises and cannot be written: its review is not started (audited as review_skipped), since
owners would decide removals nobody could carry out.

A review nobody finishes ends: `close_after` past the escalation it closes as not answered
(REVIEW_CLOSE, a job keyed per review and the second it is due, claimed by compare-and-set like
the reminder). What someone decided is carried out (the removal job, as for a finished review);
everyone nobody decided on stays, because a bot that writes to the directory removes people
only on a person's decision. Every card is redrawn without buttons, and the fallback approvers
(and the admins) are told in one message each.

The close follows the close days the workers run with now: a close job that fires before the
review is due under them (queued under more days) queues itself for the due time and does
nothing; the sweep queues at once the close of a review overdue under them (fewer days). The
close and its announcement (jobs queued, people told, the audit) are two writes: the close
notes on the review that it is still to be announced, and a run retried after failing part way
(Teams throttled) announces it, as does the sweep's once saq's retries are spent. Someone told
before the failure may be told twice; the audit says it once. A list deleted while its review
was open has no owners to read: everyone asked (and the admins) are told.

Whoever clicks a review card is checked against the list's CURRENT owners at click time (the
card's data only names the review); after escalation the fallback approvers may decide too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from approvals import reviews
from approvals.audit import AuditAction, AuditEvent, AuditLog
from approvals.errors import InvalidTransition, RequestNotFound
from approvals.models import (
    FALLBACK_VIA,
    ApprovalRequest,
    Approver,
    CardRef,
    ListRef,
    Person,
    RequestStatus,
)
from approvals.models import RequestKind as Kind
from approvals.ports import ApproverSource, JobName, JobQueue
from approvals.review_store import ReviewStore
from approvals.reviews import Choice, NotAReviewer, Review, ReviewClosed, ReviewConflict
from approvals.service import ApprovalService, SubmitResult, utc_now
from approvals.state import new_request_id
from exchange.errors import ObjectNotFound

log = logging.getLogger(__name__)

# A redraw that keeps finding the review changed after this many rounds leaves the rest to the
# redraw queued by the latest change.
_REDRAW_ROUNDS = 5

REVIEW_KIND = "review"  # AuditEvent.kind of every review event

_CAS_ROUNDS = 16
# How long a review's next step may wait for its job before the sweeper queues it again (a
# process died between storing the review and queueing the job).
_STALLED = timedelta(minutes=2)
_CARDS_LOST_WITHIN = timedelta(hours=1)
_SWEEP_LIMIT = 10_000
# A close job this close to its time acts rather than waits (as approvals.lifecycle's timers do):
# saq may run a job a second early, and a worker's clock may be a little behind.
_EARLY = timedelta(minutes=1)
# saq retries a failed close for about six minutes (bot.jobs RETRY_PLANS); the sweep queues the
# announcement of a close again only after those, so that the two rarely run it at once.
_ANNOUNCE_STALLED = timedelta(minutes=15)
# Outcomes of a completed JOIN in which the bot (not someone else before it) made the member.
_ADDED = frozenset({"added"})

Step = Callable[[Review], Review]


@dataclass(frozen=True)
class ReviewPolicy:
    """DLBOT_REVIEW_EVERY_DAYS (0: no reviews), DLBOT_REVIEW_ALL_MEMBERS, when an unanswered
    review is reminded and escalated (after its start), and closed (after the escalation, or
    the start when there is none); None: never."""

    every_days: int = 90
    all_members: bool = False
    remind_after: timedelta | None = timedelta(days=3)
    escalate_after: timedelta | None = timedelta(days=7)
    close_after: timedelta | None = timedelta(days=7)

    @property
    def is_on(self) -> bool:
        return self.every_days > 0

    @property
    def close_at(self) -> timedelta | None:
        """How long after its start an unanswered review closes (None: never)."""
        if self.close_after is None:
            return None
        return (self.escalate_after or timedelta(0)) + self.close_after


@dataclass(frozen=True)
class _Told:
    """Who is told that a review closed unanswered (besides the admins), and why so."""

    people: tuple[Approver, ...]
    list_gone: bool = False


@dataclass(frozen=True)
class ListFacts:
    dir_synced: bool
    depart_restriction: str = "Open"


class ReviewListFacts(Protocol):
    """What a review needs to know of the list as it is now (exchange/ implements it)."""

    async def list_facts(self, group: ListRef) -> ListFacts:
        """Raise RequestNotFound-like errors as they come: the cron logs and goes on."""
        ...

    async def direct_members(self, group: ListRef) -> list[Person]:
        """Every direct member that is a person (paged in Exchange)."""
        ...


class ReviewNotifier(Protocol):
    """The review cards in Teams (bot/ draws them)."""

    async def send_review(
        self, reviewer: Approver, review: Review, *, reminder: bool = False
    ) -> CardRef | None:
        """Post the review card to one reviewer; None when Teams cannot reach them."""
        ...

    async def update_review(self, card: CardRef, review: Review) -> None:
        """Redraw one posted card to show the review as it is now."""
        ...

    async def review_closed(self, review: Review, tell: tuple[Approver, ...]) -> None:
        """Tell `tell` (and whoever else the edge alerts) in one plain message each that the
        review closed unanswered."""
        ...


class ReviewService:
    def __init__(
        self,
        *,
        store: ReviewStore,
        approvals: ApprovalService,
        approvers: ApproverSource,
        jobs: JobQueue,
        notifier: ReviewNotifier,
        audit: AuditLog,
        facts: ReviewListFacts | None = None,
        policy: ReviewPolicy = ReviewPolicy(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._approvals = approvals
        self._approvers = approvers
        self._jobs = jobs
        self._notifier = notifier
        self._audit = audit
        self._facts = facts
        self.policy = policy
        self._clock = clock
        approvals.attach_membership(self)

    # Reading ------------------------------------------------------------------------------

    async def get(self, review_id: str) -> Review:
        review = await self._store.get(review_id)
        if review is None:
            raise RequestNotFound(review_id)
        return review

    async def latest(self, group: ListRef) -> Review | None:
        return await self._store.latest(group.object_id)

    # Hooks of the approval workflow (MembershipHooks) -------------------------------------

    async def completed(self, request: ApprovalRequest) -> None:
        if request.kind is Kind.JOIN and request.execution.outcome in _ADDED:
            await self._store.member_added(request.group, request.requester)
            if self.policy.is_on:
                due = self._clock() + timedelta(days=self.policy.every_days)
                await self._store.schedule(request.group, due)
        elif request.kind is Kind.LEAVE:
            await self._store.member_left(request.group.object_id, request.requester.object_id)

    async def failed(self, request: ApprovalRequest) -> None:
        return None  # a failed change leaves the membership as it was

    # Starting -----------------------------------------------------------------------------

    async def start_due(self) -> int:
        """The daily cron: start the review of every list that is due, each by one worker."""
        if not self.policy.is_on:
            return 0
        now = self._clock()
        started = 0
        for group in await self._store.due(now + timedelta(seconds=1), limit=1000):
            next_at = now + timedelta(days=self.policy.every_days)
            if not await self._store.claim(group.object_id, now=now, next_at=next_at):
                continue  # another worker took it
            try:
                if await self.start(group) is not None:
                    started += 1
            except Exception:
                # One list's trouble (gone, Exchange down) must not stop the others; it is due
                # again at its next time.
                log.exception("starting the access review of %s failed", group.address)
        return started

    async def start(self, group: ListRef) -> Review | None:
        """Start a review of `group` now; None (and why, in the audit) when there is nothing to
        review or the list cannot be changed. An open review of the list is returned as is."""
        latest = await self._store.latest(group.object_id)
        if latest is not None and latest.is_open:
            return latest
        now = self._clock()
        facts = await self._facts.list_facts(group) if self._facts is not None else None
        if facts is not None and facts.dir_synced:
            await self._record_list(
                AuditAction.REVIEW_SKIPPED,
                group,
                result="dir_synced",
                detail="the list is synchronized from on-premises: its members are managed there",
            )
            return None
        if self.policy.all_members and self._facts is not None:
            members = await self._facts.direct_members(group)
        else:
            members = await self._store.added(group.object_id)
        if not members:
            await self._record_list(
                AuditAction.REVIEW_SKIPPED, group, result="no_members", detail="nobody to review"
            )
            return None
        current = await self._approvers.current_approvers(group)
        review = reviews.new_review(
            review_id=new_request_id(),
            group=group,
            reviewers=current.approvers,
            members=tuple(members),
            now=now,
            all_members=self.policy.all_members and self._facts is not None,
        )
        if not await self._store.create(review):
            return await self._store.get(review.id)
        await self._jobs.enqueue(JobName.REVIEW_CARDS, review.id)
        for job, after in (
            (JobName.REVIEW_REMIND, self.policy.remind_after),
            (JobName.REVIEW_ESCALATE, self.policy.escalate_after),
        ):
            if after is not None:
                await self._jobs.enqueue(job, review.id, delay_seconds=after.total_seconds())
        await self._schedule_close(review)
        depart = f"; MemberDepartRestriction {facts.depart_restriction}" if facts else ""
        await self._record(
            AuditAction.REVIEW_STARTED,
            review,
            detail=(
                f"{len(review.members)} members "
                f"({'every direct member' if review.all_members else 'added by dlbot'}); "
                f"asking {_named(review.reviewers)}{depart}"
            ),
        )
        return review

    # Jobs ---------------------------------------------------------------------------------

    async def deliver_cards(self, review_id: str) -> None:
        """Post the card to every reviewer who has none yet (a retry goes on where it
        stopped)."""
        review = await self.get(review_id)
        if not review.is_open:
            return
        for reviewer in review.reviewers:
            if any(c.approver_id == reviewer.object_id for c in review.cards):
                continue
            review = await self._post(review, reviewer, reminder=False)

    async def _post(self, review: Review, reviewer: Approver, *, reminder: bool) -> Review:
        card = await self._notifier.send_review(reviewer, review, reminder=reminder)
        if card is None:
            log.warning("review %s: %s cannot be reached", review.id, reviewer.object_id)
            return review
        return await self._change(review, partial(reviews.with_card, card=card))

    async def update_cards(self, review_id: str) -> None:
        """Redraw every card of the review. Two redraws of one review can run at once and the
        older one's may reach Teams last, so a redraw that finds the review changed while it
        drew draws again (as ApprovalService.update_cards does)."""
        review = await self.get(review_id)
        for _ in range(_REDRAW_ROUNDS):
            for card in review.cards:
                await self._notifier.update_review(card, review)
            latest = await self.get(review_id)
            if latest.version == review.version:
                return
            review = latest

    async def remind(self, review_id: str) -> None:
        review = await self.get(review_id)
        try:
            review = await self._change(review, partial(reviews.remind, now=self._clock()))
        except ReviewClosed:
            return  # completed, or reminded by another run
        for reviewer in review.reviewers:
            review = await self._post(review, reviewer, reminder=True)
        await self._record(
            AuditAction.REVIEW_REMINDED, review, detail=f"reminded {_named(review.reviewers)}"
        )

    async def escalate(self, review_id: str) -> None:
        review = await self.get(review_id)
        if not review.is_open:
            return
        try:
            current = await self._approvers.current_approvers(review.group)
        except ObjectNotFound:
            # Deleted meanwhile: nobody is left to ask, and the step is done rather than failed
            # every minute; the close tells everyone the review asked.
            log.warning("review %s: the list %s no longer exists", review.id, review.group.address)
            current = None
        fallback = (
            tuple(a.model_copy(update={"via": FALLBACK_VIA}) for a in current.fallback)
            if current is not None
            else ()
        )
        before = {r.object_id for r in review.reviewers}
        try:
            review = await self._change(
                review, partial(reviews.escalate, fallback=fallback, now=self._clock())
            )
        except ReviewClosed:
            return
        added = tuple(r for r in review.reviewers if r.object_id not in before)
        for reviewer in added:
            review = await self._post(review, reviewer, reminder=True)
        await self._record(
            AuditAction.REVIEW_ESCALATED,
            review,
            result="" if added else "skipped",
            detail=f"asking {_named(added)}"
            if added
            else "no fallback approver to add"
            if current is not None
            else "the list no longer exists",
        )

    async def close(self, review_id: str) -> None:
        """Nobody finished the review in time: close it (once, whichever worker runs this),
        keeping everyone nobody decided on; carry out what was decided, redraw every card,
        and tell the fallback approvers and the admins. A run on a review closed but not yet
        announced (the run that closed it failed part way) announces it."""
        review = await self.get(review_id)
        if review.close_to_announce:
            await self._announce_close(review, await self._told_of_close(review))
            return
        if self.policy.close_at is None or not review.is_open:
            return  # switched off since the job was queued; or finished, or closed, already
        if await self._close_not_yet(review):
            return
        # Read before the close: Exchange down fails this run, to be retried whole.
        tell = await self._told_of_close(review)
        try:
            review = await self._change(
                review, partial(reviews.close_unanswered, now=self._clock())
            )
        except ReviewClosed:
            return  # finished by an owner, or closed by another run (which announces it)
        await self._announce_close(review, tell)

    async def _announce_close(self, review: Review, tell: _Told) -> None:
        # Queueing is idempotent by job key, and telling again someone told by a failed run
        # is the price of telling everyone; the audit comes after the messages, so it is
        # written by the run that got through them.
        await self._jobs.enqueue(JobName.REVIEW_REMOVE, review.id)
        await self._jobs.enqueue(JobName.REVIEW_UPDATE, review.id)
        await self._notifier.review_closed(review, tell.people)
        if not (await self.get(review.id)).close_to_announce:
            return  # another run announced it while this one was sending
        removed = [review.members[i] for i in review.to_remove()]
        await self._record(
            AuditAction.REVIEW_CLOSED_UNANSWERED,
            review,
            result=f"kept {review.kept()}, removed {len(removed)}",
            detail="; ".join(
                part
                for part in (
                    f"{len(review.members) - len(review.decisions)} undecided kept",
                    "removing " + ", ".join(p.display_name for p in removed) if removed else "",
                    "the list no longer exists" if tell.list_gone else "",
                    f"telling {_named(tell.people)}",
                )
                if part
            ),
        )
        try:
            await self._change(review, reviews.close_announced)
        except ReviewClosed:
            pass  # announced by another run at the same moment

    def _close_due(self, review: Review) -> datetime | None:
        """When the review closes under the current policy, on a whole second: the queue keys
        the close job by the second it is due (bot.jobs.job_key), so queueing it again for the
        same time is dropped, and one for another time (the close days changed) is a new job."""
        close_at = self.policy.close_at
        if close_at is None:
            return None
        due = review.started_at + close_at
        return due.replace(microsecond=0) + timedelta(seconds=1 if due.microsecond else 0)

    async def _schedule_close(self, review: Review) -> None:
        due = self._close_due(review)
        if due is not None:
            delay = (due - self._clock()).total_seconds()
            await self._jobs.enqueue(JobName.REVIEW_CLOSE, review.id, delay_seconds=max(0.0, delay))

    async def _close_not_yet(self, review: Review) -> bool:
        """Whether the close job fired before the review is due under the current policy
        (it was queued under fewer close days): then it queues itself for the due time and
        does nothing."""
        due = self._close_due(review)
        if due is None or self._clock() + _EARLY >= due:
            return False
        await self._schedule_close(review)
        return True

    async def _told_of_close(self, review: Review) -> _Told:
        """The fallback approvers asked on escalation, and those configured now (escalation
        may have been off, or found nobody). Of a list deleted meanwhile, whose owners cannot
        be read: everyone the review asked."""
        try:
            current = await self._approvers.current_approvers(review.group)
        except ObjectNotFound:
            log.warning("review %s: the list %s no longer exists", review.id, review.group.address)
            return _Told(review.reviewers, list_gone=True)
        escalated_to = (r for r in review.reviewers if r.via == FALLBACK_VIA)
        found: dict[str, Approver] = {}
        for approver in (*escalated_to, *current.fallback):
            found.setdefault(approver.object_id, approver)
        return _Told(tuple(found.values()))

    async def remove(self, review_id: str) -> None:
        """Ask for the removal of every member the review removes, once each."""
        review = await self.get(review_id)
        for index in review.pending_removals():
            member = review.members[index]
            submitted = await self._submit_removal(
                review.group, member, _removal_reason(review, index)
            )
            try:
                review = await self._change(
                    review,
                    partial(reviews.removing, index=index, request_id=submitted.request.id),
                )
            except ReviewClosed:
                pass  # recorded by another run; its LEAVE is the same open request

    async def _submit_removal(self, group: ListRef, member: Person, reason: str) -> SubmitResult:
        # One open LEAVE per member and list: asking again returns the first.
        submitted = await self._approvals.submit(
            kind=Kind.LEAVE, requester=member, group=group, auto_approved=reason
        )
        if submitted.created or submitted.request.status is not RequestStatus.PENDING:
            return submitted
        # The member asked to leave themselves and nobody decided yet: that request could
        # still be denied or expire. It gives way to the owners' decision, which needs none.
        try:
            await self._approvals.cancel_as_admin(submitted.request.id, reason=reason)
        except InvalidTransition:
            pass  # decided meanwhile: approved, it removes them; denied, asked anew below
        return await self._approvals.submit(
            kind=Kind.LEAVE, requester=member, group=group, auto_approved=reason
        )

    async def resume_stalled(self) -> int:
        """The per-minute sweep: queue again the lost next job of each unfinished review (its
        cards never posted, a reminder or escalation overdue, removals never asked for). Jobs
        are keyed per review, so one already queued or scheduled is not queued twice, and each
        step is claimed by compare-and-set, so one that runs twice acts once."""
        now = self._clock()
        queued = 0
        # Every review open at once after a bulk import falls due on one day: read them all.
        for review in await self._store.unfinished(limit=_SWEEP_LIMIT):
            job = self._lost_job(review, now)
            if job is not None:
                await self._jobs.enqueue(job, review.id)
                queued += 1
        return queued

    def _lost_job(self, review: Review, now: datetime) -> JobName | None:
        closed_at = review.completed_at or review.started_at
        if review.close_to_announce and now - closed_at > _ANNOUNCE_STALLED:
            return JobName.REVIEW_CLOSE  # its run failed on every retry, or died
        if not review.is_open:
            done_at = review.completed_at or review.started_at
            return JobName.REVIEW_REMOVE if now - done_at > _STALLED else None
        close_at = self.policy.close_at
        if close_at is not None and now - review.started_at > close_at + _STALLED:
            return JobName.REVIEW_CLOSE  # overdue: a reminder or escalation now is moot
        if not review.cards and _STALLED < now - review.started_at <= _CARDS_LOST_WITHIN:
            # Only soon after the start: later, no card means nobody could be reached, and
            # the reminder and escalation try again (the fallback approvers among them).
            return JobName.REVIEW_CARDS
        for job, after, done in (
            (JobName.REVIEW_ESCALATE, self.policy.escalate_after, review.escalated_at),
            (JobName.REVIEW_REMIND, self.policy.remind_after, review.reminded_at),
        ):
            if after is not None and done is None and now - review.started_at > after + _STALLED:
                return job
        return None

    # Deciding -----------------------------------------------------------------------------

    async def decide(
        self,
        review_id: str,
        actor: Person,
        choices: Mapping[int, Choice],
        *,
        finish: bool = False,
        keep_all: bool = False,
    ) -> Review:
        """Record an owner's choices; `finish` completes the review (undecided members are
        kept), `keep_all` keeps everyone. Raises RequestNotFound, NotAReviewer, ReviewClosed."""
        review = await self.get(review_id)
        await self._check_reviewer(review, actor)
        if not (choices or finish or keep_all):
            return review  # turning a page with nothing chosen on it
        now = self._clock()
        was_open = review.is_open

        def step(current: Review) -> Review:
            if keep_all:
                return reviews.keep_all(current, actor=actor, now=now)
            changed = current
            if choices:
                changed = reviews.decide(current, actor=actor, choices=choices, now=now)
            if finish and changed.is_open:
                changed = reviews.finish(changed, actor=actor, now=now).model_copy(
                    update={"version": current.version + 1}
                )
            return changed

        review = await self._change(review, step)
        if choices and not keep_all:
            removes = sum(1 for c in choices.values() if c is Choice.REMOVE)
            await self._record(
                AuditAction.REVIEW_DECIDED,
                review,
                actor_id=actor.object_id,
                detail=f"{len(choices) - removes} keep, {removes} remove",
            )
        if was_open and not review.is_open:
            await self._completed(review, actor)
        return review

    async def _completed(self, review: Review, actor: Person) -> None:
        await self._jobs.enqueue(JobName.REVIEW_REMOVE, review.id)
        await self._jobs.enqueue(JobName.REVIEW_UPDATE, review.id)
        removed = [review.members[i] for i in review.to_remove()]
        await self._record(
            AuditAction.REVIEW_COMPLETED,
            review,
            actor_id=actor.object_id,
            result=f"kept {review.kept()}, removed {len(removed)}",
            detail="removing " + ", ".join(p.display_name for p in removed) if removed else "",
        )

    async def _check_reviewer(self, review: Review, actor: Person) -> None:
        current = await self._approvers.current_approvers(review.group)
        if any(a.object_id == actor.object_id for a in current.approvers):
            return
        asked = review.reviewer(actor.object_id)
        if asked is not None and asked.via == FALLBACK_VIA and review.escalated_at is not None:
            return
        raise NotAReviewer(actor)

    # Plumbing -----------------------------------------------------------------------------

    async def _change(self, review: Review, step: Step) -> Review:
        for _ in range(_CAS_ROUNDS):
            try:
                return await self._store.replace(step(review), review.version)
            except ReviewConflict:
                reloaded = await self._store.get(review.id)
                if reloaded is None:
                    raise
                review = reloaded
        raise ReviewConflict(review.id)

    async def _record(self, action: AuditAction, review: Review, **fields: str) -> None:
        await self._audit.append(
            AuditEvent(
                at=self._clock(),
                event=action.value,
                request_id=review.id,
                list_id=review.group.object_id,
                list_address=review.group.address,
                kind=REVIEW_KIND,
                **fields,
            )
        )

    async def _record_list(self, action: AuditAction, group: ListRef, **fields: str) -> None:
        await self._audit.append(
            AuditEvent(
                at=self._clock(),
                event=action.value,
                request_id="",
                list_id=group.object_id,
                list_address=group.address,
                kind=REVIEW_KIND,
                **fields,
            )
        )


def _removal_reason(review: Review, index: int) -> str:
    """Whose decision removes member `index`: whoever finished the review, or, in a review
    that closed unanswered, whoever chose the removal before it closed."""
    if review.completed_by is not None:
        return f"access review by {review.completed_by.display_name}"
    chose = next((d.by for d in review.decisions if d.index == index), "")
    who = review.reviewer(chose)
    by = who.display_name if who is not None else "the owners"
    return f"access review by {by}, before it closed unanswered"


def _named(people: tuple[Approver, ...]) -> str:
    return ", ".join(p.display_name for p in people) or "nobody"
