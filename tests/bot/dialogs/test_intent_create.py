"""Asking for a new list is recognised in loose words, and only when a word for making one
comes first: a list whose name merely starts with "new" is still searched for."""

from __future__ import annotations

import pytest

from bot.dialogs.intent import Intent, IntentKind, understand


@pytest.mark.parametrize(
    ("text", "purpose"),
    [
        ("create a DL for the Q3 launch", "the Q3 launch"),
        ("Create a DL for the Q3 launch.", "the Q3 launch"),
        ("new distribution list", ""),
        ("I need a list for the Q3 launch", "the Q3 launch"),
        ("please create a new mailing list", ""),
        ("can you set up a distribution group called Sales Ops", "Sales Ops"),
        ("we need a new dl", ""),
        ("make a list", ""),
        ("new dl", ""),
    ],
)
def test_asking_for_a_new_list_starts_creating_one_with_its_purpose(
    text: str, purpose: str
) -> None:
    assert understand(text) == Intent(IntentKind.CREATE, purpose)


@pytest.mark.parametrize(
    ("text", "kind", "query"),
    [
        ("new hires", IntentKind.JOIN, "new hires"),
        ("add me to the new list", IntentKind.JOIN, "new"),
        ("I need to join sales", IntentKind.JOIN, "sales"),
        ("leave the new starters list", IntentKind.LEAVE, "new starters"),
    ],
)
def test_messages_that_only_mention_new_or_list_keep_their_meaning(
    text: str, kind: IntentKind, query: str
) -> None:
    assert understand(text) == Intent(kind, query)
