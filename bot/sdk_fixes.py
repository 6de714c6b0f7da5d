"""Fixes to the Bot Framework SDK's cost per turn that change none of its behaviour.

msrest (under botframework-connector 4.17.1) builds a `ClientRetryPolicy` for every client it
makes: a ConnectorClient and a TokenApiClient on every turn, and more for proactive messages.
Its constructor computes the status codes to retry as
`[i for i in range(999) if i not in self.safe_codes]`, where `safe_codes` is a class-level
list of 501 codes: about half a million comparisons, some 3.6 ms of CPU per client, more than
the rest of an echo turn. The same codes in a frozenset give the same list, in the same order,
in a thousandth of the time (tests/bot/test_sdk_fixes.py proves the retry decisions equal for
every status code and method).

botbuilder-core's BotState decides whether to write a turn's state back by comparing a "hash"
taken when the state was read with one taken at the end of the turn (and takes a third after
writing). Its hash is `str(jsonpickle.Pickler().flatten(state))`: a pure-Python walk of every
object, about a millisecond for a dialog's state, three times a turn, the largest single cost of
a dlbot turn. The only use of the hash is that comparison, so any fingerprint that differs
whenever the flattened state differs keeps the behaviour: `pickle` (C, all of an object's
attributes) is one, at a twentieth of the cost. State pickle cannot take falls back to the SDK's
own hash (a fallback on one side only reads as "changed": one extra write, never a lost one).

botbuilder-dialogs' choice recognizer tokenizes every choice again on every answer to a choice
prompt (`Find.find_values`), character by character in Python: most of the CPU of a "pick" turn
outside the SDK's I/O. The tokenizer is a pure function of its text and locale, and its callers
only read the tokens it returns, so a bounded memo of its answers (a fresh list each time, of
tokens nobody changes) gives every caller the same tokens.

botbuilder-core's TurnContext.send_activities deep-copies every outgoing activity (so the
caller's object is never changed by what the send adds to it) with `copy.deepcopy`: a Python
walk of every model, list and dict of the activity, most of a millisecond for a choice card.
A pickle round trip makes the same copy (`deepcopy` and pickle both rebuild each object from its
`__reduce_ex__(4)`, sharing inside the activity kept and nothing shared with the original) in
C; whatever pickle refuses (a lambda in channel data) is deep-copied as before.

`apply()` runs once, when the adapter is created (bot/adapter.py); it is idempotent.
"""

from __future__ import annotations

import copy
import functools
import pickle
from typing import Any

from botbuilder.core import turn_context
from botbuilder.core.bot_state import CachedBotState
from botbuilder.dialogs.choices import Token, Tokenizer
from msrest.universal_http.requests import ClientRetryPolicy

# The SDK as shipped, kept for the tests that compare against it.
STOCK_SAFE_CODES: list[int] | frozenset[int] = ClientRetryPolicy.safe_codes
STOCK_COMPUTE_HASH = CachedBotState.compute_hash
STOCK_TOKENIZER = Tokenizer.default_tokenizer
STOCK_ACTIVITY_COPY = turn_context.deepcopy

# Distinct texts remembered: choice labels and answers; each entry is a few small tokens.
TOKENIZER_MEMO_SIZE = 4096


@functools.lru_cache(maxsize=TOKENIZER_MEMO_SIZE)
def _tokens(text: str, locale: str | None) -> tuple[Token, ...]:
    return tuple(STOCK_TOKENIZER(text, locale))


def remembered_tokenizer(text: str, locale: str | None = None) -> list[Token]:
    """The SDK's default tokenizer, each distinct (text, locale) tokenized once."""
    return list(_tokens(text, locale))


def state_fingerprint(self: Any, obj: object) -> Any:
    """What CachedBotState compares to see whether a turn changed its state."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - anything pickle refuses gets the SDK's own hash
        return STOCK_COMPUTE_HASH(self, obj)


def activity_copy(activity: Any) -> Any:
    """`copy.deepcopy(activity)`, made by pickle when pickle can."""
    try:
        return pickle.loads(pickle.dumps(activity, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - anything pickle refuses is copied as the SDK copies it
        return copy.deepcopy(activity)


def fix_retry_policy() -> None:
    """msrest's list of codes never retried, as the same codes in a frozenset."""
    if not isinstance(ClientRetryPolicy.safe_codes, frozenset):
        # msrest declares a list; it only ever tests membership.
        ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]


def fix_state_hash() -> None:
    """The SDK's state hash, as a pickle fingerprint."""
    CachedBotState.compute_hash = state_fingerprint


def fix_choice_tokenizer() -> None:
    """The choice recognizer's tokenizer, remembering what it tokenized."""
    Tokenizer.default_tokenizer = staticmethod(remembered_tokenizer)


def fix_activity_copy() -> None:
    """TurnContext's copy of each outgoing activity, through pickle."""
    turn_context.deepcopy = activity_copy


def apply() -> None:
    fix_retry_policy()
    fix_state_hash()
    fix_choice_tokenizer()
    fix_activity_copy()


def applied() -> bool:
    return (
        isinstance(ClientRetryPolicy.safe_codes, frozenset)
        and CachedBotState.compute_hash is state_fingerprint
        and Tokenizer.default_tokenizer is remembered_tokenizer
        and turn_context.deepcopy is activity_copy
    )
