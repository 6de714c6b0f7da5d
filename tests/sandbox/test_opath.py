"""The sandbox's OPATH parser: PowerShell quoting, precedence, errors, and injection attempts."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.sandbox import opath
from exchange.sandbox.cmdlet_outcome import CmdletError

PROPS = (
    "Name",
    "DisplayName",
    "Alias",
    "EmailAddresses",
    "Department",
    "HiddenFromAddressListsEnabled",
)
Row = Mapping[str, opath.FilterValue]


def parse(text: str) -> opath.Node:
    return opath.parse(text, PROPS)


def _row_test(c: opath.Comparison) -> Callable[[Row], bool]:
    match = opath.value_matcher(c.op, c.value)
    return lambda row: match(row.get(c.prop))


def matches(text: str, row: Row) -> bool:
    """Evaluate a filter against a dict standing in for a recipient."""
    return opath.compile_predicate(parse(text), _row_test)(row)


def parse_error(text: str) -> CmdletError:
    with pytest.raises(CmdletError) as caught:
        parse(text)
    return caught.value


# --- parsing ---------------------------------------------------------------------------------


def test_a_comparison_parses_to_its_property_operator_and_value() -> None:
    assert parse("Name -eq 'finance'") == opath.Comparison("Name", "eq", "finance")


def test_property_names_and_operators_ignore_case() -> None:
    assert parse("nAmE -EQ 'x'") == opath.Comparison("Name", "eq", "x")


def test_a_doubled_single_quote_is_one_literal_quote() -> None:
    node = parse("DisplayName -eq 'O''Brien'")
    assert isinstance(node, opath.Comparison) and node.value == "O'Brien"


def test_an_escaped_injection_attempt_stays_one_literal_value() -> None:
    node = parse("Name -eq 'x'' -or Name -like ''*'")
    assert node == opath.Comparison("Name", "eq", "x' -or Name -like '*")


def test_an_unescaped_injection_attempt_becomes_filter_syntax() -> None:
    # The same text without doubling is real syntax: this is what escaping protects against.
    node = parse("Name -eq 'x' -or Name -like '*'")
    assert isinstance(node, opath.Or) and len(node.operands) == 2


def test_a_typographic_quote_ends_a_single_quoted_string_like_in_powershell() -> None:
    error = parse_error("Name -eq 'O\u2019Brien'")
    assert "Invalid filter syntax" in error.message


def test_a_doubled_typographic_quote_is_a_literal_quote() -> None:
    node = parse("Name -eq 'O\u2019\u2019Brien'")
    assert isinstance(node, opath.Comparison) and node.value == "O\u2019Brien"


@given(st.text())
def test_quote_literal_always_round_trips_any_text(value: str) -> None:
    node = parse(f"Name -eq {opath.quote_literal(value)}")
    assert node == opath.Comparison("Name", "eq", value)


def test_double_quoted_strings_escape_a_quote_by_doubling_it() -> None:
    node = parse('Name -eq "say ""hi"""')
    assert isinstance(node, opath.Comparison) and node.value == 'say "hi"'


@pytest.mark.parametrize(("text", "value"), [("$true", True), ("$FALSE", False), ("$null", None)])
def test_system_values_parse_to_python_constants(text: str, value: object) -> None:
    node = parse(f"HiddenFromAddressListsEnabled -eq {text}")
    assert isinstance(node, opath.Comparison) and node.value == value


def test_an_unquoted_word_is_a_string_value() -> None:
    assert parse("Department -eq Sales") == opath.Comparison("Department", "eq", "Sales")


def test_an_en_dash_works_as_an_operator_dash_like_in_powershell() -> None:
    assert parse("Name \u2013eq 'x'") == opath.Comparison("Name", "eq", "x")


# --- precedence ------------------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (opath.Comparison("Name", "eq", v) for v in "abc")
    assert parse("Name -eq 'a' -or Name -eq 'b' -and Name -eq 'c'") == opath.Or(
        (a, opath.And((b, c)))
    )


