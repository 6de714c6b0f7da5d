"""Time-boxed membership on the in-memory fakes: a JOIN for N days records a grant; the member
is asked to renew 7 days and 1 day before the end; at the end one LEAVE removes them, once, and
they are told; renewal (at once, or through the owners) starts a new term whose end replaces
the old one; leaving early ends the grant; a list moved on-premises fails the end loudly."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from approvals import grants
from approvals.audit import AuditAction
from approvals.errors import PermanentWriteError
from approvals.grant_service import END_REASON, LAST_PROMPT_RUN, PROMPT_ATTEMPTS, end_job_id
from approvals.grant_store import InMemoryGrantStore
from approvals.grants import Grant, GrantNotActive, GrantStatus, MembershipRules, NotTheMember
from approvals.models import ListRef, Person, RequestKind, RequestStatus
from approvals.ports import JobName, NoticeKind, WriteResult
from approvals.testing import InMemoryMembershipWriter
from skills.my_requests import MyRequests
from tests.approvals import demo
from tests.approvals.conftest import START
from tests.approvals.grant_world import GrantWorld

ALEX = demo.ALEX.object_id


async def approved_for(
    world: GrantWorld, days: int | None, *, membership_days: int | None = None
) -> Grant:
    request = await world.ask_for(days)
    await world.service.decide(
        request.id, demo.MEGAN, approve=True, membership_days=membership_days
    )
    await world.run_jobs()
    grant = await world.grants.get(request.id)
    assert grant is not None
    return grant


def events(world: GrantWorld, action: AuditAction) -> int:
    return sum(1 for e in world.audit.events if e.event == action.value)


async def test_a_join_for_30_days_is_prompted_twice_then_removed_once_and_the_member_told() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    assert grant.ends_at == START + timedelta(days=30)
    assert ALEX in world.member()
    assert world.grant_notices.what() == ["granted"]
    # The plain "you are a member now" notice gives way to the grant's, which has the end date.
    assert NoticeKind.COMPLETED in world.notifier.notices_to(ALEX)

    await world.after(days=22, hours=23)
    assert world.grant_notices.what() == ["granted"]
    await world.after(hours=1)
    assert world.grant_notices.what() == ["granted", "prompt 7"]
    await world.after(days=6)
    assert world.grant_notices.what() == ["granted", "prompt 7", "prompt 1"]
    assert ALEX in world.member()

    await world.after(days=1)
    assert ALEX not in world.member()
    assert world.grant_notices.what()[-1] == "ended"
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED
    leave = await world.service.get(ended.end_request_id)
    assert (leave.kind, leave.status, leave.auto_approved) == (
        RequestKind.LEAVE,
        RequestStatus.COMPLETED,
        END_REASON,
    )
    assert world.removals() == 1

    # The timers and the sweeper keep running: nothing happens twice.
    await world.grants.end(f"{grant.id}.0")
    assert await world.grants.resume_overdue() == 0
    await world.after(days=30)
    assert world.removals() == 1
    assert (events(world, AuditAction.GRANTED), events(world, AuditAction.RENEWAL_PROMPTED)) == (
        1,
        2,
    )
    assert events(world, AuditAction.MEMBERSHIP_ENDED) == 1
    assert world.grant_notices.what().count("ended") == 1


async def test_the_approver_can_shorten_the_time_asked_for_but_not_lengthen_it() -> None:
    shortened = await approved_for(GrantWorld(), 30, membership_days=7)
    assert shortened.days == 7
    kept = await approved_for(GrantWorld(), 30, membership_days=90)
    assert kept.days == 30


async def test_the_approver_can_time_box_a_join_asked_for_good() -> None:
    grant = await approved_for(GrantWorld(), None, membership_days=14)
    assert grant.ends_at == START + timedelta(days=14)


async def test_a_join_asked_for_good_makes_no_grant() -> None:
    world = GrantWorld()
    request = await world.ask_for(None)
    await world.service.decide(request.id, demo.MEGAN, approve=True)
    await world.run_jobs()
    assert await world.grants.get(request.id) is None
    assert world.grant_notices.what() == []


async def test_the_admins_maximum_time_boxes_every_join_to_a_matching_list() -> None:
    world = GrantWorld(rules=MembershipRules.parse("finance-*=60"))
    assert (await approved_for(world, None)).days == 60
    other = GrantWorld(rules=MembershipRules.parse("finance-*=60"))
    assert (await approved_for(other, 365)).days == 60


async def test_a_term_shorter_than_a_week_has_only_the_last_days_prompt() -> None:
    world = GrantWorld()
    await approved_for(world, 3)
    await world.after(days=3)
    assert world.grant_notices.what() == ["granted", "prompt 1", "ended"]


async def test_renewing_at_once_moves_the_end_on_and_the_old_terms_end_removes_nobody() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    await world.after(days=23)
    result = await world.grants.renew(grant.id, demo.ALEX, at_once="open list")
    assert result.request is None
    assert result.grant.ends_at == START + timedelta(days=60)

    await world.after(days=7)  # the first term's end passes
    assert ALEX in world.member()
    await world.after(days=23)
    assert world.grant_notices.what()[-1] == "prompt 7"
    await world.after(days=7)
    assert ALEX not in world.member()
    assert world.removals() == 1
    assert events(world, AuditAction.RENEWED) == 1


async def test_renewing_through_the_owners_starts_a_new_term_once_they_approve() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    await world.after(days=29)
    asked = await world.grants.renew(grant.id, demo.ALEX, justification="still on it")
    assert asked.request is not None and asked.request.grant_id == grant.id
    assert asked.request.membership_days == 30
    again = await world.grants.renew(grant.id, demo.ALEX)
    assert again.asked_before and again.request is not None
    assert again.request.id == asked.request.id

    await world.run_jobs()
    await world.service.decide(asked.request.id, demo.MEGAN, approve=True)
    await world.run_jobs()
    renewed = await world.grants.get(grant.id)
    assert renewed is not None and renewed.ends_at == START + timedelta(days=60)
    assert world.grant_notices.what()[-1] == "renewed"
    await world.after(days=2)
    assert ALEX in world.member()
    await world.after(days=29)
    assert ALEX not in world.member()


async def test_an_unanswered_renewal_leaves_the_end_where_it_was() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    await world.after(days=29)
    await world.grants.renew(grant.id, demo.ALEX)
    await world.after(days=1)
    assert ALEX not in world.member()


async def test_only_the_member_may_renew_and_only_while_the_grant_runs() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    with pytest.raises(NotTheMember):
        await world.grants.renew(grant.id, demo.LEE, at_once="open list")
    await world.after(days=30)
    with pytest.raises(GrantNotActive):
        await world.grants.renew(grant.id, demo.ALEX, at_once="open list")


async def test_leaving_before_the_end_ends_the_grant_and_its_timer_then_does_nothing() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    await world.service.submit(
        kind=RequestKind.LEAVE, requester=demo.ALEX, group=demo.FINANCE_EMEA, auto_approved="x"
    )
    await world.run_jobs()
    left = await world.grants.get(grant.id)
    assert left is not None and left.status is GrantStatus.ENDED
    await world.after(days=31)
    assert world.removals() == 1
    assert "ended" not in world.grant_notices.what()
    results = [e.result for e in world.audit.events if e.event == "membership_ended"]
    assert results == ["left"]


async def test_a_list_moved_on_premises_fails_the_end_alerts_the_admins_and_tells_the_member() -> (
    None
):
    world = GrantWorld()
    grant = await approved_for(world, 30)
    world.writer.script.append(PermanentWriteError("the list is synced from on-premises"))
    await world.after(days=30)
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.END_FAILED
    assert world.grant_notices.what()[-1] == "end failed"
    assert any("on-premises" in problem for _, problem in world.notifier.alerts)
    failed = [e for e in world.audit.events if e.event == "membership_ended"]
    assert [e.result for e in failed] == ["failed"]


async def test_the_sweeper_queues_the_end_of_a_grant_whose_timer_was_lost() -> None:
    world = GrantWorld()
    world.queue.lose_timers = True
    grant = await approved_for(world, 30)
    world.queue.lose_timers = False
    world.clock.advance(days=30, minutes=5)
    await world.run_jobs()
    assert ALEX in world.member()
    assert await world.grants.resume_overdue() == 1
    assert [j.job for j in world.jobs.pending()] == [JobName.GRANT_END]
    await world.run_jobs()
    assert ALEX not in world.member()
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED


async def test_a_leave_still_waiting_for_the_owners_gives_way_to_the_end() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    asked = await world.service.submit(
        kind=RequestKind.LEAVE, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )
    await world.run_jobs()
    await world.after(days=30)
    assert ALEX not in world.member()
    assert (await world.service.get(asked.request.id)).status is RequestStatus.CANCELLED
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED
    assert world.removals() == 1


async def test_someone_made_a_member_for_good_meanwhile_keeps_it_without_a_time_limit() -> None:
    world = GrantWorld()
    request = await world.ask_for(30)
    world.writer.members.setdefault(demo.FINANCE_EMEA.object_id, set()).add(ALEX)
    await world.service.decide(request.id, demo.MEGAN, approve=True)
    await world.run_jobs()
    assert await world.grants.get(request.id) is None
    await world.after(days=31)
    assert ALEX in world.member() and world.removals() == 0


async def removal_asked(world: GrantWorld, grant: Grant) -> str:
    """The term runs out and the end job asks for the removal; its LEAVE has not run yet."""
    world.clock.advance(days=30, minutes=1)
    await world.grants.end(f"{grant.id}.0")
    ending = await world.grants.get(grant.id)
    assert ending is not None and ending.status is GrantStatus.ENDING and ending.end_request_id
    return ending.end_request_id


async def test_an_admin_cancelling_the_removal_keeps_the_member_for_good_and_tells_them_once() -> (
    None
):
    world = GrantWorld()
    grant = await approved_for(world, 30)
    leave = await removal_asked(world, grant)
    await world.service.cancel_as_admin(leave, reason="still needed for the audit")
    await world.run_jobs()  # the LEAVE's execution finds it cancelled
    # A removal may still be running in Exchange for a while: the grant waits for it.
    await world.grants.end(f"{grant.id}.0")
    waiting = await world.grants.get(grant.id)
    assert waiting is not None and waiting.status is GrantStatus.ENDING
    assert world.grant_notices.what() == ["granted"]
    world.clock.advance(minutes=11)
    assert await world.grants.resume_overdue() == 1
    await world.run_jobs()  # the end job settles

    kept = await world.grants.get(grant.id)
    assert kept is not None and kept.status is GrantStatus.KEPT and kept.end_request_id == leave
    assert ALEX in world.member() and world.removals() == 0
    assert world.grant_notices.what() == ["granted", "kept"]
    (event,) = [e for e in world.audit.events if e.event == AuditAction.MEMBERSHIP_KEPT.value]
    assert event.request_id == grant.id and event.actor_id == "admin (dlbot requests cancel)"
    assert leave in event.detail and "still needed for the audit" in event.detail

    # No timer, sweep or later run ends it again.
    await world.grants.end(f"{grant.id}.0")
    assert await world.grants.resume_overdue() == 0
    await world.after(days=7)
    assert ALEX in world.member() and world.removals() == 0
    assert world.grant_notices.what().count("kept") == 1
    assert events(world, AuditAction.MEMBERSHIP_KEPT) == 1
    with pytest.raises(GrantNotActive):
        await world.grants.renew(grant.id, demo.ALEX, at_once="open list")


async def test_the_members_own_leave_cancelled_by_the_end_does_not_keep_the_membership() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    own = await world.service.submit(
        kind=RequestKind.LEAVE, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )
    await world.run_jobs()
    await world.after(days=30)
    assert (await world.service.get(own.request.id)).status is RequestStatus.CANCELLED
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED
    assert events(world, AuditAction.MEMBERSHIP_KEPT) == 0


class DroppingGrantStore(InMemoryGrantStore):
    """Fails the next `drops` writes that end a grant, as a worker dying inside the hook does."""

    drops = 0

    async def replace(self, new: Grant, expected_version: int) -> Grant:
        if self.drops and new.status is GrantStatus.ENDED:
            self.drops -= 1
            raise ConnectionError("worker died")
        return await super().replace(new, expected_version)


async def test_a_removal_whose_grant_hook_was_lost_is_settled_by_the_next_sweep() -> None:
    store = DroppingGrantStore()
    world = GrantWorld(grant_store=store)
    grant = await approved_for(world, 30)
    store.drops = 1
    await world.after(days=30, minutes=1)
    assert ALEX not in world.member()
    stuck = await world.grants.get(grant.id)
    assert stuck is not None and stuck.status is GrantStatus.ENDING

    world.clock.advance(minutes=5)
    assert await world.grants.resume_overdue() == 1
    await world.run_jobs()
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED
    assert world.grant_notices.what().count("ended") == 1
    assert await world.grants.resume_overdue() == 0


async def test_a_prompt_teams_failed_to_take_is_retried_and_delivered_once() -> None:
    world = GrantWorld()
    world.grant_notices.failing[7] = 3
    grant = await approved_for(world, 30)
    await world.after(days=23)
    assert world.grant_notices.tries.count(7) == 4
    assert world.grant_notices.what() == ["granted", "prompt 7"]
    assert events(world, AuditAction.RENEWAL_PROMPTED) == 1
    prompted = await world.grants.get(grant.id)
    assert prompted is not None and prompted.prompted == (7,)
    assert prompted.prompt_failures == (7, 7, 7)

    await world.grants.prompt(f"{grant.id}.0.7")  # a late duplicate run sends nothing
    assert world.grant_notices.what().count("prompt 7") == 1
    assert events(world, AuditAction.RENEWAL_PROMPT_UNDELIVERED) == 0


async def test_a_prompt_failing_every_attempt_is_given_up_loudly_and_the_last_days_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = GrantWorld()
    world.grant_notices.failing[7] = 1000
    grant = await approved_for(world, 30)
    with caplog.at_level(logging.WARNING, logger="approvals.grant_service"):
        await world.after(days=23)
    assert world.grant_notices.tries.count(7) == PROMPT_ATTEMPTS
    assert world.jobs.dead == []  # given up by the service, not dropped by the queue
    (event,) = [
        e for e in world.audit.events if e.event == AuditAction.RENEWAL_PROMPT_UNDELIVERED.value
    ]
    assert event.request_id == grant.id and event.result == "failed"
    assert "Bot Connector unreachable" in event.detail
    assert [r.levelno for r in caplog.records if "given up" in r.getMessage()] == [logging.WARNING]

    await world.after(days=6)
    assert world.grant_notices.what() == ["granted", "prompt 1"]
    assert world.grant_notices.tries.count(7) == PROMPT_ATTEMPTS


async def test_a_member_teams_cannot_reach_is_not_prompted_again_and_it_is_audited() -> None:
    world = GrantWorld()
    world.grant_notices.refused = True
    await approved_for(world, 30)
    await world.after(days=23)
    assert world.grant_notices.tries == [7]
    results = [e.result for e in world.audit.events if e.event == "renewal_prompt_undelivered"]
    assert results == ["unreachable"]


class CancelledMidRemoval(InMemoryMembershipWriter):
    """Exchange removes the member while `meanwhile` runs first: an admin's cancel landing
    while Remove-DistributionGroupMember is already on its way."""

    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def remove_member(self, group: ListRef, person: Person) -> WriteResult:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return await super().remove_member(group, person)


async def test_a_cancel_landing_while_exchange_removes_the_member_ends_the_grant_not_keeps_it() -> (
    None
):
    writer = CancelledMidRemoval()
    world = GrantWorld(writer=writer)
    grant = await approved_for(world, 30)
    leave = await removal_asked(world, grant)

    async def cancel() -> None:
        await world.service.cancel_as_admin(leave, reason="still needed")

    writer.meanwhile = cancel
    await world.run_jobs()
    assert ALEX not in world.member()
    assert (await world.service.get(leave)).status is RequestStatus.CANCELLED
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED
    assert world.grant_notices.what() == ["granted", "ended"]
    assert any("was cancelled while" in problem for _, problem in world.notifier.alerts)

    # Sweeps long after the cancel do not turn it into "you stay a member".
    world.clock.advance(minutes=30)
    await world.grants.resume_overdue()
    await world.run_jobs()
    await world.grants.end(end_job_id(grant))
    settled = await world.grants.get(grant.id)
    assert settled is not None and settled.status is GrantStatus.ENDED
    assert events(world, AuditAction.MEMBERSHIP_KEPT) == 0
    results = [e.result for e in world.audit.events if e.event == "membership_ended"]
    assert results == ["removed"]


async def test_a_removal_that_went_through_after_the_grant_was_kept_ends_it_after_all() -> None:
    writer = CancelledMidRemoval()
    world = GrantWorld(writer=writer)
    grant = await approved_for(world, 30)
    leave = await removal_asked(world, grant)

    async def cancel_and_keep() -> None:
        # Exchange is slow beyond reason: the cancel settles (KEPT) before the removal returns.
        await world.service.cancel_as_admin(leave, reason="still needed")
        world.clock.advance(minutes=15)
        await world.grants.end(end_job_id(grant))

    writer.meanwhile = cancel_and_keep
    await world.run_jobs()
    assert ALEX not in world.member()
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED
    assert world.grant_notices.what() == ["granted", "kept", "ended"]


async def test_the_members_own_leave_recorded_as_the_removal_and_cancelled_is_asked_again() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    own = await world.service.submit(
        kind=RequestKind.LEAVE, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )
    await world.run_jobs()
    await world.service.decide(own.request.id, demo.MEGAN, approve=True)  # not carried out yet
    world.clock.advance(days=30, minutes=1)
    await world.grants.end(end_job_id(grant))
    ending = await world.grants.get(grant.id)
    assert ending is not None and ending.end_request_id == own.request.id

    await world.service.cancel_as_admin(own.request.id, reason="wrong list")
    await world.run_jobs()
    world.clock.advance(minutes=15)
    await world.grants.resume_overdue()
    await world.run_jobs()
    ended = await world.grants.get(grant.id)
    assert ended is not None and ended.status is GrantStatus.ENDED
    assert ended.end_request_id != own.request.id
    assert ALEX not in world.member() and world.removals() == 1
    assert events(world, AuditAction.MEMBERSHIP_KEPT) == 0
    assert world.grant_notices.what()[-1] == "ended"


async def test_a_kept_member_who_leaves_ends_the_grant_and_it_is_no_longer_shown() -> None:
    world = GrantWorld()
    grant = await approved_for(world, 30)
    leave = await removal_asked(world, grant)
    await world.service.cancel_as_admin(leave, reason="still needed")
    await world.run_jobs()
    world.clock.advance(minutes=15)
    await world.grants.resume_overdue()
    await world.run_jobs()
    mine = MyRequests(world.service, world.grants)
    shown = (await mine.overview(demo.ALEX)).memberships
    assert [(g.id, g.status) for g in shown] == [(grant.id, GrantStatus.KEPT)]

    await world.after(days=40)
    await world.service.submit(
        kind=RequestKind.LEAVE, requester=demo.ALEX, group=demo.FINANCE_EMEA, auto_approved="x"
    )
    await world.run_jobs()
    left = await world.grants.get(grant.id)
    assert left is not None and left.status is GrantStatus.ENDED
    assert (await mine.overview(demo.ALEX)).memberships == ()
    assert world.grant_notices.what() == ["granted", "kept"]  # they know they left
    results = [e.result for e in world.audit.events if e.event == "membership_ended"]
    assert results == ["left"]


async def test_the_sweep_finds_a_lost_end_job_behind_more_than_a_page_of_ending_grants() -> None:
    world = GrantWorld()
    for n in range(150):
        member = Person(object_id=f"member-{n}", display_name=f"Member {n}")
        ending = grants.claim_end(
            grants.new_grant(
                grant_id=f"g{n}", member=member, group=demo.FINANCE_EMEA, days=1, now=START
            ),
            generation=0,
            now=START + timedelta(days=1),
        )
        await world.grant_store.create(ending.model_copy(update={"version": 0}))
    lost = grants.new_grant(
        grant_id="lost", member=demo.ALEX, group=demo.FINANCE_EMEA, days=2, now=START
    )
    await world.grant_store.create(lost)
    world.clock.advance(days=3)
    assert await world.grants.resume_overdue() == 151
    assert end_job_id(lost) in [j.request_id for j in world.jobs.pending()]


async def test_a_prompt_failing_on_the_job_queues_last_run_is_given_up_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = GrantWorld()
    world.grant_notices.failing[7] = 1000
    grant = await approved_for(world, 30)
    world.clock.advance(days=23)
    with pytest.raises(ConnectionError):  # an earlier run: raised for the queue to retry
        await world.grants.prompt(f"{grant.id}.0.7")
    assert events(world, AuditAction.RENEWAL_PROMPT_UNDELIVERED) == 0
    token = LAST_PROMPT_RUN.set(True)
    try:
        with caplog.at_level(logging.WARNING, logger="approvals.grant_service"):
            await world.grants.prompt(f"{grant.id}.0.7")  # given up, not raised
    finally:
        LAST_PROMPT_RUN.reset(token)
    (event,) = [
        e for e in world.audit.events if e.event == AuditAction.RENEWAL_PROMPT_UNDELIVERED.value
    ]
    assert event.result == "failed" and "2 attempt(s)" in event.detail
    assert [r.levelno for r in caplog.records if "given up" in r.getMessage()] == [logging.WARNING]
    given_up = await world.grants.get(grant.id)
    assert given_up is not None and 7 in given_up.undelivered
