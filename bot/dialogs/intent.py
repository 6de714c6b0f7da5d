"""What a person typed, understood well enough to start the right conversation.

People type loosely, often on a phone: "add me to finance emea", "pls join the Sales DL",
"finance-emea@contoso.com", "help", "join". This keeps to word rules a person can predict
rather than guessing; anything unclear becomes a search or a question, never an action.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from skills.durations import split_duration


class IntentKind(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    CREATE = "create"  # a new list; the query is its purpose, when given
    MY_REQUESTS = "my_requests"
    CANCEL_REQUEST = "cancel_request"  # withdraw one of my requests ("cancel my request to X")
    HELP = "help"
    CANCEL = "cancel"
    GREETING = "greeting"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    # What to look for, for JOIN and LEAVE (the list), CANCEL_REQUEST (the request's list);
    # "" when the list is still to be asked.
    query: str = ""
    # JOIN "for 30 days" / "until 31 Dec": the days asked for (skills.durations), or why the
    # time given cannot be used ("past", "too_long"); None and "" when none was given.
    days: int | None = None
    duration_problem: str = ""


_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# Phrases that say "I want to join", longest first so "add me to" wins over "add".
_JOIN_PHRASES = (
    "can you add me to",
    "could you add me to",
    "i want to be added to",
    "i would like to join",
    "i'd like to join",
    "i want to join",
    "i need to join",
    "sign me up for",
    "subscribe me to",
    "put me on",
    "put me in",
    "add me to",
    "add me on",
    "add me",
    "subscribe",
    "join",
    "add",
)
_POLITE = ("please", "pls", "plz", "hi", "hello", "hey", "thanks", "thank you", "thx")
# Words that name what kind of thing is wanted, not which one.
_NOISE = ("the", "a", "an", "distribution list", "distribution group", "mailing list", "dl", "list")
_HELP = {"help", "?", "menu", "what can you do", "commands", "how does this work"}
_CANCEL = {"cancel", "stop", "quit", "never mind", "nevermind", "abort", "exit"}
_GREETINGS = {"hi", "hello", "hey", "good morning", "good afternoon", "hiya", "yo"}


def _simplify(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("\u2019", "'")
    return re.sub(r"\s+", " ", re.sub(r"[!.,;:]+(\s|$)", " ", text)).strip()


def _strip_words(text: str, words: tuple[str, ...], *, at_start_only: bool) -> str:
    changed = True
    while changed:
        changed = False
        for word in words:
            if text == word:
                return ""
            if text.startswith(word + " "):
                text, changed = text[len(word) + 1 :], True
            elif not at_start_only and text.endswith(" " + word):
                text, changed = text[: -len(word) - 1], True
    return text


# "Take me off X", longest first; each must START the message (after polite words), so a
# list whose name merely contains "leave" is still searched for.
_LEAVE_PHRASES = (
    "can you remove me from",
    "could you remove me from",
    "i would like to leave",
    "i'd like to leave",
    "i want to leave",
    "i need to leave",
    "unsubscribe me from",
    "unsubscribe from",
    "unsubscribe",
    "unsub me from",
    "unsub from",
    "remove me from",
    "remove me off",
    "remove me",
    "take me off of",
    "take me off",
    "get me off of",
    "get me off",
    "opt me out of",
    "opt out of",
    "leave",
)
# The whole message (after polite words, without a trailing "?") asks for my requests.
_MY_REQUESTS = {
    "my requests",
    "my request",
    "my reqs",
    "requests",
    "status",
    "my status",
    "request status",
    "requests status",
    "check status",
    "check my requests",
    "show my requests",
    "show requests",
    "list my requests",
    "pending",
    "pending requests",
    "my pending requests",
    "what did i ask for",
    "what have i asked for",
    "what did i request",
    "status of my request",
    "status of my requests",
}
# "cancel my request to join finance", "withdraw the request for sales", "cancel my requests".
_CANCEL_REQUEST = re.compile(
    r"^(?:cancel|withdraw|retract)(?: my| the| that)? (?:request|requests|ask)"
    r"(?: (?:to|for|about))?(?: (?:join|leave|be added to|be removed from))?(?: (?P<rest>.*))?$"
)


def _day_two(simple: str, text: str) -> Intent | None:
    """Leaving a list and a person's own requests; None when the message is about neither.

    Checked before anything else that looks for a list, so "leave sales@contoso.com" is a
    leave, not a join of that address, and "cancel my request" is not a search."""
    rest = _strip_words(simple, _POLITE, at_start_only=False)
    if rest.rstrip("?").strip() in _MY_REQUESTS:
        return Intent(IntentKind.MY_REQUESTS)
    cancelling = _CANCEL_REQUEST.match(rest)
    if cancelling:
        return Intent(IntentKind.CANCEL_REQUEST, _list_named(cancelling.group("rest"), text))
    for phrase in _LEAVE_PHRASES:
        if rest == phrase or rest.startswith(phrase + " "):
            return Intent(IntentKind.LEAVE, _list_named(rest[len(phrase) :], text))
    return None


def _list_named(rest: str | None, text: str) -> str:
    """The list a day-two message names: an address in it, or its words without filler."""
    address = _ADDRESS.search(text)
    if address:
        return address.group(0).casefold()
    rest = _strip_words((rest or "").strip(), _NOISE, at_start_only=False)
    return _strip_words(rest, _POLITE, at_start_only=False)


_LIST_NOUN = r"(?:distribution list|distribution group|mailing list|email list|e-mail list|dl|list)"
# "create a DL for the Q3 launch", "new distribution list", "can you set up a list called X",
# "I need a list for ...": a verb of making (or "new") must come first, then a word for a list,
# so a list whose name merely starts with "new" ("new hires") is still searched for.
_CREATE = re.compile(
    r"^(?:(?:can|could|would) you |i (?:want|need|would like|'d like) (?:you )?to |let's )?"
    r"(?:create|make|set up|setup|start|open|new|add)(?: me| us)? (?:a |an )?(?:new )?"
    + _LIST_NOUN
    + r"(?: (?:for|called|named|about|to)(?: (?P<rest>.*))?)?$"
    r"|^(?:i|we) (?:need|want|would like|'d like) (?:a |an )?(?:new )?"
    + _LIST_NOUN
    + r"(?: (?:for|called|named|about|to)(?: (?P<rest2>.*))?)?$"
)


def _create(simple: str, text: str) -> Intent | None:
    rest = _strip_words(simple, _POLITE, at_start_only=False)
    asked = _CREATE.match(rest)
    if asked is None:
        return None
    purpose = (asked.group("rest") or asked.group("rest2") or "").strip()
    # The purpose is shown to approvers: keep it as typed, not casefolded, where it can be found.
    at = text.casefold().rfind(purpose) if purpose else -1
    if at >= 0 and len(text.casefold()) == len(text):
        purpose = text[at : at + len(purpose)]
    return Intent(IntentKind.CREATE, purpose)


def understand(text: str, *, today: date | None = None) -> Intent:
    simple = _simplify(text)
    if not simple:
        return Intent(IntentKind.UNKNOWN)
    if simple in _CANCEL:
        return Intent(IntentKind.CANCEL)
    if simple in _HELP:
        return Intent(IntentKind.HELP)
    if simple in _GREETINGS:
        return Intent(IntentKind.GREETING)
    day_two = _day_two(simple, text)
    if day_two is not None:
        return day_two
    create = _create(simple, text)
    if create is not None:
        return create
    asked = split_duration(text, today or datetime.now(UTC).date())
    if asked.days is not None or asked.problem:
        inner = understand(asked.text, today=today)
        if inner.kind is IntentKind.JOIN and inner.query:
            return replace(inner, days=asked.days, duration_problem=asked.problem)
    address = _ADDRESS.search(text)
    if address:
        return Intent(IntentKind.JOIN, address.group(0).casefold())
    rest = _strip_words(simple, _POLITE, at_start_only=False)
    joined = False
    for phrase in _JOIN_PHRASES:
        if rest == phrase or rest.startswith(phrase + " "):
            rest, joined = rest[len(phrase) :].strip(), True
            break
    rest = _strip_words(rest, _NOISE, at_start_only=False)
    rest = _strip_words(rest, _POLITE, at_start_only=False)
    if joined:
        return Intent(IntentKind.JOIN, rest)
    # Anything else is most likely the name of a list: search for it, and let the person pick.
    return Intent(IntentKind.JOIN, rest) if rest else Intent(IntentKind.UNKNOWN)
