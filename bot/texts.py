"""Every sentence the bot says about a request: the one place outcomes become words.

Kept apart from the dialogs and cards so that wording is reviewed (and later translated) in one
file, and so no exception text from below ever reaches a person by accident.
"""

from __future__ import annotations

from approvals.models import ApprovalRequest, Person, RequestStatus
from approvals.ports import NoticeKind


def names(people: tuple[Person, ...] | list[Person]) -> str:
    """ "A", "A and B", "A, B and C"."""
    shown = [p.display_name or p.address or "someone" for p in people]
    if not shown:
        return "nobody"
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def notice(kind: NoticeKind, request: ApprovalRequest) -> str | None:
    """What the requester (or an admin) is told; None when nothing needs saying."""
    group = request.group.display_name
    decision = request.decision
    decider = decision.actor.display_name if decision else "an approver"
    reason = f' Their reason: "{decision.reason}"' if decision and decision.reason else ""
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
            return f"Your request to join {group} is cancelled."
    return None


def admin_alert(request: ApprovalRequest, problem: str) -> str:
    return (
        f"dlbot could not add {request.requester.display_name} ({request.requester.address}) to "
        f"{request.group.display_name} ({request.group.address}), request {request.id}: {problem}"
    )


def card_outcome(request: ApprovalRequest) -> str:
    """The line an approver's card shows once the request is no longer waiting."""
    decision = request.decision
    by = decision.actor.display_name if decision else ""
    reason = f' "{decision.reason}"' if decision and decision.reason else ""
    match request.status:
        case RequestStatus.PENDING:
            return "Waiting for a decision."
        case RequestStatus.APPROVED:
            if request.auto_approved:
                return f"No approval needed ({request.auto_approved}); being added."
            return f"Approved by {by}.{reason} Being added."
        case RequestStatus.COMPLETED:
            prefix = f"Approved by {by}.{reason} " if decision else ""
            return f"{prefix}{request.requester.display_name} is now a member."
        case RequestStatus.DENIED:
            return f"Declined by {by}.{reason}"
        case RequestStatus.CANCELLED:
            return f"Cancelled by {request.requester.display_name}."
        case RequestStatus.EXPIRED:
            return "Expired without a decision."
        case RequestStatus.FAILED:
            return f"Approved, but the change failed: {request.execution.error}"
    return ""
