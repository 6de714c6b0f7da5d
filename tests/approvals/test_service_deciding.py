"""Deciding and cancelling: who may act is read now, the first decision wins, every card is
redrawn, and the requester hears the outcome."""

from __future__ import annotations

import asyncio

import pytest

from approvals.errors import (
    AlreadyDecided,
    NotAnApprover,
    NotCancellable,
    NotTheRequester,
    RequestNotFound,
    SelfApproval,
)
from approvals.models import (
    ADMIN_CANCEL_ACTOR,
    ApprovalRequest,
    CardRef,
    ListRef,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.ports import ApproverSet, JobName, NoticeKind, WriteResult
from approvals.service import ApprovalService
from approvals.testing import InMemoryMembershipWriter, InMemoryNotifier, StaticApprovers
from tests.approvals import demo
from tests.approvals.conftest import Harness

ALEX = demo.ALEX.object_id


async def test_an_owner_approving_queues_the_change_and_the_redraw_and_tells_the_requester(
    harness: Harness,
) -> None:
    request = await harness.ask()

    decided = await harness.service.decide(request.id, demo.MEGAN, approve=True, reason="welcome")

    assert decided.status is RequestStatus.APPROVED and decided.version == request.version + 1
    assert decided.decision is not None and decided.decision.actor == demo.MEGAN
    assert harness.jobs.names() == [JobName.EXECUTE, JobName.UPDATE_CARDS]
    assert harness.notifier.notices_to(ALEX) == [NoticeKind.SUBMITTED, NoticeKind.APPROVED]
    assert harness.events()[-1] == "approved"
    assert (harness.audit.events[-1].actor_id, harness.audit.events[-1].detail) == (
        demo.MEGAN.object_id,
        "welcome",
    )


async def test_an_approved_request_ends_with_the_member_added_and_every_card_showing_it(
    harness: Harness,
) -> None:
    request = await harness.ask()
    await harness.service.decide(request.id, demo.LEE, approve=True)

    await harness.run_jobs()

    done = await harness.service.get(request.id)
    assert done.status is RequestStatus.COMPLETED and done.execution.outcome == "added"
    assert harness.writer.members == {demo.FINANCE_EMEA.object_id: {ALEX}}
    assert harness.notifier.notices_to(ALEX)[-1] is NoticeKind.COMPLETED
    final_redraws = {card.approver_id: shown.status for card, shown in harness.notifier.updates}
    assert final_redraws == {
        demo.MEGAN.object_id: RequestStatus.COMPLETED,
        demo.LEE.object_id: RequestStatus.COMPLETED,
    }
    assert harness.events() == ["submitted", "cards_sent", "approved", "executed"]


async def test_an_owner_denying_tells_the_requester_why_and_changes_nothing_in_exchange(
    harness: Harness,
) -> None:
    request = await harness.ask()

    denied = await harness.service.decide(
        request.id, demo.MEGAN, approve=False, reason="EMEA staff only"
    )
    await harness.run_jobs()

    assert denied.status is RequestStatus.DENIED
    [notice] = [n for n in harness.notifier.notices if n.kind is NoticeKind.DENIED]
    assert notice.request.decision is not None
    assert notice.request.decision.reason == "EMEA staff only"
    assert harness.writer.calls == []
    assert {shown.status for _, shown in harness.notifier.updates} == {RequestStatus.DENIED}
    assert harness.events()[-1] == "denied"


async def test_an_owner_removed_since_the_cards_went_out_can_no_longer_decide(
    harness: Harness,
) -> None:
    request = await harness.ask()
    harness.approvers.owners[demo.FINANCE_EMEA.object_id] = (demo.approver(demo.LEE),)

    with pytest.raises(NotAnApprover):
        await harness.service.decide(request.id, demo.MEGAN, approve=True)
    assert (await harness.service.get(request.id)).status is RequestStatus.PENDING


async def test_an_owner_added_since_the_cards_went_out_can_decide_without_a_card(
    harness: Harness,
) -> None:
    request = await harness.ask()
    harness.approvers.owners[demo.FINANCE_EMEA.object_id] += (demo.approver(demo.PATTI),)

    decided = await harness.service.decide(request.id, demo.PATTI, approve=True)

    assert decided.status is RequestStatus.APPROVED


async def test_the_requester_cannot_decide_their_own_request_even_as_a_new_owner(
    harness: Harness,
) -> None:
    request = await harness.ask()
    harness.approvers.owners[demo.FINANCE_EMEA.object_id] += (demo.approver(demo.ALEX),)

    with pytest.raises(SelfApproval):
        await harness.service.decide(request.id, demo.ALEX, approve=True)


async def test_a_stranger_cannot_decide(harness: Harness) -> None:
    request = await harness.ask()
    with pytest.raises(NotAnApprover) as refused:
        await harness.service.decide(request.id, demo.JOHN, approve=True)
    assert refused.value.actor == demo.JOHN


async def test_a_second_decision_is_refused_with_who_decided_first(harness: Harness) -> None:
    request = await harness.ask()
    await harness.service.decide(request.id, demo.MEGAN, approve=True)
    jobs = len(harness.jobs.enqueued)

    with pytest.raises(AlreadyDecided) as refused:
        await harness.service.decide(request.id, demo.LEE, approve=False)

    decision = refused.value.request.decision
    assert decision is not None and decision.actor == demo.MEGAN and decision.approved
    assert len(harness.jobs.enqueued) == jobs


class SlowApprovers(StaticApprovers):
    """Reading the owners takes a moment, so two clicks both read the request before either
    stores its decision: the compare-and-set has to pick the winner."""

    async def current_approvers(self, group: ListRef) -> ApproverSet:
        found = await super().current_approvers(group)
        await asyncio.sleep(0)
        return found


async def test_two_owners_clicking_at_once_one_decision_wins_and_the_other_is_told(
    harness: Harness,
) -> None:
    harness.approvers = SlowApprovers(
        owners=dict(harness.approvers.owners), fallback=harness.approvers.fallback
    )
    request = await harness.ask()

    results = await asyncio.gather(
        harness.service.decide(request.id, demo.MEGAN, approve=True),
        harness.service.decide(request.id, demo.LEE, approve=False),
        return_exceptions=True,
    )

    [winner] = [r for r in results if not isinstance(r, BaseException)]
    [loser] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(loser, AlreadyDecided) and loser.request == winner
    assert harness.events().count("approved") + harness.events().count("denied") == 1


async def test_a_fallback_approver_decides_a_request_for_an_ownerless_list(
    harness: Harness,
) -> None:
    request = await harness.ask(group=demo.FORMER_INTERNS)
    decided = await harness.service.decide(request.id, demo.ADELE, approve=True)
    assert decided.status is RequestStatus.APPROVED


async def test_a_fallback_approver_decides_once_the_owners_proved_unreachable(
    harness: Harness,
) -> None:
    harness.notifier.unreachable = {demo.MEGAN.object_id, demo.LEE.object_id}
    request = await harness.ask()
    decided = await harness.service.decide(
        request.id, demo.ADELE, approve=False, reason="ask Megan"
    )
    assert decided.status is RequestStatus.DENIED


async def test_a_fallback_approver_cannot_decide_for_owners_who_were_reached(
    harness: Harness,
) -> None:
    request = await harness.ask()
    with pytest.raises(NotAnApprover):
        await harness.service.decide(request.id, demo.ADELE, approve=True)


async def test_deciding_an_unknown_request_is_not_found(harness: Harness) -> None:
    with pytest.raises(RequestNotFound):
        await harness.service.decide("NoSuchRequest000", demo.MEGAN, approve=True)


class SilentTeams(InMemoryNotifier):
    async def notify(self, person: Person, kind: NoticeKind, request: ApprovalRequest) -> bool:
        raise ConnectionError("Teams is down")


async def test_a_notice_that_fails_to_send_does_not_undo_the_decision(harness: Harness) -> None:
    request = await harness.ask()
    harness.notifier = SilentTeams()

    decided = await harness.service.decide(request.id, demo.MEGAN, approve=True)

    assert decided.status is RequestStatus.APPROVED
    assert harness.jobs.names() == [JobName.EXECUTE, JobName.UPDATE_CARDS]


# Cancelling ----------------------------------------------------------------------------------


async def test_the_requester_cancels_and_every_card_is_redrawn(harness: Harness) -> None:
    request = await harness.ask()

    cancelled = await harness.service.cancel(request.id, demo.ALEX)
    await harness.run_jobs()

    assert cancelled.status is RequestStatus.CANCELLED
    assert [(c.approver_id, r.status) for c, r in harness.notifier.updates] == [
        (demo.MEGAN.object_id, RequestStatus.CANCELLED),
        (demo.LEE.object_id, RequestStatus.CANCELLED),
    ]
    assert harness.events()[-1] == "cancelled"


async def test_after_cancelling_the_requester_can_ask_again(harness: Harness) -> None:
    request = await harness.ask()
    await harness.service.cancel(request.id, demo.ALEX)

    again = await harness.service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )

    assert again.created and again.request.id != request.id
    assert (
        await harness.service.open_request(ALEX, demo.FINANCE_EMEA.object_id, RequestKind.JOIN)
        == again.request
    )


