"""ExchangeListDirectory against the sandbox tenant: kinds, memberships, people, and their cost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant
from skills.exchange_directory import MAX_NESTED_GROUPS, ExchangeListDirectory
from skills.ports import ListKind, Membership, MembershipKind, Restriction
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET
from tests.skills.conftest import CallCounter

ALEX = "9e986098-d981-4a25-9a89-5bf689ff5e3c"
MEGAN = "610e5c9f-cf2a-4499-b142-baecacdfc76e"
HENRIETTA = "6b65a6a4-8b81-48f6-b38a-088ca65ed389"
FINANCE_EMEA = "a9488d99-0bbb-4599-91ce-5dd2b45ed1f0"
DEMO_TENANT = Path(__file__).resolve().parents[2] / "exchange" / "sandbox" / "demo-tenant.json"


async def test_a_list_is_read_by_object_id_with_its_settings(
    directory: ExchangeListDirectory,
) -> None:
    found = await directory.get_list(FINANCE_EMEA)

    assert found is not None
    assert (found.name, found.display_name, found.address) == (
        "finance-emea",
        "Finance EMEA",
        "finance-emea@contoso.com",
    )
    assert found.kind is ListKind.DISTRIBUTION
    assert found.join_restriction is Restriction.APPROVAL_REQUIRED
    assert found.depart_restriction is Restriction.OPEN
    assert MEGAN in found.owners
    assert found.distinguished_name.startswith("CN=finance-emea,")
    assert "finance-emea@contoso.onmicrosoft.com" in found.other_addresses
    assert found.address not in found.other_addresses
    assert not found.hidden and not found.dir_synced


async def test_a_list_is_read_by_address_in_any_case(directory: ExchangeListDirectory) -> None:
    found = await directory.get_list("Finance-EMEA@Contoso.com")

    assert found is not None and found.object_id == FINANCE_EMEA


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("it-admins@contoso.com", ListKind.SECURITY),
        ("building1-rooms@contoso.com", ListKind.ROOM),
        ("book-club@contoso.com", ListKind.DISTRIBUTION),
    ],
)
async def test_the_recipient_type_gives_the_kind(
    directory: ExchangeListDirectory, address: str, kind: ListKind
) -> None:
    found = await directory.get_list(address)

    assert found is not None and found.kind is kind


async def test_a_dynamic_group_is_found_through_get_recipient_and_is_closed(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    found = await directory.get_list("sales-all@contoso.com")

    assert found is not None
    assert found.kind is ListKind.DYNAMIC
    assert found.join_restriction is Restriction.CLOSED
    assert found.display_name == "Sales (dynamic)"
    assert exchange_calls() == 2  # Get-DistributionGroup fails, Get-Recipient finds it


async def test_flags_for_hidden_and_dir_synced_lists_come_through(
    directory: ExchangeListDirectory,
) -> None:
    hidden = await directory.get_list("exec-assistants@contoso.com")
    synced = await directory.get_list("onprem-engineering@contoso.com")

    assert hidden is not None and hidden.hidden
    assert synced is not None and synced.dir_synced


async def test_an_unknown_list_is_none_after_two_calls(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    assert await directory.get_list("no-such-list@contoso.com") is None
    assert exchange_calls() == 2


async def test_a_person_is_not_a_list(directory: ExchangeListDirectory) -> None:
    assert await directory.get_list("alexw@contoso.com") is None


async def test_reading_a_list_costs_one_call(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    await directory.get_list(FINANCE_EMEA)

    assert exchange_calls() == 1


async def test_a_direct_member_costs_one_call(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    marketing = await directory.get_list("marketing@contoso.com")
    assert marketing is not None
    exchange_calls()

    assert await directory.membership(marketing, ALEX) == Membership(MembershipKind.DIRECT)
    assert exchange_calls() == 1


async def test_a_member_through_a_member_group_is_nested_via_that_group(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    engineering = await directory.get_list("engineering@contoso.com")
    assert engineering is not None
    exchange_calls()

    membership = await directory.membership(engineering, HENRIETTA)

    assert membership == Membership(MembershipKind.NESTED, ("Engineering Platform",))
    # the direct test that also finds member groups, then the test of Engineering Platform
    assert exchange_calls() == 2


async def test_a_non_member_of_a_huge_list_is_answered_without_paging_it(
    directory: ExchangeListDirectory, sandbox: SandboxServer, exchange_calls: CallCounter
) -> None:
    all_staff = await directory.get_list("all-staff@contoso.com")
    assert all_staff is not None
    exchange_calls()

    assert (await directory.membership(all_staff, ALEX)).kind is MembershipKind.NONE
    assert exchange_calls() == 1  # one Get-Recipient: the direct test and the member groups
    assert "Get-DistributionGroupMember" not in {r.cmdlet for r in sandbox.requests}


async def test_a_list_record_without_its_dn_is_read_once_more(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    marketing = await directory.get_list("marketing@contoso.com")
    assert marketing is not None
    from_index = type(marketing)(**{**marketing.__dict__, "distinguished_name": ""})
    exchange_calls()

    assert (await directory.membership(from_index, ALEX)).kind is MembershipKind.DIRECT
    assert exchange_calls() == 2


async def test_nobody_is_a_member_of_a_dynamic_group_by_hand(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    dynamic = await directory.get_list("sales-all@contoso.com")
    assert dynamic is not None
    exchange_calls()

    assert (await directory.membership(dynamic, ALEX)).kind is MembershipKind.NONE
    assert exchange_calls() == 0


async def test_a_person_comes_with_name_and_address_for_one_call(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    person = await directory.person(HENRIETTA)

    assert person is not None
    assert (person.object_id, person.display_name, person.address) == (
        HENRIETTA,
        "Henrietta Müller",
        "henriettam@contoso.com",
    )
    assert exchange_calls() == 1


async def test_an_account_without_a_mailbox_is_still_a_person(
    directory: ExchangeListDirectory,
) -> None:
    person = await directory.person("e2acf72f-9e57-4f7a-a0ee-89aed453dd32")

    assert person is not None
    assert (person.display_name, person.address) == ("Backup Service Account", "")


async def test_an_unknown_id_or_a_group_id_is_no_person(directory: ExchangeListDirectory) -> None:
    assert await directory.person("00000000-0000-4000-8000-000000000000") is None
    assert await directory.person(FINANCE_EMEA) is None


async def test_all_lists_pages_every_list_including_dynamic_ones(
    directory: ExchangeListDirectory, exchange_calls: CallCounter
) -> None:
    pages = [page async for page in directory.all_lists()]

    every = [item for page in pages for item in page]
    demo = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    assert sorted(item.name for item in every) == sorted(g["name"] for g in demo["groups"])
    assert {i.kind for i in every} == set(ListKind)
    assert exchange_calls() == 2


# Deep and cyclic nesting, in a tenant of its own -----------------------------------------------


def _tenant(groups: list[dict[str, Any]]) -> Tenant:
    demo = Tenant.demo()
    return Tenant.from_dict(
        {
            "format_version": 1,
            "tenant": {"id": demo.tenant_id, "initial_domain": "contoso.onmicrosoft.com"},
            "apps": [{"client_id": DEMO_APP_ID, "display_name": "dlbot", "secrets": [DEMO_SECRET]}],
            "users": [
                {"id": HENRIETTA, "display_name": "Henrietta Müller", "email": "h@contoso.com"}
            ],
            "groups": groups,
        }
    )


def _group(n: int, members: list[str]) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "name": f"g{n}",
        "display_name": f"Group {n}",
        "members": members,
    }


@asynccontextmanager
async def _directory_for(
    tenant: Tenant, state_dir: Path
) -> AsyncIterator[tuple[ExchangeListDirectory, SandboxServer]]:
    async with SandboxServer(tenant, state_dir=state_dir) as server:
        config = ExchangeConfig(
            base_url=server.base_url,
            authority_host=server.base_url,
            tenant=server.tenant_id,
            client_id=DEMO_APP_ID,
            client_secret=SecretStr(DEMO_SECRET),
            ca_file=server.ca_file,
        )
        async with ExchangeClient(config) as exchange_client:
            yield ExchangeListDirectory(exchange_client), server


async def _membership_in_g1(tenant: Tenant, state_dir: Path) -> Membership:
    async with _directory_for(tenant, state_dir) as (directory, _):
        g1 = await directory.get_list("g1")
        assert g1 is not None
        return await directory.membership(g1, HENRIETTA)


async def test_a_chain_of_three_member_groups_is_followed(sandbox_state_dir: Path) -> None:
    # g1 <- g2 <- g3 <- g4 <- Henrietta: g4 is three levels below g1
    tenant = _tenant(
        [_group(1, ["g2"]), _group(2, ["g3"]), _group(3, ["g4"]), _group(4, ["h@contoso.com"])]
    )

    membership = await _membership_in_g1(tenant, sandbox_state_dir)

    assert membership == Membership(MembershipKind.NESTED, ("Group 2", "Group 3", "Group 4"))


async def test_nesting_deeper_than_three_levels_is_not_followed(sandbox_state_dir: Path) -> None:
    groups = [_group(n, [f"g{n + 1}"]) for n in range(1, 5)] + [_group(5, ["h@contoso.com"])]

    membership = await _membership_in_g1(_tenant(groups), sandbox_state_dir)

    assert membership.kind is MembershipKind.NONE


async def test_groups_nesting_each_other_do_not_loop(sandbox_state_dir: Path) -> None:
    tenant = _tenant([_group(1, ["g2"]), _group(2, ["g1", "g3"]), _group(3, ["g2"])])

    membership = await _membership_in_g1(tenant, sandbox_state_dir)

    assert membership.kind is MembershipKind.NONE


async def test_the_walk_tests_a_bounded_number_of_groups(sandbox_state_dir: Path) -> None:
    # 40 member groups of g1, Henrietta in the last one: past the bound, so not found
    children = [_group(100 + n, []) for n in range(40)]
    children[-1]["members"] = ["h@contoso.com"]
    tenant = _tenant([_group(1, [c["name"] for c in children]), *children])

    async with _directory_for(tenant, sandbox_state_dir) as (directory, server):
        g1 = await directory.get_list("g1")
        assert g1 is not None
        before = len(server.requests)

        membership = await directory.membership(g1, HENRIETTA)

        calls = {r.client_request_id for r in server.requests[before:]}
        assert membership.kind is MembershipKind.NONE
        assert len(calls) <= 2 + 2 * MAX_NESTED_GROUPS
