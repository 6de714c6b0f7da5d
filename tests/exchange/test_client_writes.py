"""Writes that run once: idempotent membership changes, creation that survives a lost response."""

from __future__ import annotations

import pytest

from exchange.client import ExchangeClient
from exchange.errors import (
    AddressInUse,
    DirSyncedObject,
    ExchangePermissionError,
    InvalidParameter,
    MemberAlreadyExists,
    NameInUse,
    NotGroupManager,
    ObjectNotFound,
)
from exchange.models import MembershipOutcome, NewDistributionGroup
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from tests.exchange.conftest import ALEX, DEMO_APP_ID


def _member_addresses(sandbox: SandboxServer, group: str) -> list[str]:
    snapshot = sandbox.tenant.group_snapshot(group)
    return [m["primary_smtp_address"] for m in snapshot["members"]]


async def test_adding_a_member_changes_the_tenant_and_a_second_add_is_already_done(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    first = await client.add_distribution_group_member("finance-emea@contoso.com", ALEX)
    second = await client.add_distribution_group_member("finance-emea@contoso.com", ALEX)

    assert first.outcome is MembershipOutcome.ADDED
    assert second.outcome is MembershipOutcome.ALREADY_MEMBER
    assert _member_addresses(sandbox, "finance-emea").count("alexw@contoso.com") == 1
    assert first.request_id != second.request_id


async def test_an_add_whose_response_was_lost_is_replayed_and_reported_as_added(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("drop_after_execute", cmdlet="Add-DistributionGroupMember", count=1))

    change = await client.add_distribution_group_member("finance-emea@contoso.com", ALEX)

    assert change.outcome is MembershipOutcome.ADDED
    assert _member_addresses(sandbox, "finance-emea").count("alexw@contoso.com") == 1
    calls = [r for r in sandbox.requests if r.cmdlet == "Add-DistributionGroupMember"]
    assert len(calls) == 2 and len({c.client_request_id for c in calls}) == 1


async def test_removing_a_member_and_removing_again_is_not_a_member(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    first = await client.remove_distribution_group_member("marketing@contoso.com", ALEX)
    second = await client.remove_distribution_group_member("marketing@contoso.com", ALEX)

    assert first.outcome is MembershipOutcome.REMOVED
    assert second.outcome is MembershipOutcome.NOT_A_MEMBER
    assert "alexw@contoso.com" not in _member_addresses(sandbox, "marketing")
    removal = [r for r in sandbox.requests if r.cmdlet == "Remove-DistributionGroupMember"][0]
    assert removal.parameters is not None and removal.parameters["Confirm"] is False


async def test_writing_to_a_group_synced_from_on_premises_fails_clearly(
    client: ExchangeClient,
) -> None:
    with pytest.raises(DirSyncedObject):
        await client.add_distribution_group_member("onprem-engineering@contoso.com", ALEX)


async def test_a_write_without_the_manager_bypass_is_refused_as_not_a_manager(
    client: ExchangeClient,
) -> None:
    with pytest.raises(NotGroupManager):
        await client.call_cmdlet(
            "Add-DistributionGroupMember",
            {"Identity": "finance-emea@contoso.com", "Member": ALEX},
        )


async def test_adding_to_a_group_that_does_not_exist_is_object_not_found(
    client: ExchangeClient,
) -> None:
    with pytest.raises(ObjectNotFound):
        await client.add_distribution_group_member("nope@contoso.com", ALEX)


async def test_a_cmdlet_the_role_does_not_grant_is_a_permission_error(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.tenant.apps[DEMO_APP_ID].granted_cmdlets = {"Get-DistributionGroup"}

    with pytest.raises(ExchangePermissionError) as caught:
        await client.add_distribution_group_member("finance-emea@contoso.com", ALEX)

    assert "Add-DistributionGroupMember" in caught.value.message


async def test_an_empty_403_is_a_permission_error_with_the_diagnostics(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("empty_403", cmdlet="*", count=1))

    with pytest.raises(ExchangePermissionError) as caught:
        await client.get_distribution_group("finance-emea@contoso.com")

    assert caught.value.status == 403 and caught.value.message != "(empty body)"


async def test_an_unknown_parameter_is_an_invalid_parameter(client: ExchangeClient) -> None:
    with pytest.raises(InvalidParameter):
        await client.call_cmdlet("Get-DistributionGroup", {"NoSuchParameter": "x"})


def _spec(name: str = "q3-launch", address: str = "q3-launch@contoso.com") -> NewDistributionGroup:
    return NewDistributionGroup(
        name=name,
        alias=name,
        display_name="Q3 Launch",
        primary_smtp_address=address,
        managed_by=[ALEX],
        members=[ALEX],
        member_join_restriction="ApprovalRequired",
    )


async def test_a_new_group_is_created_with_owners_members_and_restrictions(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    created = await client.new_distribution_group(_spec())

    assert created.group.name == "q3-launch" and not created.recovered_after_lost_response
    group = await client.get_distribution_group("q3-launch@contoso.com")
    assert group.member_join_restriction == "ApprovalRequired"
    assert group.require_sender_authentication_enabled is True
    assert ALEX in group.managed_by
    assert _member_addresses(sandbox, "q3-launch") == ["alexw@contoso.com"]


async def test_a_lost_creation_response_ends_with_exactly_one_group(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("drop_after_execute", cmdlet="New-DistributionGroup", count=1))

    created = await client.new_distribution_group(_spec())

    assert created.recovered_after_lost_response
    assert created.group.primary_smtp_address == "q3-launch@contoso.com"
    matches = await client.find_distribution_groups(anr="q3-launch")
    assert [g.name for g in matches] == ["q3-launch"]


async def test_a_name_already_taken_is_a_collision_not_a_success(client: ExchangeClient) -> None:
    with pytest.raises(NameInUse):
        await client.new_distribution_group(_spec(name="finance-emea", address="fe2@contoso.com"))


async def test_a_taken_address_is_a_collision_even_when_a_replay_was_possible(
    client: ExchangeClient,
) -> None:
    # The caller says an earlier attempt may have created it, but the group holding the
    # address is someone else's: that must still be reported as taken.
    with pytest.raises(AddressInUse):
        await client.new_distribution_group(
            _spec(name="brand-new", address="finance-emea@contoso.com"), may_already_exist=True
        )


async def test_already_a_member_is_its_own_error_when_asked_for_raw(
    client: ExchangeClient,
) -> None:
    with pytest.raises(MemberAlreadyExists):
        await client.call_cmdlet(
            "Add-DistributionGroupMember",
            {
                "Identity": "marketing@contoso.com",
                "Member": ALEX,
                "BypassSecurityGroupManagerCheck": True,
            },
        )
