"""Loose, phone-typed requests are understood as a person would understand them."""

import pytest

from bot.dialogs.intent import Intent, IntentKind, understand


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("add me to finance-emea", "finance-emea"),
        ("Add me to finance emea", "finance emea"),
        ("pls add me to the Sales DL", "sales"),
        ("can you add me to the book club list please", "book club"),
        ("I'd like to join marketing", "marketing"),
        ("I’d like to join marketing!", "marketing"),
        ("join the sales list", "sales"),
        ("sign me up for the zürich team", "zürich team"),
        ("finance emea", "finance emea"),
        ("Finance-EMEA@contoso.com", "finance-emea@contoso.com"),
        ("please add me to finance-emea@contoso.com thanks", "finance-emea@contoso.com"),
        ("join", ""),
        ("add me", ""),
    ],
)
def test_join_requests_yield_what_to_search_for(typed: str, query: str) -> None:
    assert understand(typed) == Intent(IntentKind.JOIN, query)


@pytest.mark.parametrize("typed", ["help", "Help!", "?", "what can you do"])
def test_help(typed: str) -> None:
    assert understand(typed).kind is IntentKind.HELP


@pytest.mark.parametrize("typed", ["cancel", "Stop", "never mind"])
def test_cancel(typed: str) -> None:
    assert understand(typed).kind is IntentKind.CANCEL


@pytest.mark.parametrize("typed", ["hi", "Hello", "hey"])
def test_greetings_are_not_searches(typed: str) -> None:
    assert understand(typed).kind is IntentKind.GREETING


@pytest.mark.parametrize("typed", ["", "   ", "!!!", "the list", "please"])
def test_nothing_to_go_on_is_unknown(typed: str) -> None:
    assert understand(typed).kind is IntentKind.UNKNOWN