async def test_an_owner_cannot_cancel_someone_elses_request(harness: Harness) -> None:
    request = await harness.ask()
    with pytest.raises(NotTheRequester):
        await harness.service.cancel(request.id, demo.MEGAN)


async def test_an_approved_request_cannot_be_cancelled(harness: Harness) -> None:
    request = await harness.ask()
    await harness.service.decide(request.id, demo.MEGAN, approve=True)
    with pytest.raises(NotCancellable):
        await harness.service.cancel(request.id, demo.ALEX)


async def test_an_admin_cancels_a_pending_request_and_everyone_hears_of_it(
    harness: Harness,
) -> None:
    request = await harness.ask()

    cancelled = await harness.service.cancel_as_admin(request.id, "opened by mistake")
    await harness.run_jobs()

    assert cancelled.status is RequestStatus.CANCELLED
    assert harness.notifier.notices_to(demo.ALEX.object_id)[-1] is NoticeKind.CANCELLED
    assert [(c.approver_id, r.status) for c, r in harness.notifier.updates] == [
        (demo.MEGAN.object_id, RequestStatus.CANCELLED),
        (demo.LEE.object_id, RequestStatus.CANCELLED),
    ]
    event = harness.audit.events[-1]
    assert (event.event, event.actor_id, event.detail) == (
        "cancelled",
        ADMIN_CANCEL_ACTOR,
        "was pending; reason: opened by mistake",
    )


