"""Leaving a list: the conversation, and how its notices and cards are worded."""

from __future__ import annotations

from approvals.models import (
    ApprovalRequest,
    RequestKind,
    RequestStatus,
)
from approvals.ports import NoticeKind
from bot.texts.common import names, names_text
from skills.leave_dl import (
    LeaveAlreadyRequested,
    LeaveInstead,
    LeaveNeedsApproval,
    LeaveOutcome,
    LeavePreview,
    LeaveRefusal,
    LeaveRefused,
    MemberThroughGroup,
    NotAMember,
    RemoveNow,
    RemoveNowReason,
)
from skills.ports import Restriction

LEAVE_CARD_STATUSES = frozenset({RequestStatus.APPROVED, RequestStatus.COMPLETED})
# The notices worded for leaving; any other kind is worded as for every request.
LEAVE_NOTICES = frozenset(
    {
        NoticeKind.SUBMITTED,
        NoticeKind.SENT_TO_FALLBACK,
        NoticeKind.APPROVED,
        NoticeKind.DENIED,
        NoticeKind.COMPLETED,
        NoticeKind.FAILED,
        NoticeKind.CANCELLED,
    }
)


def leave_notice(
    kind: NoticeKind, request: ApprovalRequest, decider: str, reason: str
) -> str | None:
    group = request.group.display_name
    match kind:
        case NoticeKind.SUBMITTED:
            return None  # the dialog already said who was asked
        case NoticeKind.SENT_TO_FALLBACK:
            if request.orphaned:
                why = f"{group} has no owner who can approve"
            else:
                why = f"the owners of {group} could not be reached in Teams"
            return (
                f"Because {why}, I sent your request to leave to {names(request.approvers)} "
                "instead."
            )
        case NoticeKind.APPROVED:
            return f"{decider} approved your request to leave {group}. I'm removing you now."
        case NoticeKind.DENIED:
            return (
                f"{decider} declined your request to leave {group}, so you're still on it.{reason}"
            )
        case NoticeKind.COMPLETED:
            if request.execution.outcome == "not_a_member":
                return f"You were not a member of {group} (any more), so nothing needed removing."
            return f"Done: you're removed from {group}. Its mail won't reach you any more."
        case NoticeKind.FAILED:
            return (
                f"I couldn't remove you from {group}: "
                f"{request.execution.error or 'Exchange refused'}. Your IT admins have been told."
            )
        case NoticeKind.CANCELLED:
            if request.cancelled_by is not None:
                why = f": {request.cancel_reason}" if request.cancel_reason else "."
                return f"An IT admin cancelled your request to leave {group}{why}"
            return f"Your request to leave {group} is cancelled."
    return None


def leave_admin_alert(request: ApprovalRequest, problem: str) -> str:
    return (
        f"dlbot could not remove {request.requester.display_name} "
        f"({request.requester.address}) from {request.group.display_name} "
        f"({request.group.address}), request {request.id}: {problem}"
    )


def leave_card_outcome(request: ApprovalRequest, by: str, reason: str) -> str:
    who = request.requester.display_name
    if request.status is RequestStatus.APPROVED:
        if request.auto_approved:
            return f"No approval needed ({request.auto_approved}); being removed."
        return f"Approved by {by}{reason}. Being removed."
    prefix = f"Approved by {by}{reason}. " if request.decision else ""
    if request.execution.outcome == "not_a_member":
        return f"{prefix}{who} was not a member any more; nothing to remove."
    return f"{prefix}{who} is removed from the list."


def card_heading(request: ApprovalRequest) -> str:
    """The small line above the list's name on an approval card."""
    if request.kind is RequestKind.LEAVE:
        return f"{request.requester.display_name} wants to leave"
    if request.kind is RequestKind.CREATE:
        return f"{request.requester.display_name} asks for a new list"
    return "Request to join"


def card_summary(request: ApprovalRequest) -> str:
    """What Teams shows in notifications and the chat list for a new approval card."""
    who, group = request.requester.display_name, request.group.display_name
    if request.kind is RequestKind.LEAVE:
        return f"{who} wants to leave {group}"
    if request.kind is RequestKind.CREATE:
        return f"{who} asks for a new list: {group}"
    return f"{who} asks to join {group}"


