"""A person's own requests: the card and withdrawing one."""

from __future__ import annotations

from approvals.models import (
    ApprovalRequest,
    RequestKind,
    RequestStatus,
)
from bot.texts.common import for_days, names
from skills.my_requests import NoSuchRequest, TooLate, Withdrawn, WithdrawResult

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
