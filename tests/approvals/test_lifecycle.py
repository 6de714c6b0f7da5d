"""Pending requests on the in-memory fakes: a reminder after 2 days, escalation to the fallback
approvers after 4, expiry after 7, each once, each only while nobody has decided, and each
queued again by the sweep when the process that stored the request died before queueing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from approvals.audit import AuditAction
from approvals.errors import AlreadyDecided
from approvals.lifecycle import Timings, span
from approvals.models import FALLBACK_VIA, ApprovalRequest, RequestStatus
from approvals.ports import JobName, NoticeKind
from approvals.service import ApprovalService
from approvals.testing import InMemoryJobQueue
from tests.approvals import demo
from tests.approvals.conftest import START, Harness

ALEX, MEGAN, LEE, ADELE = (
    demo.ALEX.object_id,
    demo.MEGAN.object_id,
    demo.LEE.object_id,
    demo.ADELE.object_id,
)
TIMINGS = Timings(timedelta(days=2), timedelta(days=4), timedelta(days=7))


class ProcessDied(Exception):
    """The process stops here: nothing after this point of the step runs."""


class DyingJobQueue(InMemoryJobQueue):
    """Dies on the next `deaths` enqueues (a process killed before queueing a job); holds
    delayed jobs until the clock reaches them."""

    def __init__(self, harness: Harness) -> None:
        super().__init__(clock=harness.clock)
        self.deaths = 0

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if self.deaths:
            self.deaths -= 1
            raise ProcessDied
        await super().enqueue(job, request_id, delay_seconds=delay_seconds)


@dataclass
class Timed(Harness):
    """The service with lifecycle timers on, and a job queue that waits for the clock."""

    timings: Timings = TIMINGS
    dying: DyingJobQueue = field(init=False)

    def __post_init__(self) -> None:
        self.dying = DyingJobQueue(self)
        self.jobs = self.dying

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
            timings=self.timings,
        )

    async def after(self, **delta: float) -> ApprovalRequest | None:
        """Move the clock on, run every job that is due, return Alex's request as it is."""
        self.clock.advance(**delta)
        await self.run_jobs()
        found = await self.store.requests_of(ALEX, 1)
        return found[0] if found else None

    def count(self, action: AuditAction) -> int:
        return self.events().count(action.value)


@pytest.fixture
def timed() -> Timed:
    return Timed()


def reminder_cards(request: ApprovalRequest) -> list[str]:
    return [c.approver_id for c in request.cards if c.reminder]


async def test_a_pending_request_queues_its_three_timers_for_2_4_and_7_days(timed: Timed) -> None:
    request = await timed.ask(run_jobs=False)

    timers = [(q.job, q.delay_seconds) for q in timed.jobs.pending() if q.delay_seconds]
    assert timers == [
        (JobName.REMIND, 2 * 86400),
        (JobName.ESCALATE, 4 * 86400),
        (JobName.EXPIRE, 7 * 86400),
    ]
    assert all(q.request_id == request.id for q in timed.jobs.pending())


async def test_a_request_needing_no_approval_queues_no_timer(timed: Timed) -> None:
    await timed.ask(auto_approved="open list", run_jobs=False)

    assert timed.jobs.names() == [JobName.EXECUTE]


async def test_without_timings_the_service_queues_no_timer(harness: Harness) -> None:
    await harness.ask(run_jobs=False)

    assert harness.jobs.names() == [JobName.DELIVER_CARDS]


async def test_nothing_happens_before_the_reminder_is_due(timed: Timed) -> None:
    await timed.ask()
    request = await timed.after(hours=47, minutes=59)

    assert request is not None and request.reminded_at is None
    assert timed.notifier.carded() == [MEGAN, LEE]


async def test_after_two_days_every_approver_gets_a_fresh_card_once(timed: Timed) -> None:
    await timed.ask()
    request = await timed.after(days=2)

    assert request is not None and request.reminded_at == START + timedelta(days=2)
    assert timed.notifier.carded() == [MEGAN, LEE, MEGAN, LEE]
    assert reminder_cards(request) == [MEGAN, LEE] and len(request.cards) == 4
    assert timed.count(AuditAction.REMINDED) == 1
    assert timed.notifier.notices_to(ALEX) == [NoticeKind.SUBMITTED, NoticeKind.REMINDED]

    await timed.service.lifecycle.remind(request.id)  # a second run: another worker, a retry

    assert len(timed.notifier.cards) == 4 and timed.count(AuditAction.REMINDED) == 1