async def test_an_admin_cancel_of_an_approved_request_stops_its_execution(
    harness: Harness,
) -> None:
    request = await harness.ask()
    await harness.service.decide(request.id, demo.MEGAN, approve=True)

    await harness.service.cancel_as_admin(request.id)
    await harness.run_jobs()

    assert (await harness.service.get(request.id)).status is RequestStatus.CANCELLED
    assert harness.writer.calls == []
    assert "executed" not in harness.events()


async def test_an_admin_cannot_cancel_a_completed_request(harness: Harness) -> None:
    request = await harness.ask()
    await harness.service.decide(request.id, demo.MEGAN, approve=True)
    await harness.run_jobs()

    with pytest.raises(NotCancellable):
        await harness.service.cancel_as_admin(request.id)
    assert harness.events().count("cancelled") == 0


class CancelledMidWrite(InMemoryMembershipWriter):
    """An admin's cancel lands while Exchange is making the change."""

    service: ApprovalService

    async def add_member(self, group: ListRef, person: Person) -> WriteResult:
        result = await super().add_member(group, person)
        for request in await self.service.recent(10):
            await self.service.cancel_as_admin(request.id)
        return result


async def test_a_change_made_while_an_admin_cancelled_is_still_audited_and_alerted(
    harness: Harness,
) -> None:
    writer = CancelledMidWrite()
    harness.writer = writer
    writer.service = harness.service
    request = await harness.ask()
    await harness.service.decide(request.id, demo.MEGAN, approve=True)

    await harness.run_jobs()

    assert (await harness.service.get(request.id)).status is RequestStatus.CANCELLED
    assert harness.events()[-2:] == ["cancelled", "executed"]
    assert harness.audit.events[-1].exchange_request_id == "exchange-1"
    assert [r.id for r, _ in harness.notifier.alerts] == [request.id]


# Redrawing and reading -----------------------------------------------------------------------


class GoneConversation(InMemoryNotifier):
    """Megan deleted her chat with the bot: her card can no longer be redrawn."""

    async def update_card(self, card: CardRef, request: ApprovalRequest) -> None:
        if card.approver_id == demo.MEGAN.object_id:
            raise ConnectionError("conversation gone")
        await super().update_card(card, request)


async def test_one_card_that_cannot_be_redrawn_does_not_keep_the_others_stale(
    harness: Harness,
) -> None:
    request = await harness.ask()
    harness.notifier = GoneConversation()

    with pytest.raises(ConnectionError):
        await harness.service.update_cards(request.id)

    assert [card.approver_id for card, _ in harness.notifier.updates] == [demo.LEE.object_id]


class ChangedWhileDrawing(InMemoryNotifier):
    """The request is carried out while its first redraw is on its way to Teams."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.harness = harness
        self.executed = False

    async def update_card(self, card: CardRef, request: ApprovalRequest) -> None:
        if not self.executed:
            self.executed = True
            await self.harness.service.execute(request.id)
        await super().update_card(card, request)


async def test_a_redraw_that_read_an_older_state_draws_again_so_the_latest_lands_last(
    harness: Harness,
) -> None:
    request = await harness.ask()
    await harness.run_jobs()
    await harness.service.decide(request.id, demo.MEGAN, approve=True)
    harness.notifier = ChangedWhileDrawing(harness)

    await harness.service.update_cards(request.id)  # read APPROVED; COMPLETED meanwhile

    last_drawn = {card.approver_id: drawn.status for card, drawn in harness.notifier.updates}
    assert last_drawn == {
        demo.MEGAN.object_id: RequestStatus.COMPLETED,
        demo.LEE.object_id: RequestStatus.COMPLETED,
    }


async def test_a_requesters_requests_are_listed_newest_first(harness: Harness) -> None:
    first = await harness.ask()
    second = await harness.ask(group=demo.SALES_TEAM)
    listed = await harness.service.requests_of(ALEX)
    assert [r.id for r in listed] == [second.id, first.id]
    assert [r.id for r in await harness.service.requests_of(ALEX, limit=1)] == [second.id]


async def test_getting_an_unknown_request_is_not_found(harness: Harness) -> None:
    with pytest.raises(RequestNotFound):
        await harness.service.get("NoSuchRequest000")