ASK_WHICH_LIST_TO_LEAVE = (
    "Which list do you want to leave? Type part of its name or its email address."
)
NOT_LEFT = "OK, you stay on it. I haven't changed anything."

_LEAVING = {
    Restriction.OPEN: "anyone can leave",
    Restriction.APPROVAL_REQUIRED: "owners approve who leaves",
    Restriction.CLOSED: "closed: only owners remove members",
}

_LEAVE_INSTEAD = {
    LeaveInstead.CHECK_THE_NAME: "Check the name, or use the list's email address.",
    LeaveInstead.ASK_ONPREM_ADMIN: (
        "It's managed in the on-premises directory, so your IT admins (or its owners) must "
        "remove you there."
    ),
    LeaveInstead.NOTHING_TO_LEAVE: "Room lists hold meeting rooms, not people.",
    LeaveInstead.UPDATE_PROFILE: (
        "Its members are chosen automatically from directory details such as department; "
        "if yours are wrong, ask HR or IT to update them."
    ),
}


def describe_leave(preview: LeavePreview) -> str:
    """The chosen list as the person will recognise it, with who decides about leaving."""
    group = preview.list
    if group is None:
        return ""
    owners = f"Owners: {names_text(preview.owners)}; " if preview.owners else ""
    return (
        f"**{group.display_name}** ({group.address})\n\n"
        f"{owners}{_LEAVING[group.depart_restriction]}."
    )


def leave_decision_text(preview: LeavePreview) -> str | None:
    """What to say about a leave decision that ends the conversation; None when it goes on."""
    decision = preview.decision
    name = preview.list.display_name if preview.list else "that list"
    match decision:
        case NotAMember():
            return f"You're not a member of {name}, so there's nothing to leave."
        case MemberThroughGroup(via=via):
            path = " → ".join(via) if via else "another list"
            holder = via[-1] if via else "that list"
            return (
                f"You get {name}'s mail through {path}, not as a member yourself, so I can't "
                f"take you off {name}. Leave {holder} instead if that's right for you, or ask "
                f"the owners of {name}."
            )
        case LeaveAlreadyRequested(request=request):
            if request.status is RequestStatus.APPROVED:
                return f"Your request to leave {name} is approved and being done."
            asked_on = f"{request.created_at:%d %b}"
            return (
                f"You already asked to leave {name} on {asked_on}; "
                f"{names(request.approvers)} can decide."
            )
        case LeaveRefused(reason=reason, instead=instead):
            why = {
                LeaveRefusal.NOT_FOUND: "I couldn't find that list.",
                LeaveRefusal.DIR_SYNCED: f"I can't change {name}.",
                LeaveRefusal.ROOM_LIST: f"{name} is a room list, so there's nothing to leave.",
                LeaveRefusal.DYNAMIC_LIST: f"Nobody can leave {name} by hand.",
            }[reason]
            return f"{why} {_LEAVE_INSTEAD[instead]}"
    return None


def confirm_remove_now(display_name: str, reason: RemoveNowReason) -> str:
    if reason is RemoveNowReason.REQUESTER_OWNS_LIST:
        return (
            f"You own {display_name}, so no approval is needed (you stay its owner). "
            "Remove you now?"
        )
    return f"Anyone can leave {display_name}. Remove you now?"


def confirm_leave_request(display_name: str, decision: LeaveNeedsApproval) -> str:
    who = names(list(decision.approvers))
    if decision.orphaned:
        return (
            f"{display_name} has no owner who can approve, so {who} will decide. "
            "Send your request to leave?"
        )
    return f"Only its owners let people leave {display_name}. Send your request to {who}?"


def leave_outcome_text(outcome: LeaveOutcome) -> str:
    decision = outcome.decision
    name = outcome.preview.list.display_name if outcome.preview.list else "the list"
    match decision:
        case RemoveNow():
            return f"Removing you from {name} now. I'll tell you when it's done."
        case LeaveNeedsApproval(approvers=approvers):
            return (
                f"Sent. I've asked {names(list(approvers))} to approve your request to leave "
                f"{name}; I'll tell you what they decide."
            )
    return leave_decision_text(outcome.preview) or f"Nothing was changed for {name}."