def test_not_binds_tighter_than_and() -> None:
    node = parse("-not Name -eq 'a' -and Alias -eq 'b'")
    assert isinstance(node, opath.And) and isinstance(node.operands[0], opath.Not)


def test_parentheses_override_precedence() -> None:
    node = parse("(Name -eq 'a' -or Name -eq 'b') -and Alias -eq 'c'")
    assert isinstance(node, opath.And) and isinstance(node.operands[0], opath.Or)


def test_precedence_changes_the_result_of_evaluation() -> None:
    row = {"Name": "a", "Alias": "zzz"}
    assert matches("Name -eq 'a' -or Name -eq 'b' -and Alias -eq 'c'", row)
    assert not matches("(Name -eq 'a' -or Name -eq 'b') -and Alias -eq 'c'", row)


# --- evaluation ------------------------------------------------------------------------------


def test_eq_ignores_case() -> None:
    assert matches("Name -eq 'FINANCE'", {"Name": "finance"})


def test_like_star_matches_any_run_of_characters_ignoring_case() -> None:
    assert matches("Name -like 'fin*emea'", {"Name": "Finance-EMEA"})


def test_like_treats_regex_characters_and_question_marks_literally() -> None:
    assert not matches("Name -like 'a.b?'", {"Name": "axbc"})
    assert matches("Name -like 'a.b?'", {"Name": "a.b?"})


def test_notlike_is_the_negation_of_like() -> None:
    assert matches("Name -notlike 'fin*'", {"Name": "sales"})
    assert not matches("Name -notlike 'fin*'", {"Name": "finance"})


def test_eq_on_a_multi_valued_property_matches_any_entry() -> None:
    row = {"EmailAddresses": ["SMTP:a@contoso.com", "smtp:b@contoso.com"]}
    assert matches("EmailAddresses -eq 'smtp:B@contoso.com'", row)


def test_ne_on_a_multi_valued_property_means_no_entry_matches() -> None:
    row = {"EmailAddresses": ["SMTP:a@contoso.com", "smtp:b@contoso.com"]}
    assert not matches("EmailAddresses -ne 'smtp:b@contoso.com'", row)
    assert matches("EmailAddresses -ne 'smtp:c@contoso.com'", row)


def test_eq_null_matches_an_empty_property() -> None:
    assert matches("Department -eq $null", {"Department": ""})
    assert not matches("Department -eq $null", {"Department": "IT"})


def test_a_boolean_property_compares_with_true_and_false() -> None:
    assert matches(
        "HiddenFromAddressListsEnabled -eq $true", {"HiddenFromAddressListsEnabled": True}
    )
    assert matches(
        "HiddenFromAddressListsEnabled -eq 'False'", {"HiddenFromAddressListsEnabled": False}
    )


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Name -eq",
        "Name 'x'",
        "Name -eq 'x' -and",
        "(Name -eq 'x'",
        "Name -eq 'x')",
        "Name -eq 'x' Alias -eq 'y'",
        "-or Name -eq 'x'",
        "Name -eq $somevariable",
        "Name -eq 'unterminated",
    ],
)
def test_malformed_filters_are_parameter_binding_errors(text: str) -> None:
    error = parse_error(text)
    assert error.status == 400
    assert error.exception_type == "System.Management.Automation.ParameterBindingException"
    assert error.message.startswith(
        "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": "
        '"Invalid filter syntax.'
    )


def test_a_syntax_error_names_the_one_based_position_of_the_bad_token() -> None:
    error = parse_error("Name -eq 'x' -and -eq 'y'")
    assert error.message.endswith("\"Name -eq 'x' -and -eq 'y'\" at position 19.\"")


def test_an_unterminated_string_is_reported_at_its_opening_quote() -> None:
    assert "at position 10." in parse_error("Name -eq 'abc").message


def test_an_unknown_property_is_not_a_recognized_filterable_property() -> None:
    error = parse_error("Salary -gt 'x'")
    assert '"Salary" is not a recognized filterable property' in error.message
    assert error.status == 400


def test_an_unsupported_operator_is_named_in_the_error() -> None:
    assert '"-gt"' in parse_error("Name -gt 'x'").message
