"""Every sentence the bot says about a request: the one place outcomes become words.

Kept apart from the dialogs and cards so that wording is reviewed (and later translated) in one
file, and so no exception text from below ever reaches a person by accident.
"""

from __future__ import annotations

from datetime import datetime

from approvals.grant_service import RenewResult
from approvals.grants import Grant, GrantStatus
from approvals.models import (
    FALLBACK_VIA,
    ApprovalRequest,
    NewList,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.ports import NoticeKind
from approvals.reviews import Review
from skills.create_dl import CreateOutcome, Problem, ValidationProblem
from skills.errors import InvalidJustification
from skills.join_dl import (
    AddNow,
    AlreadyMember,
    AlreadyMemberNested,
    AlreadyRequested,
    Instead,
    JoinOutcome,
    JoinPreview,
    NeedsApproval,
    RefusalReason,
    Refused,
)
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
from skills.my_requests import NoSuchRequest, TooLate, Withdrawn, WithdrawResult
from skills.policies import JustificationProblem
from skills.ports import Restriction
from skills.renew_membership import RenewOutcome, RenewRefusal, RenewRefused


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
    if kind in (NoticeKind.REMINDED, NoticeKind.ESCALATED, NoticeKind.EXPIRED):
        return _overdue_notice(kind, request)
    if _told_by_grant(kind, request):
        return None  # the grant's own message says it, with the end date (grant_notice)
    if kind is NoticeKind.APPROVED and request.kind is RequestKind.JOIN and request.grant_id:
        return f"{decider} approved renewing your membership of {group}."
    if request.kind is RequestKind.LEAVE and kind in _LEAVE_NOTICES:
        return _leave_notice(kind, request, decider, reason)
    if request.kind is RequestKind.CREATE and kind in _CREATE_NOTICES:
        return _create_notice(kind, request, decider, reason)
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
        return _leave_admin_alert(request, problem)
    if request.kind is RequestKind.CREATE:
        return _create_admin_alert(request, problem)
    return (
        f"dlbot could not add {request.requester.display_name} ({request.requester.address}) to "
        f"{request.group.display_name} ({request.group.address}), request {request.id}: {problem}"
    )


def card_outcome(request: ApprovalRequest) -> str:
    """The line an approver's card shows once the request is no longer waiting."""
    decision = request.decision
    by = decision.actor.display_name if decision else ""
    reason = f': "{decision.reason}"' if decision and decision.reason else ""
    if request.kind is RequestKind.LEAVE and request.status in _LEAVE_CARD_STATUSES:
        return _leave_card_outcome(request, by, reason)
    if request.kind is RequestKind.CREATE and request.status in _CREATE_CARD_STATUSES:
        return _create_card_outcome(request, by, reason)
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


# Joining a list: what the dialog says ---------------------------------------------------------

HELP = (
    "I can get you onto email distribution lists.\n\n"
    "- **add me to finance-emea** (or just the list's name or address)\n"
    "- **leave finance-emea** (or **remove me from** a list)\n"
    "- **create a list** for a team or project (IT approves it)\n"
    "- **my requests**: what you asked for, and cancel one that's still waiting\n"
    "- **help**: this message\n"
    "- **cancel**: stop what we're doing\n\n"
    "Lists that need approval go to their owners in Teams; I'll tell you what they decide."
)
WELCOME = "Hi! I can add you to email distribution lists. Try **add me to** and a list's name."
ASK_WHICH_LIST = "Which list would you like to join? Type part of its name or its email address."
NOT_UNDERSTOOD = (
    "Sorry, I didn't get that. Tell me which list you want, for example "
    "**add me to finance-emea**, or type **help**."
)
CANCELLED = "OK, I've stopped. Nothing was sent."
NOTHING_TO_CANCEL = "There's nothing to cancel."
NONE_OF_THESE = "None of these"
NOT_SENT = "OK, I haven't asked anyone."
PICK_RETRY = "Please tap one of the lists (or type its number), or type **cancel**."
GAVE_UP_PICKING = (
    "I couldn't tell which list you meant. Try again with more of its name or its address."
)
CONFIRM_RETRY = "Please answer **yes** or **no**."
NO_TEAMS_IDENTITY = (
    "I can only help people signed in to Teams in this organisation, and I couldn't tell who "
    "you are."
)
UNKNOWN_PERSON = (
    "I couldn't find you in the company directory, so I can't ask for you. Your IT admins "
    "can check your account."
)
# Redis, where requests and conversations live, does not answer: nothing was done or lost.
SERVICE_UNAVAILABLE = (
    "Sorry, I'm temporarily unavailable and couldn't do anything with that. Nothing was "
    "changed; please try again in a few minutes."
)


def no_match(query: str) -> str:
    return (
        f"I couldn't find a list matching “{query}”. Try another part of its name, or its "
        "email address (like sales@contoso.com)."
    )


def pick_prompt(query: str) -> str:
    return f"Which of these did you mean by “{query}”?"


def list_label(display_name: str, address: str) -> str:
    return f"{display_name} ({address})"


def ask_justification(approvers: tuple[str, ...], max_length: int) -> str:
    return (
        f"Why do you need to join? {_names_text(approvers)} will see your answer "
        f"(up to {max_length} characters)."
    )


def justification_retry(max_length: int) -> str:
    return f"Please give a short reason, up to {max_length} characters, or type **cancel**."


def confirm_request(display_name: str, approvers: tuple[str, ...], orphaned: bool) -> str:
    who = _names_text(approvers)
    if orphaned:
        return f"{display_name} has no owner who can approve, so {who} will decide. Send it?"
    return f"Send your request to join {display_name} to {who}?"


def confirm_add_now(display_name: str, reason: str) -> str:
    if reason == "requester owns the list":
        return f"You own {display_name}, so no approval is needed. Add you now?"
    return f"{display_name} is open to everyone. Add you now?"


def _names_text(display_names: tuple[str, ...]) -> str:
    return names([Person(object_id="", display_name=n) for n in display_names])


def describe_list(preview: JoinPreview) -> str:
    """The chosen list as the person will recognise it: name, address, owners, how to join."""
    group = preview.list
    if group is None:
        return ""
    lines = [f"**{group.display_name}** ({group.address})"]
    if group.description:
        lines.append(group.description)
    joining = {
        Restriction.OPEN: "anyone can join",
        Restriction.APPROVAL_REQUIRED: "owners approve new members",
        Restriction.CLOSED: "closed: only owners add members",
    }[group.join_restriction]
    owners = f"Owners: {_names_text(preview.owners)}; " if preview.owners else ""
    lines.append(f"{owners}{joining}.")
    return "\n\n".join(lines)


_INSTEAD = {
    Instead.CHECK_THE_NAME: "Check the name, or use the list's email address.",
    Instead.ASK_ONPREM_ADMIN: (
        "It's managed in the on-premises directory, so your IT admins (or its owners) must "
        "add you there."
    ),
    Instead.USE_ROOM_FINDER: "Room lists hold meeting rooms; book a room in Outlook instead.",
    Instead.UPDATE_PROFILE: (
        "Its members are chosen automatically from directory details such as department; "
        "if yours are wrong, ask HR or IT to update them."
    ),
    Instead.FOLLOW_ADMIN_MESSAGE: "",
    Instead.ASK_OWNERS: "Only its owners add members; ask one of them directly.",
}


def decision_text(preview: JoinPreview) -> str | None:
    """What to say about a decision that ends the conversation; None when it goes on."""
    decision = preview.decision
    name = preview.list.display_name if preview.list else "that list"
    match decision:
        case AlreadyMember():
            return f"You're already a member of {name}."
        case AlreadyMemberNested(via=via):
            path = " → ".join(via) if via else "another list"
            return f"You already get {name}'s mail through {path}, so there's nothing to do."
        case AlreadyRequested(request=request):
            asked = names(request.approvers)
            if request.status is RequestStatus.APPROVED:
                return f"Your request to join {name} is approved and being done."
            asked_on = f"{request.created_at:%d %b}"
            return f"You already asked to join {name} on {asked_on}; {asked} can decide."
        case Refused(reason=reason, instead=instead, message=message):
            why = {
                RefusalReason.NOT_FOUND: "I couldn't find that list.",
                RefusalReason.DIR_SYNCED: f"I can't change {name}.",
                RefusalReason.ROOM_LIST: f"{name} is a room list.",
                RefusalReason.DYNAMIC_LIST: f"Nobody can join {name} by hand.",
                RefusalReason.BLOCKED: f"{name} isn't open to self-service requests.",
                RefusalReason.CLOSED_BY_POLICY: f"{name} is closed to requests.",
            }[reason]
            advice = message if instead is Instead.FOLLOW_ADMIN_MESSAGE else _INSTEAD[instead]
            return f"{why} {advice}".strip()
    return None


def outcome_text(outcome: JoinOutcome) -> str:
    decision = outcome.decision
    name = outcome.preview.list.display_name if outcome.preview.list else "the list"
    match decision:
        case AddNow():
            return f"Adding you to {name} now. I'll tell you when it's done."
        case NeedsApproval(approvers=approvers):
            return (
                f"Sent. I've asked {names(approvers)} to approve your request to join {name}; "
                "I'll tell you what they decide."
            )
    return decision_text(outcome.preview) or f"Nothing was changed for {name}."


def justification_problem(problem: InvalidJustification) -> str:
    if problem.problem is JustificationProblem.MISSING:
        return "The owners need a reason to decide. Please say why you need to join."
    return f"That's too long: please keep it to {problem.max_length} characters."


# Card answers -------------------------------------------------------------------------------

CARD_UNKNOWN_REQUEST = "This request no longer exists."
CARD_OWN_REQUEST = "You can't decide your own request; another approver will."
CARD_NOT_AN_APPROVER = (
    "You're not one of the people who can decide this request (any more), so nothing changed."
)


# Leaving a list -----------------------------------------------------------------------------

_LEAVE_CARD_STATUSES = frozenset({RequestStatus.APPROVED, RequestStatus.COMPLETED})
# The notices worded for leaving; any other kind is worded as for every request.
_LEAVE_NOTICES = frozenset(
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


def _leave_notice(
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


def _leave_admin_alert(request: ApprovalRequest, problem: str) -> str:
    return (
        f"dlbot could not remove {request.requester.display_name} "
        f"({request.requester.address}) from {request.group.display_name} "
        f"({request.group.address}), request {request.id}: {problem}"
    )


def _leave_card_outcome(request: ApprovalRequest, by: str, reason: str) -> str:
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
    owners = f"Owners: {_names_text(preview.owners)}; " if preview.owners else ""
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


# A person's own requests --------------------------------------------------------------------

MY_REQUESTS_TITLE = "Your requests"
MY_REQUESTS_OPEN = "Waiting"
MY_REQUESTS_RECENT = "Recently finished"
NO_REQUESTS = (
    "You have no requests. Try **add me to** and a list's name, or **leave** and a list's name."
)
WITHDRAW_BUTTON = "Cancel request"
PICK_ONE_TO_CANCEL = "You have more than one open request that fits: tap **Cancel request** on it."
CARD_NOT_YOUR_REQUEST = "That request isn't one of yours, or it no longer exists."

_KIND_WORDS = {RequestKind.JOIN: "join", RequestKind.LEAVE: "leave", RequestKind.CREATE: "create"}


def request_title(request: ApprovalRequest) -> str:
    """The request as a line of the my-requests card: "Join Finance EMEA"."""
    verb = _KIND_WORDS.get(request.kind, request.kind.value).capitalize()
    return f"{verb} {request.group.display_name}"


def request_status(request: ApprovalRequest) -> str:
    """Where a request of one's own stands, in one line."""
    decision = request.decision
    by = decision.actor.display_name if decision else ""
    reason = f': "{decision.reason}"' if decision and decision.reason else ""
    asked = f"asked {request.created_at:%d %b}"
    match request.status:
        case RequestStatus.PENDING:
            return f"Waiting for {names(request.approvers)}; {asked}."
        case RequestStatus.APPROVED:
            return f"Approved, being done; {asked}."
        case RequestStatus.COMPLETED:
            timed = f" ({for_days(request.membership_days)})" if request.membership_days else ""
            if request.execution.outcome in ("already_member", "not_a_member"):
                return f"Done (nothing needed changing){timed}; {asked}."
            return f"Done{timed}; {asked}."
        case RequestStatus.DENIED:
            return f"Declined by {by}{reason}."
        case RequestStatus.CANCELLED:
            if request.cancelled_by is not None:
                return "Cancelled by an IT admin."
            return "Cancelled by you."
        case RequestStatus.EXPIRED:
            return "Expired without a decision."
        case RequestStatus.FAILED:
            return f"Failed: {request.execution.error or 'Exchange refused'}."
    return ""


def withdraw_text(result: WithdrawResult) -> str:
    """What a person is told after cancelling one of their requests (button or typed)."""
    match result:
        case Withdrawn(request=request):
            verb = _KIND_WORDS.get(request.kind, request.kind.value)
            return (
                f"Cancelled your request to {verb} {request.group.display_name}. "
                "The approvers' cards now show it."
            )
        case TooLate(request=request):
            return (
                f"Your request to {_KIND_WORDS.get(request.kind, request.kind.value)} "
                f"{request.group.display_name} can't be cancelled any more: "
                f"{request_status(request)}"
            )
        case NoSuchRequest():
            return CARD_NOT_YOUR_REQUEST
    return CARD_NOT_YOUR_REQUEST


def no_open_request(query: str) -> str:
    return f"You have no waiting request for “{query}”. Here's what you asked for:"


# Creating a list ------------------------------------------------------------------------------

_CREATE_NOTICES = frozenset(
    {
        NoticeKind.APPROVED,
        NoticeKind.DENIED,
        NoticeKind.COMPLETED,
        NoticeKind.FAILED,
        NoticeKind.CANCELLED,
    }
)
_CREATE_CARD_STATUSES = frozenset(
    {RequestStatus.APPROVED, RequestStatus.COMPLETED, RequestStatus.FAILED}
)


def _create_notice(
    kind: NoticeKind, request: ApprovalRequest, decider: str, reason: str
) -> str | None:
    group, address = request.group.display_name, request.group.address
    match kind:
        case NoticeKind.APPROVED:
            return f"{decider} approved your new list {group}. I'm creating it now."
        case NoticeKind.DENIED:
            return f"{decider} declined your new list {group}.{reason}"
        case NoticeKind.COMPLETED:
            return (
                f"Done: {group} ({address}) is created, with you as an owner. People can join "
                f"it now: they can ask me **add me to {group}**."
            )
        case NoticeKind.FAILED:
            if request.execution.outcome == "name_taken":
                return _create_taken_notice(request)
            return (
                f"I couldn't create {group}: {request.execution.error or 'Exchange refused'}. "
                "Your IT admins have been told."
            )
        case NoticeKind.CANCELLED:
            if request.cancelled_by is not None:
                why = f": {request.cancel_reason}" if request.cancel_reason else "."
                return f"An IT admin cancelled your new list {group}{why}"
            return f"Your new list {group} is cancelled."
    return None


def _create_taken_notice(request: ApprovalRequest) -> str:
    group, address = request.group.display_name, request.group.address
    text = (
        f"I couldn't create {group} ({address}): someone took that name or address after your "
        "request was approved, so nothing was created."
    )
    options = request.execution.alternatives
    if options:
        shown = "\n".join(f"- **{o.display_name}** ({o.address})" for o in options)
        return f"{text} These are free right now:\n\n{shown}\n\nSay **create a list** to ask again."
    return f"{text} Say **create a list** to ask again with another name."


def _create_admin_alert(request: ApprovalRequest, problem: str) -> str:
    return (
        f"dlbot could not create {request.group.display_name} ({request.group.address}) for "
        f"{request.requester.display_name} ({request.requester.address}), request "
        f"{request.id}: {problem}"
    )


def _create_card_outcome(request: ApprovalRequest, by: str, reason: str) -> str:
    match request.status:
        case RequestStatus.APPROVED:
            return f"Approved by {by}{reason}. Being created."
        case RequestStatus.COMPLETED:
            prefix = f"Approved by {by}{reason}. " if request.decision else ""
            return f"{prefix}{request.group.display_name} is created ({request.group.address})."
        case _:
            if request.execution.outcome == "name_taken":
                return "Approved, but the name or address was taken meanwhile; nothing was created."
            return f"Approved, but creating it failed: {request.execution.error}"


_JOIN_WORDS = {
    Restriction.OPEN.value: "Anyone, at once",
    Restriction.APPROVAL_REQUIRED.value: "Owners approve",
    Restriction.CLOSED.value: "Only owners add people",
}


def create_facts(spec: NewList) -> list[tuple[str, str]]:
    """What a creation approval card (and the requester's summary) shows about the new list."""
    facts = [
        ("Name", spec.name),
        ("Address", spec.address),
        ("Owners", names(spec.owners)),
        ("Who may join", _JOIN_WORDS.get(spec.join_restriction, spec.join_restriction)),
        ("First members", str(len(spec.members))),
        ("Outside senders", "Blocked" if spec.internal_senders_only else "Allowed"),
    ]
    if spec.description:
        facts.append(("Description", spec.description))
    return facts


ASK_PURPOSE = "What is the new list for? Say it in a sentence: the approvers will read it."
ASK_LIST_NAME = "What should the list be called? (Its display name, e.g. **Q3 Launch Team**.)"
CREATE_NOT_NEEDED = "OK, I won't create a new list. Nothing was sent."
CREATE_NOT_SENT = "OK, I haven't asked anyone. Nothing was created."
ASK_JOIN_RULE = "Who may join the list?"
JOIN_RULE_OPEN = "Anyone (added at once)"
JOIN_RULE_APPROVAL = "Owners approve each person"
NO_ONE = ("no", "none", "nobody", "no one", "skip", "-", "n")
CREATE_GAVE_UP = "Let's stop here; nothing was sent. Say **create a list** to start again."


def name_with_policy(final_name: str, words: str) -> str:
    if final_name == words:
        return ""
    return f" Your organisation's naming policy makes it **{final_name}**."


def similar_lists(lists: list[tuple[str, str]]) -> str:
    shown = "\n".join(f"- **{name}** ({address})" for name, address in lists)
    return (
        f"Before you create a new one: these lists look similar.\n\n{shown}\n\n"
        "Did you mean to join one of them? Then say **no** and ask me **add me to** it."
    )


CREATE_ANYWAY = "Create a new list anyway?"


def ask_alias(suggested: str) -> str:
    return (
        f"Its email address: I suggest **{suggested}**. Say **ok** to use it, or type another "
        "(letters, digits and . - _ only work everywhere)."
    )


def ask_domain(domains: tuple[str, ...]) -> str:
    shown = "\n".join(f"{i}. @{d}" for i, d in enumerate(domains, 1))
    return f"Which domain should the address end in?\n\n{shown}"


ASK_DESCRIPTION = (
    "A description for the address book (what the list is for)? Say **same** to use what you "
    "told me above."
)


def ask_owners(requester: str) -> str:
    return (
        f"You ({requester}) will own the list. At least two owners are recommended, so the list "
        "is never left without one. Who else should own it? Give names or addresses separated "
        "by commas, or say **no**."
    )


ASK_MEMBERS = (
    "Anyone to add as first members? Names or addresses separated by commas, or say **no**."
)


def person_not_found(query: str) -> str:
    return f"I couldn't find anyone called **{query}**. Try their email address, or say **no**."


def person_ambiguous(query: str, found: list[Person]) -> str:
    shown = ", ".join(f"{p.display_name} ({p.address})" for p in found)
    return f"**{query}** could be several people: {shown}. Please give the email address."


def create_summary(spec: NewList) -> str:
    lines = "\n".join(f"- {title}: **{value}**" for title, value in create_facts(spec))
    return f"Here is the new list exactly as it will be created:\n\n{lines}"


def confirm_create(approvers: str) -> str:
    return f"Send it to {approvers} for approval?"


CREATION_APPROVERS = "the IT approvers"
ONE_OWNER_WARNING = (
    "Note: you're its only owner. If you leave, nobody can approve who joins; you can add a "
    "co-owner later."
)


def problem_text(problem: ValidationProblem) -> str:
    """Each reason a new list's name, alias or address will not do, and what to do instead."""
    match problem.kind:
        case Problem.NAME_EMPTY:
            return "The list needs a name. What should it be called?"
        case Problem.NAME_TOO_LONG:
            return (
                f"**{problem.detail}** is too long: a list's name can have at most "
                f"{problem.limit} characters. Please give a shorter one."
            )
        case Problem.NAME_BLOCKED_WORD:
            return (
                f"Your organisation's naming policy doesn't allow the word **{problem.detail}** "
                "in a list's name. Please choose another name."
            )
        case Problem.NAME_TAKEN:
            return (
                f"That name is already used by **{problem.detail}**. Please choose another name "
                "(or, if that's the list you need, say **cancel** and ask to join it)."
            )
        case Problem.ALIAS_EMPTY:
            return "The address needs something before the @. Please type one."
        case Problem.ALIAS_TOO_LONG:
            return (
                f"That address is too long: the part before the @ can have at most "
                f"{problem.limit} characters."
            )
        case Problem.ALIAS_CHARACTERS:
            bad = " ".join("spaces" if ch == " " else ch for ch in problem.detail)
            return (
                f"An address can't contain {bad} . Use letters, digits and . - _ "
                "(for example **q3-launch**)."
            )
        case Problem.ALIAS_DOTS:
            return (
                "A dot can't start or end the address, or come twice in a row. "
                "Try e.g. **q3.launch**."
            )
        case Problem.ALIAS_TAKEN:
            return f"**{problem.detail}** already uses that address name. Please choose another."
        case Problem.DOMAIN_NOT_ACCEPTED:
            shown = ", ".join(f"@{d}" for d in problem.domains)
            return (
                f"**{problem.detail}** isn't one of your organisation's domains. "
                f"Please pick one of: {shown}."
            )
        case Problem.ADDRESS_TAKEN:
            return (
                f"That address is already used by **{problem.detail}**. Pick another domain, or "
                "say **cancel** and start again with another address."
            )
        case Problem.DESCRIPTION_TOO_LONG:
            return f"That's too long: please keep the description to {problem.limit} characters."
        case Problem.NO_OWNER:
            return "A list needs at least one owner."
    return "That doesn't work for a new list."


def create_problems(problems: tuple[ValidationProblem, ...]) -> str:
    shown = "\n".join(f"- {problem_text(p)}" for p in problems)
    return f"I couldn't send it, because things changed meanwhile:\n\n{shown}\n\nNothing was sent."


def create_outcome_text(outcome: CreateOutcome) -> str:
    request = outcome.request
    if outcome.problems or request is None:
        return create_problems(outcome.problems)
    if not outcome.created:
        return (
            f"You already asked for {request.group.display_name} ({request.group.address}); "
            f"it's waiting for {names(request.approvers)}."
        )
    if not request.approvers:
        return (
            "I've stored your request, but nobody is set up to approve new lists. Your IT "
            "admins need to configure DLBOT_CREATE_APPROVERS."
        )
    return (
        f"I've sent your new list to {names(request.approvers)} for approval. I'll tell you "
        "when it's created."
    )


# Time-boxed membership (approvals.grant_service) ---------------------------------------------

RENEW_BUTTON = "Renew"
MY_GRANTS_HEADING = "Time-limited memberships"
DURATION_CHOICE_LABEL = "How long (optional)"
DURATION_PAST = (
    "That date has already passed. Say how long, like **for 30 days** or **until 31 Dec**, "
    "or leave the time out."
)
DURATION_TOO_LONG = (
    "That's longer than I can set (ten years at most). Say a shorter time, or leave it out to "
    "join for good."
)
RENEW_NOT_YOURS = "That membership isn't yours, or it no longer exists."
RENEW_NOT_FOUND = "I can't find that list any more, so there is nothing to renew."
RENEW_DIR_SYNCED = "That list is now managed on-premises, so I can't renew it: ask your IT admins."


def _told_by_grant(kind: NoticeKind, request: ApprovalRequest) -> bool:
    """A time-boxed join done, or a membership's end done or refused: grant_notice says it."""
    if request.kind is RequestKind.JOIN and request.membership_days is not None:
        # Already a member for good (not a renewal): no grant, so the plain notice says it.
        kept = request.execution.outcome == "already_member" and not request.grant_id
        return kind is NoticeKind.COMPLETED and not kept
    if request.kind is RequestKind.LEAVE and request.grant_id:
        return kind in (NoticeKind.COMPLETED, NoticeKind.FAILED)
    return False


def day(at: datetime) -> str:
    return f"{at:%a %d %b %Y}"


def for_days(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return f"for {years} year{'' if years == 1 else 's'}"
    if days % 7 == 0 and days < 70:
        weeks = days // 7
        return f"for {weeks} week{'' if weeks == 1 else 's'}"
    return f"for {days} day{'' if days == 1 else 's'}"


def duration_problem(problem: str) -> str:
    return DURATION_TOO_LONG if problem == "too_long" else DURATION_PAST


def confirm_with_duration(confirm: str, days: int | None) -> str:
    """The join dialog's question, saying how long when a time was asked for."""
    if days is None:
        return confirm
    return f"{confirm.removesuffix('?')} ({for_days(days)})?"


def card_duration(request: ApprovalRequest) -> str | None:
    """The approval card's fact: how long the membership asked for lasts."""
    if request.kind is not RequestKind.JOIN or request.membership_days is None:
        return None
    renewal = " (a renewal)" if request.grant_id else ""
    return f"{for_days(request.membership_days).capitalize()}{renewal}"


def duration_choice(days: int | None, asked: int | None) -> str:
    if days is None:
        return f"As asked ({for_days(asked)})" if asked is not None else "No end date"
    return for_days(days).capitalize()


def granted_text(grant: Grant, *, renewed: bool) -> str:
    name = grant.group.display_name
    if renewed:
        return f"Renewed: you're on {name} until {day(grant.ends_at)}."
    return (
        f"Done: you're now a member of {name} until {day(grant.ends_at)} "
        f"({for_days(grant.days)}). I'll ask you a week before whether to renew."
    )


def renewal_heading(grant: Grant, days_before: int) -> str:
    when = "tomorrow" if days_before == 1 else f"in {days_before} days"
    return f"Your membership of {grant.group.display_name} ends {when}"


def renewal_body(grant: Grant) -> str:
    return (
        f"On {day(grant.ends_at)} I'll take you off {grant.group.address}. Still need it? "
        f"**Renew** asks for another {for_days(grant.days).removeprefix('for ')} (the owners "
        "decide unless the list is open to everyone)."
    )


def renewal_justification(grant: Grant) -> str:
    """What the owners read on a renewal's approval card."""
    return (
        f"Renewal: {grant.member.display_name} has been a member since "
        f"{grant.started_at:%d %b %Y}; the membership ends {day(grant.ends_at)}."
    )


def renew_outcome(result: RenewResult) -> str:
    name = result.grant.group.display_name
    if result.request is None:
        return f"Renewed: you're on {name} until {day(result.grant.ends_at)}."
    if result.asked_before:
        return f"You already asked to renew {name}: waiting for {names(result.request.approvers)}."
    return (
        f"I've asked {names(result.request.approvers)} to renew your membership of {name}. "
        f"Until they decide, it still ends {day(result.grant.ends_at)}."
    )


def renew_text(outcome: RenewOutcome) -> str:
    """What a member is told after tapping Renew."""
    if not isinstance(outcome, RenewRefused):
        return renew_outcome(outcome)
    match outcome.reason:
        case RenewRefusal.ENDED if outcome.grant is not None:
            return renew_too_late(outcome.grant)
        case RenewRefusal.LIST_GONE:
            return RENEW_NOT_FOUND
        case RenewRefusal.DIR_SYNCED:
            return RENEW_DIR_SYNCED
    return RENEW_NOT_YOURS


def renew_too_late(grant: Grant) -> str:
    return (
        f"Your membership of {grant.group.display_name} has ended. To join again, say "
        f"**add me to {grant.group.address}**."
    )


def grant_ended(grant: Grant, *, failed: bool) -> str:
    name = grant.group.display_name
    if failed:
        return (
            f"Your time on {name} is up, but I couldn't take you off it (the list can't be "
            "changed from here). Your IT admins have been told and will remove you."
        )
    return (
        f"Your time on {name} is up, so I've taken you off it. To join again, say "
        f"**add me to {grant.group.address}**."
    )


def grant_line(grant: Grant) -> tuple[str, str]:
    """A membership on the my-requests card: its list, and until when."""
    match grant.status:
        case GrantStatus.ACTIVE:
            renewing = " Renewal asked for." if grant.renewal_request_id else ""
            return grant.group.display_name, f"Ends on {day(grant.ends_at)}.{renewing}"
        case GrantStatus.ENDING:
            return grant.group.display_name, "Ended; being removed."
        case GrantStatus.END_FAILED:
            return grant.group.display_name, "Ended; your IT admins will remove you."
    return grant.group.display_name, f"Ended on {day(grant.ended_at or grant.ends_at)}."


# Owner access reviews (bot/cards/review.py) ------------------------------------------------

REVIEW_KEEP = "Keep"
REVIEW_REMOVE = "Remove"
REVIEW_PREVIOUS = "Previous"
REVIEW_NEXT = "Next"
REVIEW_KEEP_ALL = "Keep all"
REVIEW_FINISH = "Finish review"
REVIEW_NOT_A_REVIEWER = (
    "Only the list's current owners (or, once a review is overdue, the fallback approvers) "
    "can review its members."
)
REVIEW_UNKNOWN = "I can't find that review any more."


def review_heading(review: Review) -> str:
    return f"Access review: {review.group.display_name}"


def review_intro(review: Review, *, reminder: bool) -> str:
    who = (
        "every member of the list"
        if review.all_members
        else f"the people I added to {review.group.address}"
    )
    nudge = "Reminder: this review is still waiting for you. " if reminder else ""
    return (
        f"{nudge}Please check {who} ({len(review.members)}). Choose **Keep** or **Remove** "
        "for each, then **Finish review**: anyone you don't choose for stays. **Keep all** "
        "keeps everyone."
    )


def review_page(page: int, pages: int) -> str:
    return f"Page {page + 1} of {pages}"


def review_member_label(member: Person) -> str:
    return f"{member.display_name} ({member.address})" if member.address else member.display_name


def review_outcome(review: Review) -> str:
    by = review.completed_by.display_name if review.completed_by else "the owners"
    removed = len(review.to_remove())
    when = day(review.completed_at) if review.completed_at else ""
    if not removed:
        return f"Review finished by {by} on {when}: everyone stays."
    people = "person" if removed == 1 else "people"
    return (
        f"Review finished by {by} on {when}: {review.kept()} stay, {removed} {people} "
        "being removed."
    )