async def test_a_reminder_retried_after_teams_failed_part_way_reaches_the_rest(
    timed: Timed,
) -> None:
    await timed.ask()
    timed.notifier.unreachable.add(LEE)
    request = await timed.after(days=2)
    assert request is not None and reminder_cards(request) == [MEGAN]

    timed.notifier.unreachable.clear()
    await timed.service.lifecycle.remind(request.id)

    request = await timed.service.get(request.id)
    assert reminder_cards(request) == [MEGAN, LEE]
    assert timed.count(AuditAction.REMINDED) == 1


async def test_approving_on_the_reminder_redraws_the_first_cards_too(timed: Timed) -> None:
    await timed.ask()
    reminded = await timed.after(days=2)
    assert reminded is not None

    await timed.service.decide(reminded.id, demo.MEGAN, approve=True)
    await timed.run_jobs()

    redrawn = {card for card, request in timed.notifier.updates if not request.is_open}
    assert redrawn == set(reminded.cards) and len(redrawn) == 4


async def test_after_four_days_the_fallback_approvers_are_asked_too(timed: Timed) -> None:
    await timed.ask()
    request = await timed.after(days=4)

    assert request is not None and request.escalated_at == START + timedelta(days=4)
    assert [(a.object_id, a.via) for a in request.approvers][-1] == (ADELE, FALLBACK_VIA)
    assert timed.notifier.carded().count(ADELE) == 1
    assert request.card_of(ADELE) is not None
    # Told once, in the escalation's own words, not as a request sent to the fallback instead.
    assert timed.notifier.notices_to(ALEX) == [
        NoticeKind.SUBMITTED,
        NoticeKind.REMINDED,
        NoticeKind.ESCALATED,
    ]
    assert timed.count(AuditAction.ESCALATED) == 1

    await timed.service.lifecycle.escalate(request.id)  # a second run: another worker, a retry
    await timed.run_jobs()

    assert timed.notifier.carded().count(ADELE) == 1 and timed.count(AuditAction.ESCALATED) == 1
    decided = await timed.service.decide(request.id, demo.ADELE, approve=True)

    assert decided.status is RequestStatus.APPROVED


async def test_without_fallback_approvers_the_escalation_is_recorded_and_skipped(
    timed: Timed,
) -> None:
    timed.approvers.fallback = ()
    await timed.ask()
    request = await timed.after(days=4)

    assert request is not None and request.escalated_at is not None
    assert [a.via for a in request.approvers] == ["owner", "owner"]
    (event,) = [e for e in timed.audit.events if e.event == AuditAction.ESCALATED]
    assert event.result == "skipped" and "no fallback approvers" in event.detail
    assert timed.notifier.notices_to(ALEX) == [NoticeKind.SUBMITTED, NoticeKind.REMINDED]
    assert timed.jobs.failures == []


async def test_after_seven_days_the_request_expires_and_every_card_says_so(timed: Timed) -> None:
    await timed.ask()
    await timed.after(days=4)
    request = await timed.after(days=3)

    assert request is not None and request.status is RequestStatus.EXPIRED
    # The first cards, the reminders and the fallback approver's card: all redrawn, expired.
    redrawn = {card for card, drawn in timed.notifier.updates if drawn.status.value == "expired"}
    assert redrawn == set(request.cards) and len(redrawn) == 5
    assert timed.notifier.notices_to(ALEX) == [
        NoticeKind.SUBMITTED,
        NoticeKind.REMINDED,
        NoticeKind.ESCALATED,
        NoticeKind.EXPIRED,
    ]
    assert [timed.count(a) for a in (AuditAction.REMINDED, AuditAction.ESCALATED)] == [1, 1]
    assert timed.count(AuditAction.EXPIRED) == 1
    with pytest.raises(AlreadyDecided):
        await timed.service.decide(request.id, demo.MEGAN, approve=True)


