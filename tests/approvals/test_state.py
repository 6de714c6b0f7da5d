"""The pure state machine: every allowed step, every refused one, and no way out of the end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from approvals import state
from approvals.errors import (
    AlreadyDecided,
    ApprovalError,
    InvalidTransition,
    NotAnApprover,
    NotCancellable,
    NotTheRequester,
    SelfApproval,
)
from approvals.models import (
    ADMIN_CANCEL_ACTOR,
    FALLBACK_VIA,
    FINAL_STATUSES,
    OPEN_STATUSES,
    ApprovalRequest,
    CardRef,
    RequestKind,
    RequestStatus,
)
from tests.approvals import demo

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
OWNERS = {demo.MEGAN.object_id, demo.LEE.object_id}
CARD = CardRef(approver_id=demo.MEGAN.object_id, conversation_id="c1", activity_id="a1")


def pending() -> ApprovalRequest:
    return state.new_request(
        kind=RequestKind.JOIN,
        requester=demo.ALEX,
        group=demo.FINANCE_EMEA,
        now=T0,
        justification="I joined the EMEA finance team",
        approvers=(demo.approver(demo.MEGAN), demo.approver(demo.LEE)),
    )


def approved() -> ApprovalRequest:
    return state.decide(pending(), actor=demo.MEGAN, approve=True, approver_ids=OWNERS, now=T0)


def in_status(status: RequestStatus) -> ApprovalRequest:
    return pending().model_copy(update={"status": status})


def test_a_new_request_waits_for_approval_at_version_zero() -> None:
    request = pending()
    assert (request.status, request.version) == (RequestStatus.PENDING, 0)
    assert request.created_at == request.updated_at == T0


def test_a_new_request_that_needs_no_approval_is_approved_at_once() -> None:
    request = state.new_request(
        kind=RequestKind.JOIN,
        requester=demo.ALEX,
        group=demo.FINANCE_EMEA,
        now=T0,
        auto_approved="open list",
    )
    assert request.status is RequestStatus.APPROVED and request.auto_approved == "open list"


def test_request_ids_are_16_url_safe_characters_and_never_repeat() -> None:
    ids = {state.new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 16 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_an_owner_approving_records_who_decided_why_and_when() -> None:
    request = state.decide(
        pending(), actor=demo.LEE, approve=True, approver_ids=OWNERS, now=T1, reason="welcome"
    )
    assert request.status is RequestStatus.APPROVED
    assert request.decision is not None
    assert (request.decision.actor, request.decision.reason, request.decision.at) == (
        demo.LEE,
        "welcome",
        T1,
    )
    assert (request.version, request.updated_at) == (1, T1)


def test_an_owner_denying_ends_the_request_as_denied() -> None:
    request = state.decide(
        pending(), actor=demo.MEGAN, approve=False, approver_ids=OWNERS, now=T1, reason="no"
    )
    assert request.status is RequestStatus.DENIED
    assert request.decision is not None and not request.decision.approved


def test_the_requester_cannot_decide_even_when_listed_as_an_approver() -> None:
    with pytest.raises(SelfApproval):
        state.decide(
            pending(),
            actor=demo.ALEX,
            approve=True,
            approver_ids={*OWNERS, demo.ALEX.object_id},
            now=T1,
        )


def test_someone_who_is_not_an_approver_now_cannot_decide() -> None:
    with pytest.raises(NotAnApprover) as refused:
        state.decide(pending(), actor=demo.JOHN, approve=True, approver_ids=OWNERS, now=T1)
    assert refused.value.actor == demo.JOHN


def test_a_stranger_is_refused_as_such_even_on_a_decided_request() -> None:
    with pytest.raises(NotAnApprover):
        state.decide(approved(), actor=demo.JOHN, approve=False, approver_ids=OWNERS, now=T1)


def test_a_second_decision_is_refused_with_the_first_one_attached() -> None:
    first = approved()
    with pytest.raises(AlreadyDecided) as refused:
        state.decide(first, actor=demo.LEE, approve=False, approver_ids=OWNERS, now=T1)
    decision = refused.value.request.decision
    assert decision is not None and decision.actor == demo.MEGAN and decision.approved


def test_the_requester_cancels_a_pending_request() -> None:
    request = state.cancel(pending(), actor=demo.ALEX, now=T1)
    assert (request.status, request.version) == (RequestStatus.CANCELLED, 1)


def test_nobody_but_the_requester_can_cancel() -> None:
    with pytest.raises(NotTheRequester):
        state.cancel(pending(), actor=demo.MEGAN, now=T1)


def test_an_approved_request_can_no_longer_be_cancelled() -> None:
    with pytest.raises(NotCancellable) as refused:
        state.cancel(approved(), actor=demo.ALEX, now=T1)
    assert refused.value.request.status is RequestStatus.APPROVED


def test_an_admin_cancels_a_pending_request_with_a_reason() -> None:
    cancelled = state.cancel_as_admin(pending(), now=T1, reason="duplicate of a ticket")
    assert (cancelled.status, cancelled.version, cancelled.updated_at) == (
        RequestStatus.CANCELLED,
        1,
        T1,
    )
    assert cancelled.cancelled_by is not None
    assert cancelled.cancelled_by.display_name == ADMIN_CANCEL_ACTOR
    assert cancelled.cancel_reason == "duplicate of a ticket"


def test_an_admin_cancels_an_approved_request_keeping_who_approved_it() -> None:
    cancelled = state.cancel_as_admin(approved(), now=T1)
    assert cancelled.status is RequestStatus.CANCELLED
    assert cancelled.decision is not None and cancelled.decision.actor == demo.MEGAN


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
def test_an_admin_cannot_cancel_a_final_request(status: RequestStatus) -> None:
    with pytest.raises(NotCancellable):
        state.cancel_as_admin(in_status(status), now=T1)


def test_a_requesters_own_cancel_names_no_admin() -> None:
    assert state.cancel(pending(), actor=demo.ALEX, now=T1).cancelled_by is None


def test_a_pending_request_expires() -> None:
    assert state.expire(pending(), now=T1).status is RequestStatus.EXPIRED


def test_an_approved_request_does_not_expire() -> None:
    with pytest.raises(InvalidTransition):
        state.expire(approved(), now=T1)


def test_escalating_asks_the_fallback_approvers_instead_without_orphaning_the_list() -> None:
    fallback = (demo.approver(demo.ADELE, "fallback"),)
    request = state.escalate(pending(), fallback=fallback, now=T1)
    assert request.approvers == fallback and request.asked_fallback
    assert not request.orphaned and request.status is RequestStatus.PENDING


def test_escalating_needs_someone_to_escalate_to() -> None:
    with pytest.raises(ValueError):
        state.escalate(pending(), fallback=(), now=T1)


def test_an_approved_request_is_not_escalated() -> None:
    with pytest.raises(InvalidTransition):
        state.escalate(approved(), fallback=(demo.approver(demo.ADELE, "fallback"),), now=T1)


def test_a_card_is_recorded_and_a_second_card_to_the_same_approver_replaces_it() -> None:
    request = state.add_card(pending(), CARD, now=T1)
    newer = CARD.model_copy(update={"activity_id": "a2"})
    request = state.add_card(request, newer, now=T1)
    assert request.cards == (newer,) and request.version == 2
    assert request.card_of(demo.MEGAN.object_id) == newer


def test_a_card_is_still_recorded_on_a_request_approved_meanwhile() -> None:
    assert state.add_card(approved(), CARD, now=T1).cards == (CARD,)


def test_a_reminder_card_is_kept_beside_the_approvers_first_card() -> None:
    reminder = CardRef(
        approver_id=demo.MEGAN.object_id, conversation_id="c1", activity_id="a2", reminder=True
    )
    request = state.add_card(state.add_card(pending(), CARD, now=T1), reminder, now=T1)
    assert request.cards == (CARD, reminder)
    assert request.card_of(demo.MEGAN.object_id) == CARD


def test_a_second_reminder_card_replaces_the_first_reminder_only() -> None:
    first = CARD.model_copy(update={"activity_id": "a2", "reminder": True})
    second = CARD.model_copy(update={"activity_id": "a3", "reminder": True})
    request = pending()
    for card in (CARD, first, second):
        request = state.add_card(request, card, now=T1)
    assert request.cards == (CARD, second)


def test_reminding_records_when_and_keeps_the_request_pending() -> None:
    request = state.remind(pending(), now=T1)
    assert (request.reminded_at, request.status, request.version) == (
        T1,
        RequestStatus.PENDING,
        1,
    )


def test_a_request_is_reminded_only_once() -> None:
    with pytest.raises(InvalidTransition):
        state.remind(state.remind(pending(), now=T1), now=T1)


def test_a_decided_request_is_not_reminded() -> None:
    with pytest.raises(InvalidTransition):
        state.remind(approved(), now=T1)


def test_an_overdue_escalation_adds_the_fallback_approvers_beside_the_owners() -> None:
    request = state.escalate_overdue(
        pending(), fallback=(demo.approver(demo.ADELE, "owner"),), now=T1
    )
    assert [(a.object_id, a.via) for a in request.approvers] == [
        (demo.MEGAN.object_id, "owner"),
        (demo.LEE.object_id, "owner"),
        (demo.ADELE.object_id, FALLBACK_VIA),
    ]
    assert request.escalated_at == T1 and request.asked_fallback and not request.orphaned


def test_an_overdue_escalation_adds_neither_the_requester_nor_anyone_twice() -> None:
    fallback = (
        demo.approver(demo.ALEX, "fallback"),
        demo.approver(demo.MEGAN, "fallback"),
        demo.approver(demo.ADELE, "fallback"),
        demo.approver(demo.ADELE, "fallback"),
    )
    request = state.escalate_overdue(pending(), fallback=fallback, now=T1)
    assert [a.object_id for a in request.approvers] == [
        demo.MEGAN.object_id,
        demo.LEE.object_id,
        demo.ADELE.object_id,
    ]


def test_an_overdue_escalation_with_nobody_to_add_is_still_recorded() -> None:
    request = state.escalate_overdue(pending(), fallback=(), now=T1)
    assert request.escalated_at == T1 and request.approvers == pending().approvers
    assert not request.asked_fallback


def test_a_request_is_escalated_when_overdue_only_once() -> None:
    once = state.escalate_overdue(pending(), fallback=(), now=T1)
    with pytest.raises(InvalidTransition):
        state.escalate_overdue(once, fallback=(demo.approver(demo.ADELE),), now=T1)


def test_a_decided_request_is_not_escalated_when_overdue() -> None:
    with pytest.raises(InvalidTransition):
        state.escalate_overdue(approved(), fallback=(demo.approver(demo.ADELE),), now=T1)


def test_completing_records_the_outcome_the_exchange_call_and_the_attempt() -> None:
    request = state.complete(approved(), outcome="added", exchange_request_id="x-1", now=T1)
    assert request.status is RequestStatus.COMPLETED
    assert request.execution.model_dump() == {
        "attempts": 1,
        "outcome": "added",
        "error": "",
        "exchange_request_id": "x-1",
        "finished_at": T1,
        "alternatives": (),
    }


def test_a_transient_failure_is_counted_and_the_request_stays_approved() -> None:
    request = state.record_attempt(approved(), error="throttled", exchange_request_id="x", now=T1)
    request = state.record_attempt(
        request, error="throttled again", exchange_request_id="y", now=T1
    )
    assert request.status is RequestStatus.APPROVED
    assert (request.execution.attempts, request.execution.error) == (2, "throttled again")


def test_completing_after_failed_attempts_counts_every_attempt() -> None:
    request = state.record_attempt(approved(), error="busy", exchange_request_id="x", now=T1)
    done = state.complete(request, outcome="added", exchange_request_id="y", now=T1)
    assert done.execution.attempts == 2 and done.execution.error == ""


def test_failing_ends_the_request_with_the_reason() -> None:
    request = state.fail(
        approved(), error="synced from on-premises", exchange_request_id="x", now=T1
    )
    assert request.status is RequestStatus.FAILED
    assert (request.execution.error, request.execution.finished_at) == (
        "synced from on-premises",
        T1,
    )


@pytest.mark.parametrize(
    "step",
    [
        lambda r: state.complete(r, outcome="added", exchange_request_id="", now=T1),
        lambda r: state.fail(r, error="e", exchange_request_id="", now=T1),
        lambda r: state.record_attempt(r, error="e", exchange_request_id="", now=T1),
    ],
    ids=["complete", "fail", "record_attempt"],
)
def test_a_pending_request_cannot_be_carried_out(
    step: Callable[[ApprovalRequest], ApprovalRequest],
) -> None:
    with pytest.raises(InvalidTransition):
        step(pending())


def test_the_status_sets_cover_every_status_once() -> None:
    assert OPEN_STATUSES | FINAL_STATUSES == set(RequestStatus)
    assert not OPEN_STATUSES & FINAL_STATUSES


# Every step the state machine offers, with arguments a caller could pass: given a final
# request, each must refuse, whoever asks and whatever they say.
STEPS: dict[str, Callable[[ApprovalRequest, str, bool], ApprovalRequest]] = {
    "decide": lambda r, who, yes: state.decide(
        r,
        actor=demo.person(who, who, ""),
        approve=yes,
        approver_ids={who, *OWNERS},
        now=T1,
    ),
    "decide_as_owner": lambda r, who, yes: state.decide(
        r, actor=demo.MEGAN, approve=yes, approver_ids=OWNERS, now=T1, reason=who
    ),
    "cancel": lambda r, who, yes: state.cancel(r, actor=r.requester, now=T1),
    "expire": lambda r, who, yes: state.expire(r, now=T1),
    "escalate": lambda r, who, yes: state.escalate(
        r, fallback=(demo.approver(demo.person(who, who, ""), "fallback"),), now=T1
    ),
    "add_card": lambda r, who, yes: state.add_card(
        r, CardRef(approver_id=who, conversation_id="c", activity_id="a", reminder=yes), now=T1
    ),
    "remind": lambda r, who, yes: state.remind(r, now=T1),
    "escalate_overdue": lambda r, who, yes: state.escalate_overdue(
        r, fallback=(demo.approver(demo.person(who, who, ""), "fallback"),), now=T1
    ),
    "record_attempt": lambda r, who, yes: state.record_attempt(
        r, error=who, exchange_request_id="x", now=T1
    ),
    "complete": lambda r, who, yes: state.complete(
        r, outcome="added" if yes else "already_member", exchange_request_id="x", now=T1
    ),
    "fail": lambda r, who, yes: state.fail(r, error=who, exchange_request_id="x", now=T1),
}


@given(
    status=st.sampled_from(sorted(FINAL_STATUSES)),
    step=st.sampled_from(sorted(STEPS)),
    who=st.text(min_size=1, max_size=40),
    yes=st.booleans(),
    version=st.integers(min_value=0, max_value=10_000),
)
def test_no_step_leaves_a_final_status(
    status: RequestStatus, step: str, who: str, yes: bool, version: int
) -> None:
    request = in_status(status).model_copy(update={"version": version})
    with pytest.raises(ApprovalError):
        STEPS[step](request, who, yes)


@given(
    status=st.sampled_from(sorted(OPEN_STATUSES)),
    step=st.sampled_from(sorted(STEPS)),
    who=st.text(min_size=1, max_size=40),
    yes=st.booleans(),
    version=st.integers(min_value=0, max_value=10_000),
)
def test_every_step_allowed_from_an_open_status_moves_the_version_on_by_one(
    status: RequestStatus, step: str, who: str, yes: bool, version: int
) -> None:
    request = in_status(status).model_copy(update={"version": version})
    try:
        after = STEPS[step](request, who, yes)
    except ApprovalError:
        return  # refused: nothing to check
    assert (after.version, after.updated_at) == (version + 1, T1)
    assert (after.id, after.requester, after.group, after.created_at) == (
        request.id,
        request.requester,
        request.group,
        request.created_at,
    )
