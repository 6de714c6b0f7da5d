"""Helpers every part of the wording shares: lists of names, dates and lengths."""

from __future__ import annotations

from datetime import datetime

from approvals.models import Person


def names(people: tuple[Person, ...] | list[Person]) -> str:
    """ "A", "A and B", "A, B and C"."""
    shown = [p.display_name or p.address or "someone" for p in people]
    if not shown:
        return "nobody"
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def names_text(display_names: tuple[str, ...]) -> str:
    return names([Person(object_id="", display_name=n) for n in display_names])


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
