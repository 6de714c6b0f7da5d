"""Asking: submit stores one open request and queues its cards; deliver_cards reaches the
approvers (or the fallback approvers) and tells the requester who was asked."""

from __future__ import annotations

from approvals.models import ApprovalRequest, Approver, CardRef, RequestKind, RequestStatus
from approvals.ports import JobName, NoticeKind
from approvals.testing import InMemoryNotifier
from tests.approvals import demo
from tests.approvals.conftest import Harness

MEGAN, LEE, ADELE = demo.MEGAN.object_id, demo.LEE.object_id, demo.ADELE.object_id


def asked(request: ApprovalRequest) -> list[tuple[str, str]]:
    return [(a.display_name, a.via) for a in request.approvers]


async def test_submit_stores_a_pending_request_asking_the_owners_and_queues_its_cards(
    harness: Harness,
) -> None:
    request = await harness.ask(run_jobs=False)

    assert request.status is RequestStatus.PENDING
    assert asked(request) == [("Megan Bowen", "owner"), ("Lee Gu", "owner")]
    assert request.justification == "I work with this team now"
    assert harness.jobs.names() == [JobName.DELIVER_CARDS]
    assert harness.notifier.cards == []  # cards go out from the job, after the request is safe
    assert harness.events() == ["submitted"]
    assert harness.audit.events[0].actor_id == demo.ALEX.object_id


async def test_asking_again_returns_the_open_request_and_does_nothing_else(
    harness: Harness,
) -> None:
    first = await harness.ask()
    lookups, events, jobs = harness.approvers.calls, harness.events(), len(harness.jobs.enqueued)

    again = await harness.service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )

    assert not again.created and again.request == first
    assert (harness.approvers.calls, harness.events(), len(harness.jobs.enqueued)) == (
        lookups,
        events,
        jobs,
    )


async def test_asking_to_leave_is_a_separate_request_from_asking_to_join(
    harness: Harness,
) -> None:
    await harness.ask(run_jobs=False)
    leave = await harness.service.submit(
        kind=RequestKind.LEAVE, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )
    assert leave.created


async def test_a_request_needing_no_approval_is_approved_and_carried_out_at_once(
    harness: Harness,
) -> None:
    result = await harness.service.submit(
        kind=RequestKind.JOIN,
        requester=demo.ALEX,
        group=demo.FINANCE_EMEA,
        auto_approved="open list",
    )
    assert result.created and result.request.status is RequestStatus.APPROVED
    assert result.request.approvers == ()
    assert harness.approvers.calls == 0
    assert harness.jobs.names() == [JobName.EXECUTE]

    await harness.run_jobs()

    assert (await harness.service.get(result.request.id)).status is RequestStatus.COMPLETED
    assert harness.notifier.notices_to(demo.ALEX.object_id) == [NoticeKind.COMPLETED]
    assert harness.events() == ["submitted", "approved", "executed"]
    assert harness.audit.events[1].detail == "no approval needed: open list"


async def test_an_owner_asking_is_never_among_the_approvers(harness: Harness) -> None:
    request = await harness.ask(requester=demo.MEGAN)
    assert asked(request) == [("Lee Gu", "owner")]
    assert harness.notifier.carded() == [LEE]


async def test_the_only_owner_asking_goes_to_the_fallback_approvers(harness: Harness) -> None:
    harness.approvers.owners[demo.FINANCE_EMEA.object_id] = (demo.approver(demo.MEGAN),)
    request = await harness.ask(requester=demo.MEGAN)
    assert asked(request) == [("Adele Vance", "fallback")]
    assert request.orphaned


async def test_an_ownerless_list_is_asked_of_the_fallback_and_the_requester_told_so(
    harness: Harness,
) -> None:
    request = await harness.ask(group=demo.FORMER_INTERNS)

    assert request.orphaned and asked(request) == [("Adele Vance", "fallback")]
    assert harness.notifier.carded() == [ADELE]
    assert harness.notifier.notices_to(demo.ALEX.object_id) == [NoticeKind.SENT_TO_FALLBACK]


async def test_delivering_sends_each_approver_a_card_remembers_it_and_tells_the_requester(
    harness: Harness,
) -> None:
    request = await harness.ask()

    assert harness.notifier.carded() == [MEGAN, LEE]
    assert [c.approver_id for c in request.cards] == [MEGAN, LEE]
    assert request.cards == tuple(card for _, _, card in harness.notifier.cards)
    assert harness.notifier.notices_to(demo.ALEX.object_id) == [NoticeKind.SUBMITTED]
    assert harness.events() == ["submitted", "cards_sent"]
    assert harness.audit.events[1].detail == "to Megan Bowen (owner), Lee Gu (owner)"


