"""The conversation of joining a list, help and welcome, and the answers to card clicks."""

from __future__ import annotations

from approvals.models import RequestStatus
from bot.texts.common import names, names_text
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
from skills.policies import JustificationProblem
from skills.ports import Restriction

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
        f"Why do you need to join? {names_text(approvers)} will see your answer "
        f"(up to {max_length} characters)."
    )


def justification_retry(max_length: int) -> str:
    return f"Please give a short reason, up to {max_length} characters, or type **cancel**."


def confirm_request(display_name: str, approvers: tuple[str, ...], orphaned: bool) -> str:
    who = names_text(approvers)
    if orphaned:
        return f"{display_name} has no owner who can approve, so {who} will decide. Send it?"
    return f"Send your request to join {display_name} to {who}?"


def confirm_add_now(display_name: str, reason: str) -> str:
    if reason == "requester owns the list":
        return f"You own {display_name}, so no approval is needed. Add you now?"
    return f"{display_name} is open to everyone. Add you now?"


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
    owners = f"Owners: {names_text(preview.owners)}; " if preview.owners else ""
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
