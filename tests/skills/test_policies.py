"""Policy: the admin's block list and justification rules, as plain data."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from skills.policies import (
    BlockRule,
    ClosedLists,
    JustificationProblem,
    Policy,
    clean_justification,
    justification_problem,
)
from tests.skills.factories import make_list


def test_the_defaults_are_design_mds() -> None:
    policy = Policy()

    assert policy.closed_lists is ClosedLists.APPROVE
    assert policy.require_justification
    assert policy.blocked == () and policy.fallback_approvers == ()


def test_a_policy_cannot_be_changed_or_given_unknown_settings() -> None:
    with pytest.raises(ValidationError):
        Policy().closed_lists = ClosedLists.REFUSE  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Policy(close_lists="refuse")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("pattern", "address", "blocked"),
    [
        ("payroll@contoso.com", "payroll@contoso.com", True),
        ("PAYROLL@Contoso.com", "payroll@contoso.com", True),
        ("*-all@contoso.com", "sales-all@contoso.com", True),
        ("*-all@contoso.com", "sales-all@eu.contoso.com", False),
        ("exec-*", "exec-assistants@contoso.com", True),  # no "@": any domain
        ("exec-*", "exec-assistants@eu.contoso.com", True),
        ("exec-*", "the-exec-team@contoso.com", False),
        ("board?@contoso.com", "board1@contoso.com", True),
    ],
)
def test_a_block_rule_matches_addresses_by_pattern(
    pattern: str, address: str, blocked: bool
) -> None:
    name = address.partition("@")[0]
    policy = Policy(blocked=(BlockRule(pattern=pattern, message="no"),))

    rule = policy.block_rule(make_list(name, address=address))

    assert (rule is not None) is blocked


def test_a_secondary_address_is_enough_to_block() -> None:
    policy = Policy(
        blocked=(BlockRule(pattern="ceo@contoso.com", message="Ask the CEO's office."),)
    )
    office = make_list("office-of-the-ceo", other_addresses=("ceo@contoso.com",))

    rule = policy.block_rule(office)

    assert rule is not None and rule.message == "Ask the CEO's office."


def test_the_first_matching_rule_gives_the_message() -> None:
    policy = Policy(
        blocked=(
            BlockRule(pattern="all-staff@*", message="first"),
            BlockRule(pattern="all-*", message="second"),
        )
    )

    rule = policy.block_rule(make_list("all-staff"))

    assert rule is not None and rule.message == "first"


def test_an_empty_pattern_is_not_a_rule() -> None:
    with pytest.raises(ValidationError):
        BlockRule(pattern="", message="blocks nothing")


def test_a_justification_loses_control_characters_and_outer_space() -> None:
    assert clean_justification("  need it\x00 for\x1b Q3\r\n") == "need it for Q3"


def test_a_justification_loses_direction_overrides_that_disguise_text() -> None:
    assert clean_justification("approve\u202e evil\u202c") == "approve evil"


def test_a_justification_keeps_lines_accents_and_emoji() -> None:
    text = "Für Q3:\nBudget 👩\u200d💻"

    assert clean_justification(text) == text


@pytest.mark.parametrize(
    ("text", "approval_needed", "problem"),
    [
        ("", True, JustificationProblem.MISSING),
        ("", False, None),
        ("why", True, None),
        ("x" * 501, True, JustificationProblem.TOO_LONG),
        ("x" * 501, False, JustificationProblem.TOO_LONG),
        ("x" * 500, True, None),
    ],
)
def test_a_justification_is_judged_by_the_policy(
    text: str, approval_needed: bool, problem: JustificationProblem | None
) -> None:
    assert justification_problem(Policy(), text, approval_needed=approval_needed) is problem


def test_no_justification_is_needed_when_the_admin_says_so() -> None:
    policy = Policy(require_justification=False)

    assert justification_problem(policy, "", approval_needed=True) is None
