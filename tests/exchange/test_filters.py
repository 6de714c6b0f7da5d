"""OPATH values are always literals, whatever a person typed."""

import pytest

from exchange import filters


def test_a_quote_in_a_value_is_doubled() -> None:
    assert filters.eq("Name", "O'Brien") == "Name -eq 'O''Brien'"


def test_an_injection_attempt_stays_inside_the_string() -> None:
    typed = "x' -or Name -like '*"
    assert filters.eq("Name", typed) == "Name -eq 'x'' -or Name -like ''*'"


def test_curly_single_quotes_are_doubled_as_themselves() -> None:
    assert filters.quote("O\u2019Brien") == "'O\u2019\u2019Brien'"


def test_property_names_are_checked() -> None:
    with pytest.raises(ValueError):
        filters.eq("Name -or 1", "x")


def test_starts_with_drops_wildcards_a_person_typed() -> None:
    assert filters.starts_with("Alias", "fin*ance") == "Alias -like 'finance*'"


def test_clauses_are_parenthesised_when_combined() -> None:
    assert filters.all_of("A -eq 'a'", "B -eq 'b'") == "(A -eq 'a') -and (B -eq 'b')"
    assert filters.any_of("A -eq 'a'", "B -eq 'b'") == "(A -eq 'a') -or (B -eq 'b')"