async def test_delivering_twice_sends_no_second_card_and_no_second_notice(
    harness: Harness,
) -> None:
    request = await harness.ask()
    await harness.service.deliver_cards(request.id)
    assert harness.notifier.carded() == [MEGAN, LEE]
    assert harness.notifier.notices_to(demo.ALEX.object_id) == [NoticeKind.SUBMITTED]
    assert (await harness.service.get(request.id)) == request


async def test_an_unreachable_owner_gets_a_card_on_a_later_delivery(harness: Harness) -> None:
    harness.notifier.unreachable = {LEE}
    request = await harness.ask()
    assert [c.approver_id for c in request.cards] == [MEGAN]

    harness.notifier.unreachable = set()
    await harness.service.deliver_cards(request.id)

    assert harness.notifier.carded() == [MEGAN, LEE]
    assert [c.approver_id for c in (await harness.service.get(request.id)).cards] == [MEGAN, LEE]


async def test_when_no_owner_can_be_reached_the_fallback_approvers_are_asked_instead(
    harness: Harness,
) -> None:
    harness.notifier.unreachable = {MEGAN, LEE}

    request = await harness.ask()

    assert asked(request) == [("Adele Vance", "fallback")]
    assert request.asked_fallback and not request.orphaned
    assert harness.notifier.carded() == [ADELE]
    [notice] = harness.notifier.notices
    assert (notice.person, notice.kind) == (demo.ALEX, NoticeKind.SENT_TO_FALLBACK)
    assert [a.display_name for a in notice.request.approvers] == ["Adele Vance"]
    assert harness.events() == ["submitted", "sent_to_fallback", "cards_sent"]


async def test_when_nobody_at_all_can_be_reached_the_admins_are_alerted(
    harness: Harness,
) -> None:
    harness.notifier.unreachable = {MEGAN, LEE, ADELE}

    request = await harness.ask()

    assert request.status is RequestStatus.PENDING and request.cards == ()
    [(alerted, problem)] = harness.notifier.alerts
    assert alerted.id == request.id and "could be reached" in problem
    assert harness.notifier.notices == []
    assert harness.events() == ["submitted", "sent_to_fallback", "unreachable"]


async def test_a_request_cancelled_before_delivery_gets_no_cards(harness: Harness) -> None:
    request = await harness.ask(run_jobs=False)
    await harness.service.cancel(request.id, demo.ALEX)
    await harness.run_jobs()
    assert harness.notifier.cards == []


class DecidingMeanwhile(InMemoryNotifier):
    """Posting Lee's card takes long enough for Megan to act on hers first."""

    def __init__(self, harness: Harness, *, approve: bool) -> None:
        super().__init__()
        self.harness, self.approve = harness, approve

    async def send_card(self, approver: Approver, request: ApprovalRequest) -> CardRef | None:
        if approver.object_id == LEE:
            if self.approve:
                await self.harness.service.decide(request.id, demo.MEGAN, approve=True)
            else:
                await self.harness.service.cancel(request.id, demo.ALEX)
        return await super().send_card(approver, request)


async def test_a_card_posted_while_the_request_was_approved_is_kept_and_redrawn_at_once(
    harness: Harness,
) -> None:
    harness.notifier = DecidingMeanwhile(harness, approve=True)
    request = await harness.ask(run_jobs=False)

    await harness.service.deliver_cards(request.id)

    stored = await harness.service.get(request.id)
    assert [c.approver_id for c in stored.cards] == [MEGAN, LEE]
    lee_card = stored.cards[1]
    assert [(c, r.status) for c, r in harness.notifier.updates] == [
        (lee_card, RequestStatus.APPROVED)
    ]


async def test_a_card_posted_while_the_request_ended_is_redrawn_but_not_kept(
    harness: Harness,
) -> None:
    harness.notifier = DecidingMeanwhile(harness, approve=False)
    request = await harness.ask(run_jobs=False)

    await harness.service.deliver_cards(request.id)

    stored = await harness.service.get(request.id)
    assert stored.status is RequestStatus.CANCELLED
    assert [c.approver_id for c in stored.cards] == [MEGAN]
    [(card, shown)] = harness.notifier.updates
    assert card.approver_id == LEE and shown.status is RequestStatus.CANCELLED
