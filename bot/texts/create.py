"""Creating a list: the conversation, validation messages, notices and card facts."""

from __future__ import annotations

from approvals.models import (
    ApprovalRequest,
    NewList,
    Person,
    RequestStatus,
)
from approvals.ports import NoticeKind
from bot.texts.common import names
from skills.create_dl import CreateOutcome, Problem, ValidationProblem
from skills.ports import Restriction

CREATE_NOTICES = frozenset(
    {
        NoticeKind.APPROVED,
        NoticeKind.DENIED,
        NoticeKind.COMPLETED,
        NoticeKind.FAILED,
        NoticeKind.CANCELLED,
    }
)
CREATE_CARD_STATUSES = frozenset(
    {RequestStatus.APPROVED, RequestStatus.COMPLETED, RequestStatus.FAILED}
)


def create_notice(
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


def create_admin_alert(request: ApprovalRequest, problem: str) -> str:
    return (
        f"dlbot could not create {request.group.display_name} ({request.group.address}) for "
        f"{request.requester.display_name} ({request.requester.address}), request "
        f"{request.id}: {problem}"
    )


def create_card_outcome(request: ApprovalRequest, by: str, reason: str) -> str:
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
