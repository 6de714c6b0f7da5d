"""Reading how long someone asks to be on a list from the end of their message."""

from __future__ import annotations

from datetime import date

import pytest

from skills.durations import AskedDuration, split_duration

TODAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("typed", "rest", "days"),
    [
        ("add me to proj-apollo for 30 days", "add me to proj-apollo", 30),
        ("add me to proj-apollo for 1 day", "add me to proj-apollo", 1),
        ("join sales for 2 weeks", "join sales", 14),
        ("join sales for a week", "join sales", 7),
        ("join sales for three months", "join sales", 90),
        ("join sales for a year", "join sales", 365),
        ("join sales for the next 10 days", "join sales", 10),
        ("finance-emea@contoso.com for 5 days", "finance-emea@contoso.com", 5),
        ("Join Sales UNTIL 31 Dec", "Join Sales", 304),
        ("join sales until 31st of December", "join sales", 304),
        ("join sales till dec 31", "join sales", 304),
        ("join sales until 2026-03-09", "join sales", 7),
        ("join sales until 1 march", "join sales", 364),  # next year's: today has passed
        ("join sales until 3 Mar 2026", "join sales", 1),
    ],
)
def test_a_trailing_duration_is_taken_off_and_counted_in_days(
    typed: str, rest: str, days: int
) -> None:
    assert split_duration(typed, TODAY) == AskedDuration(rest, days)


@pytest.mark.parametrize(
    "typed",
    ["add me to budget for emea", "join for 30 days club please", "add me to finance emea"],
)
def test_a_message_without_a_trailing_duration_is_left_whole(typed: str) -> None:
    assert split_duration(typed, TODAY) == AskedDuration(typed, None)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("join sales until 2026-03-01", "past"),
        ("join sales until 2026-03-02", "past"),
        ("join sales until 31 feb", "past"),
        ("join sales for 0 days", "past"),
        ("join sales for 99 years", "too_long"),
    ],
)
def test_an_unusable_duration_is_reported_not_ignored(typed: str, problem: str) -> None:
    asked = split_duration(typed, TODAY)
    assert (asked.text, asked.days, asked.problem) == ("join sales", None, problem)
