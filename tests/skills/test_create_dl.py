"""Checking a new list the way Exchange will (pure rules), and the Exchange adapters the
checks and the creation approvers read live from the sandbox tenant."""

from __future__ import annotations

import pytest

from approvals.creation import CreationApproverMode, CreationApprovers, ExchangeCreatorDirectory
from exchange.client import ExchangeClient
from skills.create_dl import (
    CreateList,
    Draft,
    Holders,
    Problem,
    alias_problem,
    name_problem,
    pick_domain,
    suggest_alias,
)
from skills.exchange_creation import ExchangeCreationDirectory
from skills.find_dl import ListIndex
from skills.policies import CreationPolicy, NamingPolicy
from tests.skills.factories import ADELE, ALEX, GRADY, NESTOR, demo_person

POLICY = CreationPolicy(
    naming=NamingPolicy(prefix="DL-", suffix="", blocked_words=("ceo", "payroll-all"))
)


def test_the_final_name_counts_the_prefix_against_the_64_character_limit() -> None:
    assert name_problem(POLICY, "x" * 61) is None
    problem = name_problem(POLICY, "x" * 62)
    assert problem is not None and problem.kind is Problem.NAME_TOO_LONG
    assert problem.detail == "DL-" + "x" * 62 and problem.limit == 64


@pytest.mark.parametrize("name", ["CEO office", "the-ceo news", "Payroll-All EMEA"])
def test_a_blocked_word_standing_as_a_word_is_refused(name: str) -> None:
    problem = name_problem(POLICY, name)
    assert problem is not None and problem.kind is Problem.NAME_BLOCKED_WORD


def test_a_blocked_word_inside_another_word_is_not_a_match() -> None:
    assert name_problem(POLICY, "Ceolin family") is None


@pytest.mark.parametrize(
    ("alias", "kind"),
    [
        ("", Problem.ALIAS_EMPTY),
        ("a" * 65, Problem.ALIAS_TOO_LONG),
        ("q3 launch", Problem.ALIAS_CHARACTERS),
        ("zürich", Problem.ALIAS_CHARACTERS),
        (".q3", Problem.ALIAS_DOTS),
        ("q3.", Problem.ALIAS_DOTS),
        ("q3..x", Problem.ALIAS_DOTS),
    ],
)
def test_aliases_the_contract_does_not_allow_are_refused(alias: str, kind: Problem) -> None:
    problem = alias_problem(alias)
    assert problem is not None and problem.kind is kind


@pytest.mark.parametrize("alias", ["q3-launch", "q3.launch", "a" * 64, "o'brien+team_{1}~"])
def test_aliases_the_contract_allows_pass(alias: str) -> None:
    assert alias_problem(alias) is None


def test_a_suggested_alias_is_a_valid_one_made_from_the_name() -> None:
    assert suggest_alias("Q3 Launch (EMEA) — Team!") == "q3-launch-emea-team"
    assert alias_problem(suggest_alias("Zürich § Team 🎉")) is None


def test_a_domain_is_picked_by_number_or_by_name() -> None:
    domains = ("contoso.com", "eu.contoso.com")
    assert pick_domain("2", domains) == "eu.contoso.com"
    assert pick_domain("@EU.contoso.com", domains) == "eu.contoso.com"
    assert pick_domain("3", domains) is None and pick_domain("fabrikam.com", domains) is None


# The adapters, on the sandbox tenant ------------------------------------------------------------


async def test_accepted_domains_come_default_first(client: ExchangeClient) -> None:
    domains = await ExchangeCreationDirectory(client).accepted_domains()

    assert domains[0] == "contoso.com"
    assert set(domains) == {"contoso.com", "contoso.onmicrosoft.com", "eu.contoso.com"}


async def test_holders_name_who_has_the_name_the_alias_and_the_address(
    client: ExchangeClient,
) -> None:
    directory = ExchangeCreationDirectory(client)

    taken = await directory.holders(
        name="Finance EMEA", alias="book-club", address="leadership@contoso.com"
    )
    free = await directory.holders(name="Q3 Launch", alias="q3-launch", address="q3@contoso.com")

    assert taken == Holders(name="Finance EMEA", alias="Book Club", address="Leadership Team")
    assert free == Holders()


async def test_people_are_found_by_name_and_by_address_and_groups_are_not(
    client: ExchangeClient,
) -> None:
    directory = ExchangeCreationDirectory(client)

    by_name = await directory.find_people("Megan", 5)
    by_address = await directory.find_people("leeg@contoso.com", 5)
    a_group = await directory.find_people("finance-emea@contoso.com", 5)

    assert [p.address for p in by_name] == ["meganb@contoso.com"]
    assert [p.display_name for p in by_address] == ["Lee Gu"]
    assert a_group == []


async def test_a_draft_with_a_taken_name_alias_and_address_has_three_problems(
    client: ExchangeClient,
) -> None:
    create = CreateList(ExchangeCreationDirectory(client), ListIndex(), _NoApprovals(), POLICY)
    alex = demo_person(ALEX)
    draft = Draft(name="Finance EMEA", alias="finance-emea", domain="contoso.com", owners=(alex,))

    problems = await create.validate(draft)

    kinds = [p.kind for p in problems]
    assert kinds == [Problem.ALIAS_TAKEN, Problem.ADDRESS_TAKEN]  # "DL-Finance EMEA" is free
    draft = Draft(name="Q3 Launch", alias="q3-launch", domain="fabrikam.com", owners=(alex,))
    (problem,) = await create.validate(draft)
    assert problem.kind is Problem.DOMAIN_NOT_ACCEPTED and "eu.contoso.com" in problem.domains


async def test_the_it_group_stands_for_its_members(client: ExchangeClient) -> None:
    approvers = CreationApprovers(
        ExchangeCreatorDirectory(client),
        mode=CreationApproverMode.IT_GROUP,
        approver_identities=("it-admins@contoso.com", "nobody@contoso.com"),
    )

    current = await approvers.creation_approvers(demo_person(ALEX))

    assert {a.object_id for a in current.approvers} == {ADELE, GRADY}


async def test_the_manager_comes_from_get_user(client: ExchangeClient) -> None:
    approvers = CreationApprovers(
        ExchangeCreatorDirectory(client),
        mode=CreationApproverMode.MANAGER,
        approver_identities=("it-admins@contoso.com",),
    )

    current = await approvers.creation_approvers(demo_person(ALEX))

    assert [(a.object_id, a.via) for a in current.approvers] == [(NESTOR, "manager")]
    assert {a.object_id for a in current.fallback} == {ADELE, GRADY}


class _NoApprovals:
    async def submit(self, **kwargs: object) -> object:
        raise AssertionError("validation must not submit")
