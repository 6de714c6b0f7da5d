"""Time-boxed membership: durations, renewal cards, and the notices of a grant."""

from __future__ import annotations

from approvals.grant_service import RenewResult
from approvals.grants import Grant, GrantStatus
from approvals.models import (
    ApprovalRequest,
    RequestKind,
)
from approvals.ports import NoticeKind
from bot.texts.common import day, for_days, names
from skills.renew_membership import RenewOutcome, RenewRefusal, RenewRefused

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


def told_by_grant(kind: NoticeKind, request: ApprovalRequest) -> bool:
    """A time-boxed join done, or a membership's end done or refused: grant_notice says it."""
    if request.kind is RequestKind.JOIN and request.membership_days is not None:
        # Already a member for good (not a renewal): no grant, so the plain notice says it.
        kept = request.execution.outcome == "already_member" and not request.grant_id
        return kind is NoticeKind.COMPLETED and not kept
    if request.kind is RequestKind.LEAVE and request.grant_id:
        # Cancelled: the member never asked to leave; the grant says they stay (grant_ended).
        return kind in (NoticeKind.COMPLETED, NoticeKind.FAILED, NoticeKind.CANCELLED)
    return False


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
    if grant.status is GrantStatus.KEPT:
        name = grant.group.display_name
        return f"Your membership of {name} has no end date now: nothing to renew."
    return (
        f"Your membership of {grant.group.display_name} has ended. To join again, say "
        f"**add me to {grant.group.address}**."
    )


def grant_ended(grant: Grant, *, failed: bool) -> str:
    name = grant.group.display_name
    if grant.status is GrantStatus.KEPT:
        return f"An IT admin stopped your removal from {name}: you stay a member, with no end date."
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
        case GrantStatus.KEPT:
            return grant.group.display_name, "No end date: an IT admin stopped the removal."
    return grant.group.display_name, f"Ended on {day(grant.ended_at or grant.ends_at)}."
