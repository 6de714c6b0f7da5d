"""What a person typed, understood well enough to start the right conversation.

People type loosely, often on a phone: "add me to finance emea", "pls join the Sales DL",
"finance-emea@contoso.com", "help", "join". This keeps to word rules a person can predict
rather than guessing; anything unclear becomes a search or a question, never an action.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class IntentKind(StrEnum):
    JOIN = "join"
    HELP = "help"
    CANCEL = "cancel"
    GREETING = "greeting"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    query: str = ""  # what to look for, for JOIN; "" when the list is still to be asked


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


def understand(text: str) -> Intent:
    simple = _simplify(text)
    if not simple:
        return Intent(IntentKind.UNKNOWN)
    if simple in _CANCEL:
        return Intent(IntentKind.CANCEL)
    if simple in _HELP:
        return Intent(IntentKind.HELP)
    if simple in _GREETINGS:
        return Intent(IntentKind.GREETING)
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
