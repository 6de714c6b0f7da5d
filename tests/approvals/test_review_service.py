"""Owner access reviews through the workflow on in-memory fakes, with the clock moved on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals import reviews
from approvals.models import FALLBACK_VIA, Approver, CardRef, RequestKind, RequestStatus
from approvals.ports import JobName
from approvals.review_service import ReviewPolicy
from approvals.reviews import Choice, NotAReviewer, Review, ReviewClosed, ReviewStatus
from approvals.testing import InMemoryJobQueue
from tests.approvals import demo
from tests.approvals.review_world import ReviewCards, ReviewWorld

FINANCE = demo.FINANCE_EMEA


def review_events(world: ReviewWorld) -> list[str]:
    return [e.event for e in world.audit.events if e.kind == "review"]


async def started(world: ReviewWorld) -> str:
    review = await world.reviews.start(FINANCE)
    assert review is not None
    await world.run_jobs()
    return review.id


async def test_a_review_lists_the_members_the_bot_added_and_sends_each_owner_one_card() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)

    review = await world.reviews.get(await started(world))

    assert [m.object_id for m in review.members] == [demo.ALEX.object_id, demo.GRADY.object_id]
    assert world.cards.to() == [(demo.MEGAN.object_id, False), (demo.LEE.object_id, False)]
    assert len(review.cards) == 2
    assert review_events(world) == ["review_started"]


async def test_an_owner_keeps_one_and_removes_another_and_the_removal_runs_once() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)

    done = await world.reviews.decide(
        review_id, demo.MEGAN, {0: Choice.KEEP, 1: Choice.REMOVE}, finish=True
    )
    await world.run_jobs()
    await world.reviews.remove(review_id)  # a repeated removal job asks for nothing more
    await world.run_jobs()

    assert not done.is_open
    assert world.members() == {demo.ALEX.object_id}
    assert world.writer.calls[2:] == [(FINANCE, demo.GRADY)]  # the one removal, once
    leave = await world.service.open_request(
        demo.GRADY.object_id, FINANCE.object_id, RequestKind.LEAVE
    )
    assert leave is None  # completed, not left open
    final = await world.reviews.get(review_id)
    assert len(final.removal_requests) == 1
    removal = await world.service.get(final.removal_requests[0][1])
    assert removal.status is RequestStatus.COMPLETED
    assert removal.auto_approved == "access review by Megan Bowen"
    assert review_events(world) == ["review_started", "review_decided", "review_completed"]
    assert {card.approver_id for card, r in world.cards.redrawn if not r.is_open} == {
        demo.MEGAN.object_id,
        demo.LEE.object_id,
    }


async def test_keep_all_completes_the_review_and_removes_nobody() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)
    await world.reviews.decide(review_id, demo.LEE, {1: Choice.REMOVE})

    done = await world.reviews.decide(review_id, demo.LEE, {}, keep_all=True)
    await world.run_jobs()

    assert done.to_remove() == []
    assert world.members() == {demo.ALEX.object_id, demo.GRADY.object_id}
    completed = [e for e in world.audit.events if e.event == "review_completed"]
    assert completed[0].result == "kept 2, removed 0"


async def test_the_review_completes_by_itself_once_every_member_has_a_choice() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)

    half = await world.reviews.decide(review_id, demo.MEGAN, {0: Choice.REMOVE})
    whole = await world.reviews.decide(review_id, demo.LEE, {1: Choice.KEEP})
    await world.run_jobs()

    assert half.is_open and not whole.is_open
    assert world.members() == {demo.GRADY.object_id}


async def test_a_finished_review_takes_no_more_decisions() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    review_id = await started(world)
    await world.reviews.decide(review_id, demo.MEGAN, {}, finish=True)

    with pytest.raises(ReviewClosed):
        await world.reviews.decide(review_id, demo.LEE, {0: Choice.REMOVE}, finish=True)
    await world.run_jobs()

    assert world.members() == {demo.ALEX.object_id}


async def test_only_current_owners_may_decide_even_if_they_were_asked_at_the_start() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    review_id = await started(world)
    world.approvers.owners[FINANCE.object_id] = (demo.approver(demo.MEGAN),)  # Lee left

    with pytest.raises(NotAReviewer):
        await world.reviews.decide(review_id, demo.LEE, {0: Choice.REMOVE}, finish=True)
    with pytest.raises(NotAReviewer):
        await world.reviews.decide(review_id, demo.ALEX, {}, keep_all=True)
    assert (await world.reviews.get(review_id)).is_open


async def test_an_unanswered_review_is_reminded_then_escalated_to_the_fallback_approvers() -> None:
    world = ReviewWorld(policy=ReviewPolicy(close_after=None))
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)

    await world.after(days=3, minutes=1)
    assert world.cards.to()[2:] == [(demo.MEGAN.object_id, True), (demo.LEE.object_id, True)]
    await world.after(days=4)
    assert world.cards.to()[4:] == [(demo.ADELE.object_id, True)]
    await world.after(days=30)  # with no close, nothing more happens on its own
    assert len(world.cards.posted) == 5

    done = await world.reviews.decide(review_id, demo.ADELE, {1: Choice.REMOVE}, finish=True)
    await world.run_jobs()

    assert done.completed_by == demo.ADELE
    assert world.members() == {demo.ALEX.object_id}
    assert review_events(world) == [
        "review_started",
        "review_reminded",
        "review_escalated",
        "review_decided",
        "review_completed",
    ]


async def test_a_fallback_approver_cannot_decide_before_the_review_is_escalated() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    review_id = await started(world)

    with pytest.raises(NotAReviewer):
        await world.reviews.decide(review_id, demo.ADELE, {}, keep_all=True)


async def test_a_dir_synced_list_is_not_reviewed_and_the_audit_says_why() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    world.facts.dir_synced.add(FINANCE.object_id)

    assert await world.reviews.start(FINANCE) is None

    skipped = [e for e in world.audit.events if e.event == "review_skipped"]
    assert [e.result for e in skipped] == ["dir_synced"]
    assert world.cards.posted == []


async def test_the_daily_cron_starts_a_list_review_every_n_days_and_once_per_round() -> None:
    world = ReviewWorld(policy=ReviewPolicy(every_days=90, remind_after=None, escalate_after=None))
    await world.added(demo.ALEX)

    assert await world.reviews.start_due() == 0
    world.clock.advance(days=90)
    assert await world.reviews.start_due() == 1
    assert await world.reviews.start_due() == 0  # a second worker's run finds it claimed
    first = await world.reviews.latest(FINANCE)
    assert first is not None
    await world.reviews.decide(first.id, demo.MEGAN, {}, keep_all=True)
    world.clock.advance(days=89)
    assert await world.reviews.start_due() == 0
    world.clock.advance(days=1)
    assert await world.reviews.start_due() == 1
    second = await world.reviews.latest(FINANCE)
    assert second is not None and second.id != first.id


async def test_reviews_are_off_when_every_days_is_zero() -> None:
    world = ReviewWorld(policy=ReviewPolicy(every_days=0))
    await world.added(demo.ALEX)
    world.clock.advance(days=1000)

    assert await world.reviews.start_due() == 0
    assert review_events(world) == []


async def test_with_all_members_on_every_direct_member_is_reviewed() -> None:
    world = ReviewWorld(policy=ReviewPolicy(all_members=True))
    world.facts.members[FINANCE.object_id] = [demo.JONI, demo.PATTI, demo.DIEGO]

    review = await world.reviews.start(FINANCE)

    assert review is not None and review.all_members
    assert [m.object_id for m in review.members] == [
        demo.JONI.object_id,
        demo.PATTI.object_id,
        demo.DIEGO.object_id,
    ]


async def test_a_member_who_left_through_the_bot_is_not_reviewed() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    await world.service.submit(
        kind=RequestKind.LEAVE, requester=demo.GRADY, group=FINANCE, auto_approved="open list"
    )
    await world.run_jobs()

    review = await world.reviews.start(FINANCE)

    assert review is not None
    assert [m.object_id for m in review.members] == [demo.ALEX.object_id]


async def test_a_list_with_nobody_the_bot_added_gets_no_review() -> None:
    world = ReviewWorld()

    assert await world.reviews.start(FINANCE) is None
    assert [e.result for e in world.audit.events] == ["no_members"]


async def test_an_open_review_is_returned_rather_than_started_twice() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    first = await world.reviews.start(FINANCE)
    world.clock.advance(days=1)

    again = await world.reviews.start(FINANCE)

    assert first is not None and again is not None and again.id == first.id
    assert review_events(world).count("review_started") == 1


async def test_choices_for_members_outside_the_review_are_ignored() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    review_id = await started(world)

    review = await world.reviews.decide(review_id, demo.MEGAN, {7: Choice.REMOVE, -1: Choice.KEEP})

    assert review.is_open and review.decisions == ()


async def test_a_members_own_pending_leave_gives_way_to_the_reviews_removal() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    own = await world.service.submit(kind=RequestKind.LEAVE, requester=demo.GRADY, group=FINANCE)
    await world.run_jobs()
    review_id = await started(world)

    await world.reviews.decide(review_id, demo.MEGAN, {1: Choice.REMOVE}, finish=True)
    await world.run_jobs()

    assert (await world.service.get(own.request.id)).status is RequestStatus.CANCELLED
    assert world.members() == {demo.ALEX.object_id}


class LosingJobs(InMemoryJobQueue):
    """Drops the review jobs named in `lose`, as a process dying right after storing a review
    (or completing it) would."""

    lose: frozenset[JobName] = frozenset()

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if job not in self.lose:
            await super().enqueue(job, request_id, delay_seconds=delay_seconds)


def losing(world: ReviewWorld, *jobs: JobName) -> LosingJobs:
    queue = LosingJobs(clock=world.clock)
    queue.lose = frozenset(jobs)
    world.jobs = queue
    world.reviews._jobs = queue  # noqa: SLF001 - the same queue the world runs
    world.service._jobs = queue  # noqa: SLF001
    world.service.lifecycle._jobs = queue  # noqa: SLF001
    return queue


async def test_the_sweep_posts_the_cards_of_a_review_whose_card_job_was_lost() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    queue = losing(world, JobName.REVIEW_CARDS, JobName.REVIEW_REMIND, JobName.REVIEW_ESCALATE)
    review = await world.reviews.start(FINANCE)
    assert review is not None
    await world.run_jobs()
    assert world.cards.posted == []
    queue.lose = frozenset()

    assert await world.reviews.resume_stalled() == 0  # not stalled yet
    world.clock.advance(minutes=3)
    assert await world.reviews.resume_stalled() == 1
    await world.run_jobs()

    assert world.cards.to() == [(demo.MEGAN.object_id, False), (demo.LEE.object_id, False)]
    assert await world.reviews.resume_stalled() == 0


async def test_the_sweep_reminds_and_escalates_a_review_whose_timers_were_lost() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    queue = losing(world, JobName.REVIEW_REMIND, JobName.REVIEW_ESCALATE)
    review_id = await started(world)
    queue.lose = frozenset()

    world.clock.advance(days=3, minutes=3)
    await world.reviews.resume_stalled()
    await world.run_jobs()
    world.clock.advance(days=4)
    await world.reviews.resume_stalled()
    await world.run_jobs()

    review = await world.reviews.get(review_id)
    assert review.reminded_at is not None and review.escalated_at is not None
    assert world.cards.to()[2:] == [
        (demo.MEGAN.object_id, True),
        (demo.LEE.object_id, True),
        (demo.ADELE.object_id, True),
    ]


async def test_the_sweep_asks_for_removals_a_completed_review_never_asked_for_once() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)
    queue = losing(world, JobName.REVIEW_REMOVE)
    await world.reviews.decide(review_id, demo.MEGAN, {1: Choice.REMOVE}, finish=True)
    await world.run_jobs()
    assert world.members() == {demo.ALEX.object_id, demo.GRADY.object_id}
    queue.lose = frozenset()

    world.clock.advance(minutes=3)
    assert await world.reviews.resume_stalled() == 1
    await world.run_jobs()
    world.clock.advance(minutes=3)

    assert world.members() == {demo.ALEX.object_id}
    assert await world.reviews.resume_stalled() == 0  # finished: off the sweeper's index


async def test_a_redraw_that_read_an_older_review_draws_again_so_the_latest_lands_last() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)
    drawn = world.cards.update_review
    completed = False

    async def completed_while_drawing(card: CardRef, review: Review) -> None:
        nonlocal completed
        if not completed:  # an owner finishes while the first redraw is on its way to Teams
            completed = True
            await world.reviews.decide(review_id, demo.MEGAN, {}, keep_all=True)
        await drawn(card, review)

    world.cards.update_review = completed_while_drawing  # type: ignore[method-assign]
    world.cards.redrawn.clear()

    await world.reviews.update_cards(review_id)

    last = {card.approver_id: review.status for card, review in world.cards.redrawn}
    assert last == {
        demo.MEGAN.object_id: ReviewStatus.COMPLETED,
        demo.LEE.object_id: ReviewStatus.COMPLETED,
    }


async def test_a_review_nobody_finishes_closes_a_week_after_escalation_keeping_everyone() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)
    writes_before = list(world.writer.calls)

    await world.after(days=7, minutes=1)  # reminded, then escalated to Adele
    assert (await world.reviews.get(review_id)).is_open
    await world.after(days=6, hours=23)
    assert (await world.reviews.get(review_id)).is_open
    await world.after(hours=1)
    await world.reviews.close(review_id)  # a second run, as another worker's, does nothing
    await world.after(days=30)

    closed = await world.reviews.get(review_id)
    assert closed.status is ReviewStatus.CLOSED and closed.closed_unanswered
    assert closed.completed_at is not None and closed.completed_by is None
    assert world.members() == {demo.ALEX.object_id, demo.GRADY.object_id}
    assert world.writer.calls == writes_before  # no Exchange write at all
    assert [(r.id, told) for r, told in world.cards.closed] == [
        (review_id, (demo.ADELE.object_id,))
    ]
    drawn = world.cards.last_drawn()
    assert len(drawn) == len(closed.cards) == 5  # every card: owners' two each, and Adele's
    assert all(r.closed_unanswered for r in drawn.values())
    assert review_events(world) == [
        "review_started",
        "review_reminded",
        "review_escalated",
        "review_closed_unanswered",
    ]
    [event] = [e for e in world.audit.events if e.event == "review_closed_unanswered"]
    assert (event.request_id, event.result) == (review_id, "kept 2, removed 0")


async def test_a_partly_decided_review_closes_carrying_out_only_the_decisions_made() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX, demo.GRADY, demo.JONI)
    review_id = await started(world)
    await world.reviews.decide(review_id, demo.MEGAN, {1: Choice.REMOVE, 2: Choice.KEEP})

    await world.after(days=14, minutes=1)

    closed = await world.reviews.get(review_id)
    assert closed.closed_unanswered
    assert world.members() == {demo.ALEX.object_id, demo.JONI.object_id}
    assert world.writer.calls[3:] == [(FINANCE, demo.GRADY)]  # the one removal decided, once
    [(_, leave_id)] = closed.removal_requests
    leave = await world.service.get(leave_id)
    assert leave.status is RequestStatus.COMPLETED
    assert leave.auto_approved == "access review by Megan Bowen, before it closed unanswered"
    [event] = [e for e in world.audit.events if e.event == "review_closed_unanswered"]
    assert event.result == "kept 2, removed 1"
    assert "Grady" in event.detail


async def test_a_review_finished_before_its_close_is_not_closed() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    review_id = await started(world)
    await world.reviews.decide(review_id, demo.LEE, {}, keep_all=True)

    await world.after(days=30)
    await world.reviews.close(review_id)

    review = await world.reviews.get(review_id)
    assert review.status is ReviewStatus.COMPLETED and review.completed_by == demo.LEE
    assert world.cards.closed == []
    assert "review_closed_unanswered" not in review_events(world)


async def test_with_closing_off_an_unanswered_review_stays_open_for_good() -> None:
    world = ReviewWorld(policy=ReviewPolicy(close_after=None))
    await world.added(demo.ALEX)
    review_id = await started(world)

    await world.after(days=1000)
    await world.reviews.close(review_id)  # a close job scheduled before it was switched off
    world.clock.advance(minutes=5)
    await world.reviews.resume_stalled()
    await world.run_jobs()

    assert (await world.reviews.get(review_id)).is_open
    assert JobName.REVIEW_CLOSE not in {q.job for q in world.jobs.enqueued}
    assert world.cards.closed == []


async def test_with_escalation_off_the_review_closes_the_close_days_after_its_start() -> None:
    world = ReviewWorld(policy=ReviewPolicy(escalate_after=None, close_after=timedelta(days=10)))
    world.approvers.fallback = ()
    await world.added(demo.ALEX)
    review_id = await started(world)

    await world.after(days=9, hours=23)
    assert (await world.reviews.get(review_id)).is_open
    await world.after(hours=1, minutes=1)

    assert (await world.reviews.get(review_id)).closed_unanswered
    assert [told for _, told in world.cards.closed] == [()]  # nobody to tell but the admins


async def test_the_sweep_closes_a_review_whose_close_job_was_lost_exactly_once() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    queue = losing(world, JobName.REVIEW_CLOSE)
    review_id = await started(world)
    await world.after(days=14, minutes=1)
    assert (await world.reviews.get(review_id)).is_open
    queue.lose = frozenset()

    assert await world.reviews.resume_stalled() == 0  # not stalled yet
    world.clock.advance(minutes=2)
    assert await world.reviews.resume_stalled() == 1
    await world.run_jobs()
    world.clock.advance(minutes=3)
    await world.reviews.resume_stalled()
    await world.run_jobs()

    assert (await world.reviews.get(review_id)).closed_unanswered
    assert review_events(world).count("review_closed_unanswered") == 1
    assert len(world.cards.closed) == 1


class ThrottledCards(ReviewCards):
    """The Bot Connector answers 429 to the first `throttled` close messages."""

    throttled = 1

    async def review_closed(self, review: Review, tell: tuple[Approver, ...]) -> None:
        if self.throttled:
            self.throttled -= 1
            raise RuntimeError("429 Too Many Requests from the Bot Connector")
        await super().review_closed(review, tell)


async def test_a_close_whose_message_was_throttled_is_announced_on_retry_and_audited_once() -> None:
    world = ReviewWorld(cards=ThrottledCards())
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)

    await world.after(days=14, minutes=1)  # the close job fails once, and saq retries it
    await world.reviews.close(review_id)  # a later run (another worker's) tells nobody again

    closed = await world.reviews.get(review_id)
    assert [f.job.job for f in world.jobs.failures] == [JobName.REVIEW_CLOSE]
    assert closed.closed_unanswered and not closed.close_to_announce
    assert [(r.id, told) for r, told in world.cards.closed] == [
        (review_id, (demo.ADELE.object_id,))
    ]
    assert review_events(world).count("review_closed_unanswered") == 1
    drawn = world.cards.last_drawn()
    assert len(drawn) == len(closed.cards) == 5
    assert all(r.closed_unanswered for r in drawn.values())


class FailingEnqueue(InMemoryJobQueue):
    """Redis goes away when the removal job of a review is queued (`fail` times)."""

    fail = 0

    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        if job is JobName.REVIEW_REMOVE and self.fail:
            self.fail -= 1
            raise ConnectionError("redis went away")
        await super().enqueue(job, request_id, delay_seconds=delay_seconds)


async def test_the_sweep_announces_a_close_whose_every_retry_failed_once_they_are_spent() -> None:
    world = ReviewWorld()
    queue = FailingEnqueue(clock=world.clock, max_retries=2)
    world.jobs = queue
    world.reviews._jobs = queue  # noqa: SLF001 - the same queue the world runs
    world.service._jobs = queue  # noqa: SLF001
    world.service.lifecycle._jobs = queue  # noqa: SLF001
    await world.added(demo.ALEX, demo.GRADY)
    review_id = await started(world)
    # Grady's removal, decided before the close, keeps the review in the sweeper's index too.
    await world.reviews.decide(review_id, demo.MEGAN, {1: Choice.REMOVE})
    queue.fail = 3

    await world.after(days=14, minutes=1)
    assert len(queue.dead) == 1
    assert (await world.reviews.get(review_id)).close_to_announce
    world.clock.advance(minutes=10)
    await world.reviews.resume_stalled()  # saq's retries are still the close's own
    assert JobName.REVIEW_CLOSE not in queue.names()
    world.clock.advance(minutes=6)
    assert await world.reviews.resume_stalled() == 1
    await world.run_jobs()

    closed = await world.reviews.get(review_id)
    assert not closed.close_to_announce
    assert world.members() == {demo.ALEX.object_id}
    assert [told for _, told in world.cards.closed] == [(demo.ADELE.object_id,)]
    assert review_events(world).count("review_closed_unanswered") == 1
    assert all(r.closed_unanswered for r in world.cards.last_drawn().values())
    world.clock.advance(minutes=20)
    assert await world.reviews.resume_stalled() == 0


async def test_close_days_raised_after_a_review_started_close_it_at_the_new_time_only() -> None:
    world = ReviewWorld()  # closes 14 days after the start: 7 to escalation, 7 more
    await world.added(demo.ALEX)
    review_id = await started(world)
    world.reviews.policy = ReviewPolicy(close_after=timedelta(days=10))  # restarted with 10

    await world.after(days=14, minutes=1)  # the close job queued for the old time fires
    await world.reviews.resume_stalled()
    await world.run_jobs()
    assert (await world.reviews.get(review_id)).is_open
    await world.after(days=2, hours=23)
    assert (await world.reviews.get(review_id)).is_open
    await world.after(hours=1)

    closed = await world.reviews.get(review_id)
    assert closed.closed_unanswered
    assert closed.completed_at is not None
    assert closed.completed_at - closed.started_at <= timedelta(days=17, minutes=1)
    assert review_events(world).count("review_closed_unanswered") == 1
    assert len(world.cards.closed) == 1


async def test_a_review_of_a_list_deleted_meanwhile_closes_telling_everyone_it_asked() -> None:
    world = ReviewWorld()
    approvers = world.lists_can_be_deleted()
    await world.added(demo.ALEX)
    review_id = await started(world)
    await world.after(days=7, minutes=1)  # escalated to Adele while the list still existed
    approvers.deleted.add(FINANCE.object_id)

    await world.after(days=7)

    closed = await world.reviews.get(review_id)
    assert closed.closed_unanswered and not closed.close_to_announce
    assert [told for _, told in world.cards.closed] == [
        (demo.MEGAN.object_id, demo.LEE.object_id, demo.ADELE.object_id)
    ]
    [event] = [e for e in world.audit.events if e.event == "review_closed_unanswered"]
    assert "the list no longer exists" in event.detail
    assert [f.job.job for f in world.jobs.failures] == []


async def test_a_closed_review_stays_unfinished_until_its_close_is_announced_once() -> None:
    world = ReviewWorld()
    await world.added(demo.ALEX)
    review = await world.reviews.get(await started(world))

    closed = reviews.close_unanswered(review, now=world.clock())
    announced = reviews.close_announced(closed)

    assert closed.unfinished and closed.close_to_announce
    assert not announced.unfinished and announced.closed_unanswered
    with pytest.raises(ReviewClosed):
        reviews.close_announced(announced)


async def test_a_review_of_a_list_deleted_before_its_escalation_escalates_once_to_nobody() -> None:
    world = ReviewWorld()
    approvers = world.lists_can_be_deleted()
    await world.added(demo.ALEX)
    review_id = await started(world)
    approvers.deleted.add(FINANCE.object_id)

    await world.after(days=7, minutes=1)

    escalated = await world.reviews.get(review_id)
    assert escalated.escalated_at is not None
    assert [r.object_id for r in escalated.reviewers if r.via == FALLBACK_VIA] == []
    [event] = [e for e in world.audit.events if e.event == "review_escalated"]
    assert event.detail == "the list no longer exists"
    assert [f.job.job for f in world.jobs.failures] == []
