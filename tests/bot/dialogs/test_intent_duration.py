"""A join asked "for 30 days" or "until 31 Dec" carries the time asked for; the list is still
searched for without it."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dialogs.intent import Intent, IntentKind, understand

TODAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("typed", "query", "days"),
    [
        ("add me to proj-apollo for 30 days", "proj-apollo", 30),
        ("please add me to the Finance EMEA list for 2 weeks", "finance emea", 14),
        ("add me to finance-emea@contoso.com for a month", "finance-emea@contoso.com", 30),
        ("join sales until 2026-03-09", "sales", 7),
        ("sales team for 3 days", "sales team", 3),
    ],
)
def test_a_join_for_a_time_searches_the_list_and_carries_the_days(
    typed: str, query: str, days: int
) -> None:
    assert understand(typed, today=TODAY) == Intent(IntentKind.JOIN, query, days=days)


def test_a_join_until_a_date_gone_carries_the_problem_not_a_time() -> None:
    assert understand("add me to sales until 2026-03-01", today=TODAY) == Intent(
        IntentKind.JOIN, "sales", duration_problem="past"
    )


def test_a_join_without_a_time_carries_none() -> None:
    assert understand("add me to budget for emea", today=TODAY) == Intent(
        IntentKind.JOIN, "budget for emea"
    )


def test_leaving_is_not_timed() -> None:
    assert understand("leave sales for 2 weeks", today=TODAY).kind is IntentKind.LEAVE
