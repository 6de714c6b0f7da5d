"""The Exchange adapters against the sandbox tenant over loopback HTTPS: who owns the demo
lists, what finding out costs in Exchange calls, and what adding a member says when it fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from approvals.approvers import OwnerApprovers
from approvals.errors import PermanentWriteError, TransientWriteError
from approvals.exchange_adapters import ExchangeMembershipWriter, ExchangeOwnerDirectory
from approvals.models import ListRef, NewList
from approvals.ports import ApproverSet, DirectoryEntry
from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.errors import ObjectNotFound
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant
from tests.approvals import demo
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET, ConfigFactory

FALLBACK = (demo.approver(demo.PATTI, "fallback"),)


def cmdlets(sandbox: SandboxServer) -> list[str | None]:
    return [r.cmdlet for r in sandbox.requests]


def approvers_of(client: ExchangeClient) -> OwnerApprovers:
    return OwnerApprovers(ExchangeOwnerDirectory(client), FALLBACK)


def shown(found: ApproverSet) -> list[tuple[str, str, str, str]]:
    return [(a.object_id, a.display_name, a.address, a.via) for a in found.approvers]


def members(sandbox: SandboxServer, group: str) -> list[str]:
    return [m["primary_smtp_address"] for m in sandbox.tenant.group_snapshot(group)["members"]]


# Owner resolution, one demo list per case ----------------------------------------------------


async def test_finance_emea_is_approved_by_megan_and_lee_for_two_exchange_calls(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    found = await approvers_of(client).current_approvers(demo.FINANCE_EMEA)
    assert shown(found) == [
        (demo.MEGAN.object_id, "Megan Bowen", "meganb@contoso.com", "owner"),
        (demo.LEE.object_id, "Lee Gu", "leeg@contoso.com", "owner"),
    ]
    assert not found.orphaned
    assert cmdlets(sandbox) == ["Get-DistributionGroup", "Get-User"]


async def test_it_announcements_owner_group_gives_adele_and_grady_for_five_calls(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    found = await approvers_of(client).current_approvers(demo.IT_ANNOUNCEMENTS)
    assert [(a.display_name, a.via) for a in found.approvers] == [
        ("Adele Vance", "owner group IT Admins"),
        ("Grady Archie", "owner group IT Admins"),
    ]
    assert cmdlets(sandbox) == [
        "Get-DistributionGroup",
        "Get-User",
        "Get-Recipient",
        "Get-DistributionGroupMember",
        "Get-User",
    ]


async def test_ownerless_former_interns_goes_to_the_fallback_for_one_call(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    found = await approvers_of(client).current_approvers(demo.FORMER_INTERNS)
    assert found.orphaned and found.approvers == FALLBACK
    assert cmdlets(sandbox) == ["Get-DistributionGroup"]


async def test_project_atlas_whose_only_owner_is_disabled_goes_to_the_fallback(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    found = await approvers_of(client).current_approvers(demo.PROJECT_ATLAS)
    assert found.orphaned and found.approvers == FALLBACK
    assert cmdlets(sandbox) == ["Get-DistributionGroup", "Get-User"]


async def test_sales_team_owners_named_by_legacy_names_are_found_for_two_calls(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    found = await approvers_of(client).current_approvers(demo.SALES_TEAM)
    assert [(a.object_id, a.display_name) for a in found.approvers] == [
        (demo.JOHN.object_id, "John Doe"),
        (demo.ANNA.object_id, "Anna Smith"),
    ]
    assert cmdlets(sandbox) == ["Get-DistributionGroup", "Get-User"]


async def test_the_directory_reports_a_disabled_owner_as_disabled(client: ExchangeClient) -> None:
    owners = await ExchangeOwnerDirectory(client).owners(demo.PROJECT_ATLAS)
    assert owners == [
        DirectoryEntry(demo.JONI.object_id, "Joni Sherman", "jonis@contoso.com", disabled=True)
    ]


async def test_the_directory_reports_an_owner_group_as_a_group(client: ExchangeClient) -> None:
    owners = await ExchangeOwnerDirectory(client).owners(demo.IT_ANNOUNCEMENTS)
    assert owners == [
        DirectoryEntry(demo.IT_ADMINS_ID, "IT Admins", "it-admins@contoso.com", is_group=True)
    ]


async def test_a_list_that_no_longer_exists_is_an_exchange_error(client: ExchangeClient) -> None:
    with pytest.raises(ObjectNotFound):
        await ExchangeOwnerDirectory(client).owners(demo.MISSING_LIST)


# Owner resolution on a tenant made for the edge cases ----------------------------------------

ODD_LIST = ListRef(
    object_id="0b0c0d0e-0000-4000-8000-00000000a001",
    address="odd-owners@contoso.com",
    display_name="Odd Owners",
)
DARCY_ID = "0b0c0d0e-0000-4000-8000-00000000b001"
MANY = [f"0b0c0d0e-0000-4000-8000-0000000c{n:04d}" for n in range(60)]


def _odd_tenant() -> Tenant:
    data: dict[str, Any] = json.loads(
        (Path(__file__).parents[2] / "exchange/sandbox/demo-tenant.json").read_text("utf-8")
    )
    data["users"] += [
        {
            "id": DARCY_ID,
            "name": "d'arcy",
            "display_name": "Sam D'Arcy",
            "email": "sam.darcy@contoso.com",
        },
        *(
            {"id": object_id, "display_name": f"Owner {n}", "email": f"owner{n}@contoso.com"}
            for n, object_id in enumerate(MANY)
        ),
    ]
    data["groups"].append(
        {
            "id": ODD_LIST.object_id,
            "name": "odd-owners",
            "display_name": "Odd Owners",
            "email": "odd-owners@contoso.com",
            # A legacy name with a quote, 60 people, a shared mailbox, and an owner group.
            "managed_by": ["d'arcy", *MANY, "finance-team@contoso.com", "it-admins@contoso.com"],
            "member_join_restriction": "ApprovalRequired",
        }
    )
    return Tenant.from_dict(data)


@pytest.fixture
async def odd_sandbox(sandbox_state_dir: Path) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(_odd_tenant(), state_dir=sandbox_state_dir) as server:
        yield server


@pytest.fixture
async def odd_client(odd_sandbox: SandboxServer) -> AsyncIterator[ExchangeClient]:
    config = ExchangeConfig(
        base_url=odd_sandbox.base_url,
        authority_host=odd_sandbox.base_url,
        tenant=odd_sandbox.tenant_id,
        client_id=DEMO_APP_ID,
        client_secret=SecretStr(DEMO_SECRET),
        ca_file=odd_sandbox.ca_file,
        retry_backoff_seconds=0.01,
    )
    async with ExchangeClient(config) as exchange_client:
        yield exchange_client


async def test_owners_by_the_dozen_with_quotes_shared_mailboxes_and_groups_are_sorted_out(
    odd_sandbox: SandboxServer, odd_client: ExchangeClient
) -> None:
    owners = await ExchangeOwnerDirectory(odd_client).owners(ODD_LIST)

    people = [o.object_id for o in owners if not o.is_group]
    assert people == [DARCY_ID, *MANY]  # the shared mailbox cannot approve: left out
    assert [o.display_name for o in owners if o.is_group] == ["IT Admins"]
    # 61 names for Get-User go in two filters of at most 50; the rest in one Get-Recipient.
    assert cmdlets(odd_sandbox) == [
        "Get-DistributionGroup",
        "Get-User",
        "Get-User",
        "Get-Recipient",
    ]


# Adding a member -----------------------------------------------------------------------------


async def test_adding_a_member_reports_added_with_the_exchange_request_id(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    result = await ExchangeMembershipWriter(client).add_member(demo.FINANCE_EMEA, demo.ALEX)

    assert result.outcome == "added"
    assert result.exchange_request_id == sandbox.requests[-1].client_request_id
    assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1
    parameters = sandbox.requests[-1].parameters
    assert parameters is not None
    assert (parameters["Identity"], parameters["Member"]) == (
        demo.FINANCE_EMEA.object_id,
        demo.ALEX.object_id,
    )


async def test_adding_someone_already_a_member_is_success(client: ExchangeClient) -> None:
    writer = ExchangeMembershipWriter(client)
    await writer.add_member(demo.FINANCE_EMEA, demo.ALEX)
    assert (await writer.add_member(demo.FINANCE_EMEA, demo.ALEX)).outcome == "already_member"


async def test_an_add_whose_answer_was_lost_is_added_once(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("drop_after_execute", cmdlet="Add-DistributionGroupMember", count=1))
    result = await ExchangeMembershipWriter(client).add_member(demo.FINANCE_EMEA, demo.ALEX)
    assert result.outcome == "added"
    assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1


async def test_a_list_synced_from_on_premises_fails_for_good_saying_where_to_change_it(
    client: ExchangeClient,
) -> None:
    with pytest.raises(PermanentWriteError) as failed:
        await ExchangeMembershipWriter(client).add_member(demo.ONPREM_ENGINEERING, demo.ALEX)
    assert "on-premises Active Directory" in failed.value.message
    assert "Alex Wilber" in failed.value.message
    assert failed.value.exchange_request_id


async def test_a_list_that_is_gone_fails_for_good_saying_so(client: ExchangeClient) -> None:
    with pytest.raises(PermanentWriteError) as failed:
        await ExchangeMembershipWriter(client).add_member(demo.MISSING_LIST, demo.ALEX)
    assert "no longer finds Gone (gone@contoso.com)" in failed.value.message


async def test_a_role_without_the_cmdlet_fails_for_good_naming_what_to_grant(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.tenant.apps[DEMO_APP_ID].granted_cmdlets = {"Get-DistributionGroup"}
    with pytest.raises(PermanentWriteError) as failed:
        await ExchangeMembershipWriter(client).add_member(demo.FINANCE_EMEA, demo.ALEX)
    assert "role does not allow Add-DistributionGroupMember" in failed.value.message


async def test_an_exchange_bug_fails_for_good_with_exchanges_words(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("server_error_500", cmdlet="Add-DistributionGroupMember", count=1))
    with pytest.raises(PermanentWriteError) as failed:
        await ExchangeMembershipWriter(client).add_member(demo.FINANCE_EMEA, demo.ALEX)
    assert failed.value.message.startswith("Exchange refused to add Alex Wilber to Finance EMEA")


async def test_exchange_unavailable_through_every_retry_is_worth_trying_later(
    sandbox: SandboxServer, make_config: ConfigFactory
) -> None:
    sandbox.inject(Fault("unavailable", cmdlet="Add-DistributionGroupMember"))
    async with ExchangeClient(make_config(max_retries=1)) as client:
        with pytest.raises(TransientWriteError) as failed:
            await ExchangeMembershipWriter(client).add_member(demo.FINANCE_EMEA, demo.ALEX)
    assert failed.value.exchange_request_id == sandbox.requests[-1].client_request_id
    assert "alexw@contoso.com" not in members(sandbox, "finance-emea")


# Removing a member and creating a list ------------------------------------------------------


async def test_removing_a_member_reports_removed_then_not_a_member(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    writer = ExchangeMembershipWriter(client)
    await writer.add_member(demo.FINANCE_EMEA, demo.ALEX)
    assert (await writer.remove_member(demo.FINANCE_EMEA, demo.ALEX)).outcome == "removed"
    assert "alexw@contoso.com" not in members(sandbox, "finance-emea")
    again = await writer.remove_member(demo.FINANCE_EMEA, demo.ALEX)
    assert again.outcome == "not_a_member"
    assert again.exchange_request_id == sandbox.requests[-1].client_request_id


async def test_removing_from_a_list_synced_from_on_premises_fails_for_good_saying_so(
    client: ExchangeClient,
) -> None:
    with pytest.raises(PermanentWriteError) as failed:
        await ExchangeMembershipWriter(client).remove_member(demo.ONPREM_ENGINEERING, demo.ALEX)
    assert "an admin must remove Alex Wilber from it there" in failed.value.message


Q3_LAUNCH = NewList(
    name="Q3 Launch",
    display_name="Q3 Launch",
    alias="q3-launch",
    address="q3-launch@contoso.com",
    description="Everyone working on the Q3 launch",
    owners=(demo.ALEX, demo.MEGAN),
    members=(demo.LEE,),
    join_restriction="ApprovalRequired",
)


async def test_creating_a_list_makes_it_as_asked_and_names_it(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    result = await ExchangeMembershipWriter(client).create_list(Q3_LAUNCH, may_already_exist=False)

    assert result.outcome == "created" and result.created is not None
    made = sandbox.tenant.group_snapshot("Q3 Launch")
    assert result.created.object_id == made["external_directory_object_id"]
    assert result.created.address == "q3-launch@contoso.com"
    assert made["member_join_restriction"] == "ApprovalRequired"
    assert made["require_sender_authentication_enabled"] is True
    assert [m["primary_smtp_address"] for m in made["members"]] == ["leeg@contoso.com"]
    parameters = sandbox.requests[-1].parameters
    assert parameters is not None
    assert parameters["ManagedBy"] == [demo.ALEX.object_id, demo.MEGAN.object_id]
    assert "IgnoreNamingPolicy" not in parameters


async def test_a_create_replayed_after_a_lost_answer_is_success_and_makes_one_list(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    writer = ExchangeMembershipWriter(client)
    first = await writer.create_list(Q3_LAUNCH, may_already_exist=False)
    # The worker's earlier attempt made the list but never heard back: the retry finds it.
    again = await writer.create_list(Q3_LAUNCH, may_already_exist=True)
    assert again.outcome == "created"
    assert again.created == first.created
    assert cmdlets(sandbox).count("New-DistributionGroup") == 2


async def test_a_name_taken_by_someone_else_fails_for_good_saying_so(
    client: ExchangeClient,
) -> None:
    taken = Q3_LAUNCH.model_copy(update={"name": "finance-emea", "address": "x1@contoso.com"})
    with pytest.raises(PermanentWriteError) as failed:
        await ExchangeMembershipWriter(client).create_list(taken, may_already_exist=True)
    assert "was taken by another recipient" in failed.value.message
