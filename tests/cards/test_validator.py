"""The card validator (Microsoft's adaptivecards parser, target 1.5, plus our own checks)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.cards.validator import validate_card, validate_cards

GOOD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "Alex Wilber asks to join Finance EMEA", "wrap": True},
        {"type": "Image", "url": "https://contoso.example/alex.png", "size": "Small"},
        {"type": "FactSet", "facts": [{"title": "Why", "value": "New role"}]},
        {
            "type": "ColumnSet",
            "columns": [{"type": "Column", "items": [{"type": "TextBlock", "text": "Owners"}]}],
        },
        {"type": "Input.Text", "id": "reason", "label": "Reason", "isMultiline": True},
    ],
    "actions": [
        {"type": "Action.Execute", "verb": "approve", "title": "Approve", "data": {"id": "r1"}},
        {"type": "Action.Execute", "verb": "deny", "title": "Deny", "data": {"id": "r1"}},
    ],
}


def changed(**fields: Any) -> dict[str, Any]:
    card = copy.deepcopy(GOOD)
    card.update(fields)
    return card


def with_body(*elements: dict[str, Any]) -> dict[str, Any]:
    return changed(body=list(elements))


def test_a_good_card_passes() -> None:
    assert validate_card(GOOD) == []


BAD: dict[str, tuple[Any, str]] = {
    "body not an array": (
        changed(body={"type": "TextBlock", "text": "x"}),
        "body: must be an array",
    ),
    "Image without url": (with_body({"type": "Image"}), "(Image): url is missing"),
    "TextBlock without text": (
        with_body({"type": "TextBlock", "wrap": True}),
        "(TextBlock): text is missing",
    ),
    "nested TextBlock with empty text": (
        with_body({"type": "Container", "items": [{"type": "TextBlock", "text": ""}]}),
        "$.body[0].items[0] (TextBlock): text is missing",
    ),
    "element type Teams does not know": (
        with_body({"type": "Carousel", "pages": []}),
        'Unknown element type "Carousel"',
    ),
    "unknown action type": (
        changed(actions=[{"type": "Action.Approve", "title": "x"}]),
        "Unknown action type",
    ),
    "bad enum value": (
        with_body({"type": "TextBlock", "text": "x", "size": "huge"}),
        'Invalid value "huge"',
    ),
    "duplicate input ids": (
        with_body({"type": "Input.Text", "id": "a"}, {"type": "Input.Text", "id": "a"}),
        'Duplicate Id "a"',
    ),
    "input without id": (with_body({"type": "Input.Text"}), "All inputs must have a unique Id"),
    "card newer than 1.5": (changed(version="1.6"), "version 1.6 is newer than Teams renders"),
    "no version": (changed(version=None), "version is missing"),
    "not an AdaptiveCard": (changed(type="Card"), 'type must be "AdaptiveCard"'),
    "not an object": (["not", "a", "card"], "not a JSON object"),
}


@pytest.fixture(scope="module")
def verdicts() -> dict[str, list[str]]:
    """Every bad card checked in one node process; errors per case."""
    names = list(BAD)
    errors = validate_cards([BAD[name][0] for name in names])
    return {
        name: [e for e in errors if e.startswith(f"card {index}: ")]
        for index, name in enumerate(names)
    }


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_card_fails_naming_the_problem(verdicts: dict[str, list[str]], case: str) -> None:
    errors = verdicts[case]
    assert errors, "the validator let a bad card through"
    assert any(BAD[case][1] in error for error in errors), errors


def test_one_call_checks_many_cards_and_names_each_failing_one() -> None:
    errors = validate_cards([GOOD, with_body({"type": "Image"}), GOOD, changed(version="2.0")])
    assert sorted({error.split(":", 1)[0] for error in errors}) == ["card 1", "card 3"]


def test_a_template_is_validated_as_expanded() -> None:
    template = changed(version="${version}")
    assert validate_cards([{"template": template, "data": {"version": "1.5"}}]) == []
    [error] = validate_cards([{"template": template, "data": {"version": "1.6"}}])
    assert "version 1.6 is newer" in error


def test_no_cards_need_no_node() -> None:
    assert validate_cards([]) == []
