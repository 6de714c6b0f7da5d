"""The approval state machine: pure functions from (request, facts, now) to the next request.

    PENDING ──decide──> APPROVED ──complete──> COMPLETED
       │                   │  ↺ record_attempt (a transient failure)
       │                   └──fail──────────> FAILED
       ├──decide (deny)──> DENIED
       ├──cancel─────────> CANCELLED   (the requester only)
       ├──cancel_as_admin> CANCELLED   (an admin; from APPROVED too, before it is carried out)
       └──expire─────────> EXPIRED     (nobody decided in time: approvals.lifecycle)

While a request is open, `add_card` remembers where an approver's card was posted and
`escalate` hands a pending request to the fallback approvers (its owners are unreachable). The
lifecycle timers of a pending request each happen once: `remind` records that the approvers
were reminded, `escalate_overdue` adds the fallback approvers beside the owners who did not
decide in time. Every step returns a new request
with `version + 1` and `updated_at = now`; the store accepts it only if the stored version is
still the one it was made from. Anything else raises, so a final request never changes again.
No I/O here: the service gathers the facts (who may approve now, what Exchange said).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from approvals.errors import (
    AlreadyDecided,
    InvalidTransition,
    NotAnApprover,
    NotCancellable,
    NotTheRequester,
    SelfApproval,
)
from approvals.models import (
    ADMIN_CANCEL_ACTOR,
    FALLBACK_VIA,
    ApprovalRequest,
    Approver,
    CardRef,
    Decision,
    Execution,
    ListRef,
    Person,
    RequestKind,
    RequestStatus,
)


def new_request_id() -> str:
    """16 URL-safe characters from 96 random bits: fits in card data, cannot be guessed."""
    return secrets.token_urlsafe(12)


def new_request(
    *,
    kind: RequestKind,
    requester: Person,
    group: ListRef,
    now: datetime,
    justification: str = "",
    approvers: Sequence[Approver] = (),
    orphaned: bool = False,
    auto_approved: str = "",
) -> ApprovalRequest:
    """A request as first stored: APPROVED when no approval is needed, else PENDING."""
    return ApprovalRequest(
        id=new_request_id(),
        kind=kind,
        status=RequestStatus.APPROVED if auto_approved else RequestStatus.PENDING,
        requester=requester,
        group=group,
        justification=justification,
        approvers=tuple(approvers),
        orphaned=orphaned,
        auto_approved=auto_approved,
        created_at=now,
        updated_at=now,
    )


def _next(request: ApprovalRequest, now: datetime, **changes: Any) -> ApprovalRequest:
    return request.model_copy(update={**changes, "version": request.version + 1, "updated_at": now})


def decide(
    request: ApprovalRequest,
    *,
    actor: Person,
    approve: bool,
    approver_ids: Collection[str],
    now: datetime,
    reason: str = "",
    membership_days: int | None = None,
) -> ApprovalRequest:
    """PENDING → APPROVED or DENIED, by one of `approver_ids` (the approvers as they are now).
    An approver may make a JOIN time-boxed (`membership_days`), or shorten the time asked for,
    never lengthen it.

    Who is asking is checked before the status, so a stranger learns nothing about the request.
    """
    if actor.object_id == request.requester.object_id:
        raise SelfApproval(request.id)
    if actor.object_id not in approver_ids:
        raise NotAnApprover(actor)
    if request.status is not RequestStatus.PENDING:
        raise AlreadyDecided(request)
    days = request.membership_days
    if approve and membership_days is not None and request.kind is RequestKind.JOIN:
        if membership_days < 1:
            raise ValueError("a time-boxed membership lasts at least one day")
        days = membership_days if days is None else min(days, membership_days)
    return _next(
        request,
        now,
        status=RequestStatus.APPROVED if approve else RequestStatus.DENIED,
        decision=Decision(approved=approve, actor=actor, reason=reason, at=now),
        membership_days=days,
    )


def cancel(request: ApprovalRequest, *, actor: Person, now: datetime) -> ApprovalRequest:
    """PENDING → CANCELLED, by the requester only."""
    if actor.object_id != request.requester.object_id:
        raise NotTheRequester(actor)
    if request.status is not RequestStatus.PENDING:
        raise NotCancellable(request)
    return _next(request, now, status=RequestStatus.CANCELLED)


def cancel_as_admin(
    request: ApprovalRequest, *, now: datetime, reason: str = ""
) -> ApprovalRequest:
    """PENDING or APPROVED → CANCELLED, by an admin (`dlbot requests cancel`).

    An approved request is cancelled only while it is not carried out: once COMPLETED or FAILED
    it is final, like every other final request (NotCancellable).
    """
    if not request.is_open:
        raise NotCancellable(request)
    return _next(
        request,
        now,
        status=RequestStatus.CANCELLED,
        cancelled_by=Person(object_id="", display_name=ADMIN_CANCEL_ACTOR),
        cancel_reason=reason,
    )


def expire(request: ApprovalRequest, *, now: datetime) -> ApprovalRequest:
    """PENDING → EXPIRED: nobody decided in time."""
    _require(request, RequestStatus.PENDING, "expire")
    return _next(request, now, status=RequestStatus.EXPIRED)


def escalate(
    request: ApprovalRequest, *, fallback: Sequence[Approver], now: datetime
) -> ApprovalRequest:
    """A pending request goes to the fallback approvers instead (its owners were unreachable)."""
    _require(request, RequestStatus.PENDING, "escalate")
    if not fallback:
        raise ValueError("escalating needs at least one fallback approver")
    return _next(request, now, approvers=tuple(fallback))


def remind(request: ApprovalRequest, *, now: datetime) -> ApprovalRequest:
    """A pending request's approvers are reminded, once: whoever stores this step first sends
    the reminders (InvalidTransition for a request already reminded, or no longer pending)."""
    _require(request, RequestStatus.PENDING, "remind")
    if request.reminded_at is not None:
        raise InvalidTransition(request, "remind again")
    return _next(request, now, reminded_at=now)


def escalate_overdue(
    request: ApprovalRequest, *, fallback: Sequence[Approver], now: datetime
) -> ApprovalRequest:
    """A pending request nobody decided in time goes to the fallback approvers too, once.

    They are added beside the approvers already asked (an owner may still decide), as
    FALLBACK_VIA, so decide() accepts them; never the requester, never anyone twice. With nobody
    new to add (no fallback approvers configured, or all of them asked already) the escalation
    is still recorded, so it is not tried again.
    """
    _require(request, RequestStatus.PENDING, "escalate")
    if request.escalated_at is not None:
        raise InvalidTransition(request, "escalate again")
    asked = {a.object_id for a in request.approvers} | {request.requester.object_id}
    added: list[Approver] = []
    for approver in fallback:
        if approver.object_id not in asked:
            asked.add(approver.object_id)
            added.append(approver.model_copy(update={"via": FALLBACK_VIA}))
    return _next(request, now, approvers=(*request.approvers, *added), escalated_at=now)


def add_card(request: ApprovalRequest, card: CardRef, *, now: datetime) -> ApprovalRequest:
    """Remember where an approver's card is, replacing an earlier card of the same approver
    (a reminder card replaces only an earlier reminder: both are kept, both are redrawn).

    Allowed while the request is open (a card may land just after a decision and must still be
    redrawn); a final request never changes, so its late card is redrawn without being kept.
    """
    if not request.is_open:
        raise InvalidTransition(request, "record a card on")
    others = tuple(
        c for c in request.cards if (c.approver_id, c.reminder) != (card.approver_id, card.reminder)
    )
    return _next(request, now, cards=(*others, card))


def record_attempt(
    request: ApprovalRequest, *, error: str, exchange_request_id: str, now: datetime
) -> ApprovalRequest:
    """An APPROVED request's change failed in a way worth retrying: count it, stay APPROVED."""
    _require(request, RequestStatus.APPROVED, "record an attempt on")
    execution = request.execution.model_copy(
        update={
            "attempts": request.execution.attempts + 1,
            "error": error,
            "exchange_request_id": exchange_request_id,
        }
    )
    return _next(request, now, execution=execution)


