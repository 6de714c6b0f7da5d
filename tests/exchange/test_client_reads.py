"""Reading the directory: typed results, annotations gone, every page, escaped filters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exchange import filters
from exchange.client import ExchangeClient
from exchange.errors import AmbiguousIdentity, ObjectNotFound
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant
from tests.exchange.conftest import ALEX, MEGAN, ConfigFactory

DEMO_TENANT = Path(__file__).resolve().parents[2] / "exchange" / "sandbox" / "demo-tenant.json"


async def test_a_group_comes_back_typed_with_owners_as_guids(client: ExchangeClient) -> None:
    group = await client.get_distribution_group("finance-emea@contoso.com")

    assert group.display_name == "Finance EMEA"
    assert group.member_join_restriction == "ApprovalRequired"
    assert MEGAN in group.managed_by  # new-style recipients are named by their object id
    assert group.distinguished_name.startswith("CN=finance-emea,")
    assert group.best_identity == group.external_directory_object_id != ""


async def test_owners_named_the_legacy_way_resolve_to_people(client: ExchangeClient) -> None:
    group = await client.get_distribution_group("sales-team@contoso.com")

    owners = [await client.get_recipient(name) for name in group.managed_by]

    assert group.managed_by == ["jdoe", "asmith"]
    assert {o.primary_smtp_address for o in owners} == {
        "jdoe@contoso.com",
        "anna.smith@contoso.com",
    }


async def test_raw_objects_have_no_annotation_keys(client: ExchangeClient) -> None:
    (raw,) = await client.call_cmdlet("Get-DistributionGroup", {"Identity": "finance-emea"})

    assert raw["Name"] == "finance-emea"
    assert [key for key in raw if "@" in key] == []


async def test_non_ascii_names_round_trip(client: ExchangeClient) -> None:
    group = await client.get_distribution_group("zurich-team@eu.contoso.com")

    assert group.display_name == "Zürich § Team 🎉"
    assert (await client.get_distribution_group("Zürich-Team")).guid == group.guid


async def test_anr_finds_groups_by_the_start_of_their_names(client: ExchangeClient) -> None:
    groups = await client.find_distribution_groups(anr="engineering")

    assert {"engineering-all", "engineering-platform"} <= {g.name for g in groups}


async def test_an_alias_shared_by_two_groups_is_ambiguous(client: ExchangeClient) -> None:
    # Aliases are not unique: the product addresses groups by object id or address instead.
    with pytest.raises(AmbiguousIdentity):
        await client.get_distribution_group("marketing")


async def test_an_injection_attempt_in_a_filter_value_matches_nothing(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    typed = "x' -or Name -like '*"

    groups = await client.find_distribution_groups(opath_filter=filters.eq("Name", typed))

    assert groups == []
    assert sandbox.requests[-1].parameters["Filter"] == "Name -eq 'x'' -or Name -like ''*'"


async def test_a_name_with_a_quote_is_found_by_filter(client: ExchangeClient) -> None:
    people = await client.find_recipients(
        opath_filter=filters.eq("DisplayName", "Henrietta Müller")
    )
    assert [p.primary_smtp_address for p in people] == ["henriettam@contoso.com"]


async def test_membership_is_tested_without_listing_the_members(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    marketing = await client.get_distribution_group("marketing@contoso.com")
    big = await client.get_distribution_group("all-staff@contoso.com")

    assert await client.is_direct_member(marketing.distinguished_name, ALEX)
    assert not await client.is_direct_member(big.distinguished_name, ALEX)
    assert "Get-DistributionGroupMember" not in {r.cmdlet for r in sandbox.requests}


async def test_a_member_through_a_nested_group_is_not_a_direct_member(
    client: ExchangeClient,
) -> None:
    outer = await client.get_distribution_group("engineering@contoso.com")
    henrietta = await client.get_recipient("henriettam@contoso.com")

    members = await client.get_distribution_group_members(outer.best_identity)

    assert "engineering-platform" in {m.name for m in members if m.is_group}
    assert not await client.is_direct_member(
        outer.distinguished_name, henrietta.external_directory_object_id
    )


@pytest.fixture
async def tenant_with_2500_members(sandbox_state_dir: Path) -> AsyncIterator[SandboxServer]:
    data = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    (big,) = [g for g in data["groups"] if g["name"] == "all-staff-5k"]
    big["synthetic_members"] = 2500
    async with SandboxServer(Tenant.from_dict(data), state_dir=sandbox_state_dir) as server:
        yield server


async def test_every_page_of_2500_members_is_read_with_one_request_id(
    tenant_with_2500_members: SandboxServer, make_config: ConfigFactory
) -> None:
    sandbox = tenant_with_2500_members
    config = make_config(base_url=sandbox.base_url, authority_host=sandbox.base_url)
    async with ExchangeClient(config) as client:
        members = await client.get_distribution_group_members("all-staff@contoso.com")

    calls = [r for r in sandbox.requests if r.cmdlet == "Get-DistributionGroupMember"]
    assert len(members) == 2500
    assert len({m.external_directory_object_id for m in members}) == 2500
    assert len(calls) == 3  # 1000 + 1000 + 500
    assert {c.prefer for c in calls} == {"odata.maxpagesize=1000"}
    assert len({c.client_request_id for c in calls}) == 1


async def test_a_smaller_page_size_gives_more_pages_and_the_same_members(
    sandbox: SandboxServer, make_config: ConfigFactory
) -> None:
    async with ExchangeClient(make_config(page_size=700)) as client:
        members = await client.get_distribution_group_members("all-staff@contoso.com")

    assert len(members) == 5000
    assert len([r for r in sandbox.requests if r.cmdlet == "Get-DistributionGroupMember"]) == 8


async def test_iterating_groups_yields_pages_not_one_list(
    sandbox: SandboxServer, make_config: ConfigFactory
) -> None:
    async with ExchangeClient(make_config(page_size=5)) as client:
        pages = [page async for page in client.iter_distribution_groups()]

    assert all(len(page) <= 5 for page in pages) and len(pages) > 1
    names = [g.name for page in pages for g in page]
    assert len(names) == len(set(names)) and "finance-emea" in names


async def test_a_user_comes_with_manager_and_disabled_flag(client: ExchangeClient) -> None:
    alex = await client.get_user(ALEX)
    joni = await client.get_user("jonis@contoso.com")

    assert alex.display_name == "Alex Wilber" and alex.manager == "nestorw"
    assert alex.user_principal_name == "alexw@contoso.com"
    assert joni.account_disabled is True


async def test_accepted_domains_name_the_default(client: ExchangeClient) -> None:
    domains = await client.get_accepted_domains()

    assert {d.domain_name for d in domains} == {
        "contoso.com",
        "contoso.onmicrosoft.com",
        "eu.contoso.com",
    }
    assert [d.domain_name for d in domains if d.default] == ["contoso.com"]


async def test_an_unknown_group_is_object_not_found(client: ExchangeClient) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        await client.get_distribution_group("nobody-here@contoso.com")
    assert caught.value.cmdlet == "Get-DistributionGroup" and caught.value.request_id


async def test_exchange_warnings_are_logged_not_raised(
    client: ExchangeClient, caplog: pytest.LogCaptureFixture
) -> None:
    groups = await client.find_distribution_groups(result_size=2)

    assert len(groups) == 2
    warnings = [r.getMessage() for r in caplog.records if "Exchange warning" in r.getMessage()]
    assert warnings and "ResultSize" in warnings[0]
