"""Leaving a list and asking about one's own requests, typed loosely as on a phone."""

import pytest

from bot.dialogs.intent import Intent, IntentKind, understand


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("leave marketing", "marketing"),
        ("LEAVE MARKETING", "marketing"),
        ("leave: marketing", "marketing"),
        ("unsub from marketing pls", "marketing"),
        ("Leave the Marketing DL", "marketing"),
        ("pls remove me from marketing", "marketing"),
        ("remove me from the book club list please", "book club"),
        ("unsubscribe from finance emea", "finance emea"),
        ("Unsubscribe me from finance-emea!", "finance-emea"),
        ("unsubscribe marketing", "marketing"),
        ("take me off marketing", "marketing"),
        ("take me off of the zürich team list", "zürich team"),
        ("get me off leadership", "leadership"),
        ("I’d like to leave marketing", "marketing"),
        ("i want to leave marketing", "marketing"),
        ("leave marketing@contoso.com", "marketing@contoso.com"),
        ("remove me from Marketing@Contoso.com thx", "marketing@contoso.com"),
        ("leave", ""),
        ("remove me", ""),
        ("take me off", ""),
    ],
)
def test_leave_requests_yield_the_list_to_leave(typed: str, query: str) -> None:
    assert understand(typed) == Intent(IntentKind.LEAVE, query)


@pytest.mark.parametrize(
    "typed",
    [
        "my requests",
        "My Requests",
        "status",
        "Status?",
        "what did I ask for?",
        "pending",
        "show my requests please",
        "pls my request",
    ],
)
def test_my_requests_is_understood(typed: str) -> None:
    assert understand(typed) == Intent(IntentKind.MY_REQUESTS)


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("cancel my request to finance emea", "finance emea"),
        ("cancel my request to join finance emea", "finance emea"),
        ("Cancel my request for the sales dl", "sales"),
        ("withdraw my request to leave leadership", "leadership"),
        ("cancel request finance-emea@contoso.com", "finance-emea@contoso.com"),
        ("cancel my request", ""),
        ("cancel my requests", ""),
        ("pls cancel the request", ""),
    ],
)
def test_cancelling_a_request_names_its_list(typed: str, query: str) -> None:
    assert understand(typed) == Intent(IntentKind.CANCEL_REQUEST, query)


@pytest.mark.parametrize("typed", ["cancel", "Cancel", "stop", "never mind"])
def test_cancel_alone_still_stops_the_conversation(typed: str) -> None:
    assert understand(typed) == Intent(IntentKind.CANCEL)


@pytest.mark.parametrize(
    ("typed", "kind", "query"),
    [
        # A list whose name only contains a leave word is searched for, as before.
        ("annual leave team", IntentKind.JOIN, "annual leave team"),
        ("subscribe me to marketing", IntentKind.JOIN, "marketing"),
        ("add me to finance-emea@contoso.com", IntentKind.JOIN, "finance-emea@contoso.com"),
        ("requests team", IntentKind.JOIN, "requests team"),
    ],
)
def test_joins_and_searches_are_unchanged(typed: str, kind: IntentKind, query: str) -> None:
    assert understand(typed) == Intent(kind, query)
