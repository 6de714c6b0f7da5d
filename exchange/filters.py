"""OPATH filters built from values that may contain anything a person can type.

A value is always a single-quoted OPATH string with every quote doubled, so a name such as
"O'Brien" or "x' -or Name -like '*" stays a value and can never become filter syntax. Property
names come from code, and are checked anyway.
"""

from __future__ import annotations

import re

_PROPERTY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# PowerShell-style parsers also end a single-quoted string at the curly single quotes, and accept
# any of them doubled as an escaped quote: doubling each one keeps the value exactly as typed.
_SINGLE_QUOTES = re.compile("['\u2018\u2019\u201a\u201b]")


def quote(value: str) -> str:
    """`value` as an OPATH string literal."""
    return "'" + _SINGLE_QUOTES.sub(lambda quote_mark: quote_mark.group(0) * 2, value) + "'"


def _property(name: str) -> str:
    if not _PROPERTY.fullmatch(name):
        raise ValueError(f"not an OPATH property name: {name!r}")
    return name


def eq(prop: str, value: str) -> str:
    return f"{_property(prop)} -eq {quote(value)}"


def starts_with(prop: str, prefix: str) -> str:
    # OPATH has no escape for '*' inside -like; a '*' typed by a person would only widen a search.
    return f"{_property(prop)} -like {quote(prefix.replace('*', '') + '*')}"


def all_of(*clauses: str) -> str:
    return " -and ".join(f"({clause})" for clause in clauses)


def any_of(*clauses: str) -> str:
    return " -or ".join(f"({clause})" for clause in clauses)
