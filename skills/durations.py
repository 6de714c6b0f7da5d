"""How long someone asks to be on a list, from the end of what they typed: "add me to proj-apollo
for 30 days", "... for 2 weeks", "... for a month", "... until 31 Dec", "... till 2026-12-31".

Only a phrase at the END of the message counts, and only one of these shapes, so a list whose
name holds "for" ("budget for emea") is still searched for whole. A month is 30 days and a year
365: the owners see the resulting end date, which is what matters. A date without a year means
its next occurrence (today counts as passed: a membership lasts at least a day).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "twelve": 12}
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

_FOR = re.compile(
    r"(?:^|\s)(?:for|for the next|during)\s+(?P<count>\d{1,4}|" + "|".join(_WORDS) + r")"
    r"\s+(?P<unit>day|week|month|year)s?$"
)
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_UNTIL = re.compile(
    r"(?:^|\s)(?:until|till|til|through|up to)\s+(?:the\s+)?(?:"
    r"(?P<iso>\d{4}-\d{2}-\d{2})"
    r"|(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>"
    + _MONTH
    + r")(?:\s+(?P<year>\d{4}))?"
    r"|(?P<month2>" + _MONTH + r")\s+(?P<day2>\d{1,2})(?:st|nd|rd|th)?(?:\s+(?P<year2>\d{4}))?"
    r")$"
)

# The longest anyone may ask for in chat; the admin's per-list maximum may be shorter.
MAX_ASKED_DAYS = 3650


@dataclass(frozen=True)
class AskedDuration:
    text: str  # what was typed, the duration taken off
    days: int | None  # None: none asked for
    problem: str = ""  # "past": a date already gone; "too_long"; "" when usable


def split_duration(text: str, today: date) -> AskedDuration:
    """The message without its trailing duration, and the days asked for (from `today`)."""
    simple = text.strip()
    lowered = simple.casefold()
    asked = _FOR.search(lowered)
    if asked is not None:
        count = asked.group("count")
        number = int(count) if count.isdigit() else _WORDS[count]
        days = number * _UNITS[asked.group("unit")]
        return _checked(simple[: asked.start()].strip(), days)
    until = _UNTIL.search(lowered)
    if until is not None:
        end = _date(until, today)
        rest = simple[: until.start()].strip()
        if end is None:
            return AskedDuration(rest, None, "past")
        return _checked(rest, (end - today).days)
    return AskedDuration(simple, None)


def _checked(rest: str, days: int) -> AskedDuration:
    if days < 1:
        return AskedDuration(rest, None, "past")
    if days > MAX_ASKED_DAYS:
        return AskedDuration(rest, None, "too_long")
    return AskedDuration(rest, days)


def _date(found: re.Match[str], today: date) -> date | None:
    try:
        if found.group("iso"):
            return date.fromisoformat(found.group("iso"))
        day = int(found.group("day") or found.group("day2"))
        month = _MONTHS[found.group("month") or found.group("month2")]
        year_text = found.group("year") or found.group("year2")
        if year_text:
            return date(int(year_text), month, day)
        end = date(today.year, month, day)
        return end if end > today else date(today.year + 1, month, day)
    except ValueError:  # 31 Feb, or a year out of range
        return None
