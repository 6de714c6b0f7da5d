"""How typed text and list names are reduced to comparable words.

People type list names on a phone: any case, without accents, with spaces where the name has
hyphens or underscores, with a letter missing. Every comparison in the search goes through
`words()`, so "Zürich § Team 🎉", "zurich-team" and "ZURICH_TEAM" all read as zurich, team.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Letters NFKD does not decompose into a base letter and an accent.
_FOLD_EXTRA: Final = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ħ": "h",
        "ı": "i",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "þ": "th",
        "Þ": "th",
    }
)
# A word is a run of letters and digits in any script; everything else separates words
# (hyphens, underscores, dots, spaces, "§", emoji).
_WORD: Final = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents: "Zürich" -> "zurich", "Straße" -> "strasse"."""
    if text.isascii():
        return text.lower()  # most names: no accents to strip, and 20 times faster
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def within_one_edit(a: str, b: str) -> bool:
    """Whether b is a with at most one letter inserted, deleted, replaced, or two adjacent
    letters swapped ("emea"/"emae"): the typos a thumb makes."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    start = 0
    while start < la and a[start] == b[start]:
        start += 1
    if la == lb:
        if a[start + 1 :] == b[start + 1 :]:
            return True  # one letter replaced
        return (
            start + 1 < la
            and a[start] == b[start + 1]
            and a[start + 1] == b[start]
            and a[start + 2 :] == b[start + 2 :]
        )
    return a[start:] == b[start + 1 :]  # one letter inserted into a


def deletions(word: str) -> set[str]:
    """Every string one deletion away from the word."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}