def complete(
    request: ApprovalRequest,
    *,
    outcome: str,
    exchange_request_id: str,
    now: datetime,
    created: ListRef | None = None,
) -> ApprovalRequest:
    """APPROVED → COMPLETED: the change is made (or was already true). A CREATE request's
    `group` becomes the list as Exchange made it (`created`)."""
    _require(request, RequestStatus.APPROVED, "complete")
    execution = Execution(
        attempts=request.execution.attempts + 1,
        outcome=outcome,
        exchange_request_id=exchange_request_id,
        finished_at=now,
    )
    group = created if created is not None else request.group
    return _next(request, now, status=RequestStatus.COMPLETED, execution=execution, group=group)


def fail(
    request: ApprovalRequest, *, error: str, exchange_request_id: str, now: datetime
) -> ApprovalRequest:
    """APPROVED → FAILED after the attempt that failed for good (or the last one allowed)."""
    _require(request, RequestStatus.APPROVED, "fail")
    execution = Execution(
        attempts=request.execution.attempts + 1,
        error=error,
        exchange_request_id=exchange_request_id,
        finished_at=now,
    )
    return _next(request, now, status=RequestStatus.FAILED, execution=execution)


def _require(request: ApprovalRequest, status: RequestStatus, action: str) -> None:
    if request.status is not status:
        raise InvalidTransition(request, action)
