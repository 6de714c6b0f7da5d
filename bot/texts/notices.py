"""What people are told about a request (notices, admin alerts) and how approval cards word
its state, for every kind of request; the wording special to leaving, creating and
time-boxed memberships comes from their own modules."""

from __future__ import annotations

from datetime import datetime

from approvals.models import (
    FALLBACK_VIA,
    ApprovalRequest,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.ports import NoticeKind
from bot.texts.common import names
from bot.texts.create import (
    CREATE_CARD_STATUSES,
    CREATE_NOTICES,
    create_admin_alert,
    create_card_outcome,
    create_notice,
)
from bot.texts.leave import (
    LEAVE_CARD_STATUSES,
    LEAVE_NOTICES,
    leave_admin_alert,
    leave_card_outcome,
    leave_notice,
)
from bot.texts.membership import told_by_grant


def notice(kind: NoticeKind, request: ApprovalRequest) -> str | None:
    """What the requester (or an admin) is told; None when nothing needs saying."""
    group = request.group.display_name
    decision = request.decision
    decider = decision.actor.display_name if decision else "an approver"
    reason = f' Their reason: "{decision.reason}"' if decision and decision.reason else ""
    if kind in (NoticeKind.REMINDED, NoticeKind.ESCALATED, NoticeKind.EXPIRED):
        return _overdue_notice(kind, request)
    if told_by_grant(kind, request):
        return None  # the grant's own message says it, with the end date (grant_notice)
    if kind is NoticeKind.APPROVED and request.kind is RequestKind.JOIN and request.grant_id:
        return f"{decider} approved renewing your membership of {group}."
    if request.kind is RequestKind.LEAVE and kind in LEAVE_NOTICES:
        return leave_notice(kind, request, decider, reason)
    if request.kind is RequestKind.CREATE and kind in CREATE_NOTICES:
        return create_notice(kind, request, decider, reason)
    match kind:
        case NoticeKind.SUBMITTED:
            # The dialog already said who was asked when the request was sent.
            return None
        case NoticeKind.SENT_TO_FALLBACK:
            if request.orphaned:
                why = f"{group} has no owner who can approve"
            else:
                why = f"the owners of {group} could not be reached in Teams"
            return f"Because {why}, I sent your request to {names(request.approvers)} instead."
        case NoticeKind.APPROVED:
            return f"{decider} approved your request to join {group}. I'm adding you now."
        case NoticeKind.DENIED:
            return f"{decider} declined your request to join {group}.{reason}"
        case NoticeKind.COMPLETED:
            if request.execution.outcome == "already_member":
                return f"You're a member of {group} (you already were)."
            return f"Done: you're now a member of {group}. Its mail will reach you from now on."
        case NoticeKind.FAILED:
            return (
                f"I couldn't add you to {group}: {request.execution.error or 'Exchange refused'}. "
                "Your IT admins have been told."
            )
        case NoticeKind.CANCELLED:
            if request.cancelled_by is not None:
                why = f": {request.cancel_reason}" if request.cancel_reason else "."
                return f"An IT admin cancelled your request to join {group}{why}"
            return f"Your request to join {group} is cancelled."
    return None


# Pending too long (approvals.lifecycle): reminder, escalation, expiry ------------------------


def _asked(request: ApprovalRequest) -> str:
    group = request.group.display_name
    match request.kind:
        case RequestKind.LEAVE:
            return f"to leave {group}"
        case RequestKind.CREATE:
            return f"to create {group}"
    return f"to join {group}"


def _waited(since: datetime, until: datetime | None) -> str:
    """ "4 days", "6 hours", "1 minute": how long a request waited, roughly."""
    minutes = max(0, round(((until or since) - since).total_seconds() / 60))
    if minutes >= 24 * 60:
        count, unit = round(minutes / (24 * 60)), "day"
    elif minutes >= 60:
        count, unit = round(minutes / 60), "hour"
    else:
        count, unit = minutes, "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _fallback(request: ApprovalRequest) -> tuple[Person, ...]:
    return tuple(a for a in request.approvers if a.via == FALLBACK_VIA)


def _overdue_notice(kind: NoticeKind, request: ApprovalRequest) -> str:
    if kind is NoticeKind.REMINDED:
        waited = _waited(request.created_at, request.reminded_at)
        return (
            f"Your request {_asked(request)} has waited {waited} for a decision, so I've "
            f"reminded {names(request.approvers)}. I'll tell you what they decide."
        )
    if kind is NoticeKind.ESCALATED:
        waited = _waited(request.created_at, request.escalated_at)
        return (
            f"Nobody has decided your request {_asked(request)} in {waited}, so I've also asked "
            f"{names(_fallback(request))}. I'll tell you what they decide."
        )
    return (
        f"Your request {_asked(request)} expired: nobody decided it within "
        f"{_waited(request.created_at, request.updated_at)}. Ask me again if you still need it."
    )


def card_orphaned_note(request: ApprovalRequest) -> str:
    """Why a fallback approver holds the card of a request nobody else can decide."""
    if request.kind is RequestKind.CREATE:
        return "You're asked because nobody the creation policy names can approve this list."
    return "You're asked because this list has no owner who can approve."


def card_waiting_note(request: ApprovalRequest) -> str | None:
    """The line a card shows under the facts while its request waits past a reminder or an
    escalation; None otherwise."""
    if request.status is not RequestStatus.PENDING:
        return None
    if request.escalated_at is not None and _fallback(request):
        waited = _waited(request.created_at, request.escalated_at)
        return f"No decision in {waited}, so {names(_fallback(request))} can decide it too."
    if request.reminded_at is not None:
        waited = _waited(request.created_at, request.reminded_at)
        return f"Reminder: this request has waited {waited} for a decision."
    return None


def card_summary_prefix(request: ApprovalRequest) -> str:
    """Put before a new card's notification text: "Reminder: " on a reminder card."""
    pending = request.status is RequestStatus.PENDING
    if pending and request.reminded_at is not None and request.escalated_at is None:
        return "Reminder: "
    return ""


def admin_alert(request: ApprovalRequest, problem: str) -> str:
    if request.kind is RequestKind.LEAVE:
        return leave_admin_alert(request, problem)
    if request.kind is RequestKind.CREATE:
        return create_admin_alert(request, problem)
    return (
        f"dlbot could not add {request.requester.display_name} ({request.requester.address}) to "
        f"{request.group.display_name} ({request.group.address}), request {request.id}: {problem}"
    )


def card_outcome(request: ApprovalRequest) -> str:
    """The line an approver's card shows once the request is no longer waiting."""
    decision = request.decision
    by = decision.actor.display_name if decision else ""
    reason = f': "{decision.reason}"' if decision and decision.reason else ""
    if request.kind is RequestKind.LEAVE and request.status in LEAVE_CARD_STATUSES:
        return leave_card_outcome(request, by, reason)
    if request.kind is RequestKind.CREATE and request.status in CREATE_CARD_STATUSES:
        return create_card_outcome(request, by, reason)
    match request.status:
        case RequestStatus.PENDING:
            return "Waiting for a decision."
        case RequestStatus.APPROVED:
            if request.auto_approved:
                return f"No approval needed ({request.auto_approved}); being added."
            return f"Approved by {by}{reason}. Being added."
        case RequestStatus.COMPLETED:
            prefix = f"Approved by {by}{reason}. " if decision else ""
            return f"{prefix}{request.requester.display_name} is now a member."
        case RequestStatus.DENIED:
            return f"Declined by {by}{reason}."
        case RequestStatus.CANCELLED:
            if request.cancelled_by is not None:
                why = f': "{request.cancel_reason}"' if request.cancel_reason else ""
                return f"Cancelled by an IT admin{why}."
            return f"Cancelled by {request.requester.display_name}."
        case RequestStatus.EXPIRED:
            return "Expired without a decision."
        case RequestStatus.FAILED:
            return f"Approved, but the change failed: {request.execution.error}"
    return ""
