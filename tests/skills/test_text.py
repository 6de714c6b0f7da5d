"""How names and typed text become comparable words."""

from __future__ import annotations

import pytest

from skills.text import deletions, fold, within_one_edit, words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Zürich", "zurich"),
        ("Straße", "strasse"),
        ("Søren Łukasz", "soren lukasz"),
        ("ÉQUIPE", "equipe"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_fold_removes_case_and_accents(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_words_split_on_everything_but_letters_and_digits() -> None:
    assert words("Zürich § Team 🎉 finance_emea-2024.q3") == [
        "zurich",
        "team",
        "finance",
        "emea",
        "2024",
        "q3",
    ]


def test_words_keep_other_scripts() -> None:
    assert words("Отдел продаж 東京") == ["отдел", "продаж", "東京"]


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("finance", "finance", True),
        ("finanse", "finance", True),  # replaced
        ("finace", "finance", True),  # missing
        ("finnance", "finance", True),  # extra
        ("emae", "emea", True),  # swapped
        ("fniance", "finance", True),  # swapped at the start
        ("financ", "finance", True),  # last letter missing
        ("fnance", "finance", True),
        ("fiananse", "finance", False),  # one letter too many, one replaced
        ("emaa", "emea", True),
        ("amee", "emea", False),
        ("fin", "finance", False),
        ("sales", "seals", False),
    ],
)
def test_one_edit_is_a_typo_and_two_are_not(a: str, b: str, near: bool) -> None:
    assert within_one_edit(a, b) is near
    assert within_one_edit(b, a) is near


def test_deletions_are_every_word_one_letter_shorter() -> None:
    assert deletions("emea") == {"mea", "eea", "ema", "eme"}