async def test_each_timer_run_again_does_nothing(timed: Timed) -> None:
    await timed.ask()
    await timed.after(days=4)
    request = await timed.after(days=3)
    assert request is not None
    before = (request.version, len(timed.audit.events), len(timed.notifier.notices))

    for run in (timed.service.lifecycle.remind, timed.service.lifecycle.escalate):
        await run(request.id)
    await timed.service.lifecycle.expire(request.id)
    await timed.run_jobs()

    after = await timed.service.get(request.id)
    assert (after.version, len(timed.audit.events), len(timed.notifier.notices)) == before


async def test_a_request_decided_in_time_is_never_reminded_escalated_or_expired(
    timed: Timed,
) -> None:
    request = await timed.ask()
    await timed.after(days=1)
    await timed.service.decide(request.id, demo.MEGAN, approve=True)
    done = await timed.after(days=8)

    assert done is not None and done.status is RequestStatus.COMPLETED
    assert done.reminded_at is None and done.escalated_at is None
    assert not {"reminded", "escalated", "expired"} & set(timed.events())
    ran = [q.job for q in timed.jobs.ran]
    assert {JobName.REMIND, JobName.ESCALATE, JobName.EXPIRE} <= set(ran)


async def test_timers_lost_with_a_dying_process_are_queued_again_by_the_sweep(
    timed: Timed,
) -> None:
    timed.dying.deaths = 1  # dies right after storing the request, before any job is queued
    with pytest.raises(ProcessDied):
        await timed.ask(run_jobs=False)
    assert timed.jobs.pending() == []

    timed.clock.advance(seconds=61)
    await timed.service.resume_stalled()
    request = await timed.after(days=2)

    assert request is not None and request.reminded_at is not None
    assert reminder_cards(request) == [MEGAN, LEE]
    request = await timed.after(days=5)
    assert request is not None and request.status is RequestStatus.EXPIRED


async def test_the_sweep_never_queues_a_timer_that_already_ran(timed: Timed) -> None:
    await timed.ask()
    await timed.after(days=2)

    timed.clock.advance(seconds=61)
    await timed.service.resume_stalled()

    assert JobName.REMIND not in timed.jobs.names()
    assert set(timed.jobs.names()) == {JobName.ESCALATE, JobName.EXPIRE}


async def test_an_escalation_whose_delivery_was_lost_is_delivered_by_the_sweep(
    timed: Timed,
) -> None:
    request = await timed.ask()
    timed.clock.advance(days=4)
    timed.dying.deaths = 1  # dies after escalating, before queueing the fallback's cards
    with pytest.raises(ProcessDied):
        await timed.service.lifecycle.escalate(request.id)
    assert (await timed.service.get(request.id)).card_of(ADELE) is None

    timed.clock.advance(seconds=61)
    await timed.service.resume_stalled()
    await timed.run_jobs()

    assert (await timed.service.get(request.id)).card_of(ADELE) is not None


async def test_a_timer_switched_off_after_it_was_queued_does_nothing(timed: Timed) -> None:
    request = await timed.ask()
    timed.timings = Timings(expire_after=timedelta(days=7))
    request_after = await timed.after(days=4)

    assert request_after is not None and request_after.version == request.version
    assert timed.events().count("reminded") == timed.events().count("escalated") == 0


@pytest.mark.parametrize(
    ("remind", "escalate", "expire"),
    [(96, 48, 168), (48, 48, 168), (48, 200, 168), (0, 200, 168), (-1, 0, 0)],
)
def test_timers_out_of_order_or_negative_are_refused(
    remind: float, escalate: float, expire: float
) -> None:
    with pytest.raises(ValueError):
        Timings.from_hours(remind, escalate, expire)


def test_zero_hours_switches_a_timer_off() -> None:
    timings = Timings.from_hours(0, 96, 0)

    assert [job for job, _ in timings.steps()] == [JobName.ESCALATE]


@pytest.mark.parametrize(
    ("waited", "said"),
    [
        (timedelta(days=4), "4 days"),
        (timedelta(days=1), "1 day"),
        (timedelta(hours=6), "6 hours"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(seconds=10), "0 minutes"),
    ],
)
def test_the_audit_says_how_long_a_request_waited_in_round_units(
    waited: timedelta, said: str
) -> None:
    assert span(START, START + waited) == said
