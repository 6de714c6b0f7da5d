"""Cmdlet semantics of the sandbox tenant, called the way the server calls them (no HTTP)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from exchange.sandbox.cmdlet_outcome import CmdletError, CmdletResult
from exchange.sandbox.cmdlets import DEFAULT_SIZE_WARNING, EXPLICIT_SIZE_WARNING
from exchange.sandbox.generate import generate_tenant
from exchange.sandbox.tenant import NamingPolicy, Tenant

APP = "913f363f-a3cf-4f31-9f81-0164ec18b77b"
ALEX = "9e986098-d981-4a25-9a89-5bf689ff5e3c"
MEGAN = "610e5c9f-cf2a-4499-b142-baecacdfc76e"
LEE = "069165b6-f31a-45ec-9da9-6372c99dfd5d"
HENRIETTA = "6b65a6a4-8b81-48f6-b38a-088ca65ed389"
DC = "AM6PR01A001DC03.EURPR01A001.PROD.OUTLOOK.COM"
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
BINDING = "System.Management.Automation.ParameterBindingException"


@pytest.fixture(scope="module")
def demo() -> Tenant:
    """Shared by the read-only tests; tests that write take `tenant` instead."""
    return Tenant.demo()


@pytest.fixture
def tenant() -> Tenant:
    return Tenant.demo()


def run(t: Tenant, cmdlet: str, **params: Any) -> CmdletResult:
    return t.execute(cmdlet, params, app_id=APP)


def fails(t: Tenant, cmdlet: str, **params: Any) -> CmdletError:
    with pytest.raises(CmdletError) as caught:
        run(t, cmdlet, **params)
    return caught.value


def names(result: CmdletResult) -> list[str]:
    return [o["Name"] for o in result.objects]


def group(t: Tenant, identity: str) -> dict[str, Any]:
    (obj,) = run(t, "Get-DistributionGroup", Identity=identity).objects
    return obj


def member_names(t: Tenant, identity: str) -> list[str]:
    return [m["name"] for m in t.group_snapshot(identity)["members"]]


# --- dispatch, binding, RBAC -----------------------------------------------------------------


def test_an_unknown_cmdlet_is_not_recognized(demo: Tenant) -> None:
    error = fails(demo, "Get-Mailboxx")
    assert error.status == 400
    assert error.exception_type == "System.Management.Automation.CommandNotFoundException"
    assert error.message.startswith(
        "The term 'Get-Mailboxx' is not recognized as a name of a cmdlet"
    )


def test_cmdlet_names_ignore_case(demo: Tenant) -> None:
    assert names(run(demo, "get-distributiongroup", Identity="finance-emea")) == ["finance-emea"]


def test_an_unknown_parameter_is_a_parameter_binding_error(demo: Tenant) -> None:
    error = fails(demo, "Get-DistributionGroup", Colour="blue")
    assert (error.status, error.exception_type) == (400, BINDING)
    assert error.message == "A parameter cannot be found that matches parameter name 'Colour'."


def test_parameter_names_ignore_case(demo: Tenant) -> None:
    result = demo.execute("Get-DistributionGroup", {"identity": "finance-emea"}, app_id=APP)
    assert names(result) == ["finance-emea"]


def test_annotation_keys_among_parameters_are_ignored(demo: Tenant) -> None:
    params = {"Identity": "finance-emea", "Identity@odata.type": "#String"}
    assert names(demo.execute("Get-DistributionGroup", params, app_id=APP)) == ["finance-emea"]


def test_powershell_common_parameters_are_accepted(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup", Identity="finance-emea", ErrorAction="Stop")
    assert names(result) == ["finance-emea"]


def test_a_missing_mandatory_parameter_is_named(demo: Tenant) -> None:
    error = fails(demo, "Add-DistributionGroupMember", Identity="finance-emea")
    assert error.exception_type == BINDING
    assert error.message.endswith("missing mandatory parameters: Member.")


def test_identity_and_anr_together_cannot_resolve_a_parameter_set(demo: Tenant) -> None:
    error = fails(demo, "Get-DistributionGroup", Identity="finance-emea", Anr="fin")
    assert error.message.startswith("Parameter set cannot be resolved")


def test_a_switch_given_a_string_is_refused(demo: Tenant) -> None:
    error = fails(
        demo,
        "Get-DistributionGroup",
        Identity="finance-emea",
        IncludeManagedByWithDisplayNames="yes",
    )
    assert "Boolean parameters accept only Boolean values" in error.message


def test_an_array_for_a_single_valued_parameter_is_refused(demo: Tenant) -> None:
    error = fails(demo, "Get-DistributionGroup", Identity=["a", "b"])
    assert "Cannot convert 'System.Object[]' to the type 'System.String'" in error.message


def test_an_empty_identity_is_refused(demo: Tenant) -> None:
    error = fails(demo, "Get-DistributionGroup", Identity="")
    assert error.message == (
        "Cannot bind argument to parameter 'Identity' because it is an empty string."
    )


@pytest.mark.parametrize("size", ["lots", 0, -5, True])
def test_an_invalid_result_size_is_refused(demo: Tenant, size: object) -> None:
    error = fails(demo, "Get-DistributionGroup", ResultSize=size)
    assert error.exception_type == BINDING and "'ResultSize'" in error.message


def test_an_unknown_recipient_type_is_refused_with_the_valid_names(demo: Tenant) -> None:
    error = fails(demo, "Get-Recipient", RecipientTypeDetails="Mailbox")
    assert "Unable to match the identifier name Mailbox" in error.message
    assert "UserMailbox" in error.message


def test_a_cmdlet_outside_the_apps_role_is_forbidden_with_diagnostics(tenant: Tenant) -> None:
    tenant.apps[APP].granted_cmdlets = {"Get-DistributionGroup"}
    error = fails(tenant, "Add-DistributionGroupMember", Identity="finance-emea", Member=ALEX)
    assert (error.status, error.exception_type) == (403, "")
    assert error.message == "User is not allowed to call Add-DistributionGroupMember"
    assert "User is not allowed to call" in error.headers["x-ms-diagnostics"]


def test_a_granted_cmdlet_still_runs_under_a_restricted_role(tenant: Tenant) -> None:
    tenant.apps[APP].granted_cmdlets = {"get-distributiongroup"}
    assert names(run(tenant, "Get-DistributionGroup", Identity="finance-emea")) == ["finance-emea"]


def test_an_unregistered_app_is_forbidden(demo: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        demo.execute("Get-AcceptedDomain", {}, app_id="00000000-0000-0000-0000-000000000000")
    assert caught.value.status == 403
    assert "isn't supported in this scenario" in caught.value.message


# --- identity resolution ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "identity",
    [
        "finance-emea",  # Name
        "FINANCE-EMEA",  # case-insensitive
        "Finance EMEA",  # DisplayName
        "finance-emea@contoso.com",  # PrimarySmtpAddress
        "smtp:finance-emea@contoso.onmicrosoft.com",  # a proxy address, with its prefix
        "a9488d99-0bbb-4599-91ce-5dd2b45ed1f0",  # ExternalDirectoryObjectId
        "CN=finance-emea,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange Hosted Organizations,"
        "DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM",  # DistinguishedName
    ],
)
def test_a_group_is_found_by_any_of_its_identities(demo: Tenant, identity: str) -> None:
    assert group(demo, identity)["Name"] == "finance-emea"


def test_a_group_is_found_by_its_exchange_guid(demo: Tenant) -> None:
    guid = group(demo, "finance-emea")["Guid"]
    assert group(demo, guid.upper())["Name"] == "finance-emea"


def test_an_identity_naming_two_groups_is_ambiguous(demo: Tenant) -> None:
    error = fails(demo, "Get-DistributionGroup", Identity="marketing")
    assert error.status == 400
    assert error.exception_type.endswith("ManagementObjectAmbiguousException")
    assert error.message == (
        "The operation couldn't be performed because 'marketing' matches multiple entries."
    )


def test_an_unknown_identity_is_not_found_on_the_domain_controller(demo: Tenant) -> None:
    error = fails(demo, "Get-DistributionGroup", Identity="nobody@contoso.com")
    assert (error.status, error.exception_type, error.error_id) == (404, NOT_FOUND, "Ex6F9304")
    assert error.not_found
    assert error.message == (
        "The operation couldn't be performed because object 'nobody@contoso.com' couldn't be "
        f"found on '{DC}'."
    )


def test_a_user_is_not_found_by_get_distribution_group(demo: Tenant) -> None:
    assert fails(demo, "Get-DistributionGroup", Identity="alexw@contoso.com").not_found


def test_a_wildcard_identity_returns_every_match(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup", Identity="engineering-*")
    assert names(result) == ["engineering-all", "engineering-platform"]


def test_two_people_with_one_display_name_are_ambiguous(demo: Tenant) -> None:
    error = fails(demo, "Get-Recipient", Identity="Chris Green")
    assert error.exception_type.endswith("ManagementObjectAmbiguousException")


# --- Get-DistributionGroup -------------------------------------------------------------------


def test_a_group_object_carries_the_wire_annotations(demo: Tenant) -> None:
    obj = group(demo, "finance-emea")
    assert obj["EmailAddresses@odata.type"] == "#Collection(String)"
    assert obj["ManagedBy@odata.type"] == "#Collection(String)"
    assert obj["Description@odata.type"] == "#Collection(String)"
    assert obj["Guid@data.type"] == "System.Guid"
    assert obj["WhenCreated@data.type"] == "System.DateTime"


def test_a_group_object_has_identity_and_id_equal_to_its_name(demo: Tenant) -> None:
    obj = group(demo, "finance-emea")
    assert obj["Identity"] == obj["Id"] == obj["Name"] == "finance-emea"


def test_group_dates_are_in_dotnet_round_trip_format(demo: Tenant) -> None:
    obj = group(demo, "onprem-engineering")
    assert obj["WhenCreated"] == "2019-05-06T09:00:00.0000000+00:00"
    assert obj["WhenCreatedUTC"] == "2019-05-06T09:00:00.0000000Z"


def test_email_addresses_list_the_primary_first_in_capitals(demo: Tenant) -> None:
    assert group(demo, "finance-emea")["EmailAddresses"] == [
        "SMTP:finance-emea@contoso.com",
        "smtp:finance-emea@contoso.onmicrosoft.com",
    ]


def test_managed_by_holds_guid_names_for_new_style_owners(demo: Tenant) -> None:
    assert group(demo, "finance-emea")["ManagedBy"] == [MEGAN, LEE]


def test_managed_by_holds_human_names_for_legacy_owners(demo: Tenant) -> None:
    assert group(demo, "sales-team")["ManagedBy"] == ["jdoe", "asmith"]


def test_managed_by_with_display_names_is_only_filled_when_asked(demo: Tenant) -> None:
    (plain,) = run(demo, "Get-DistributionGroup", Identity="finance-emea").objects
    (named,) = run(
        demo,
        "Get-DistributionGroup",
        Identity="finance-emea",
        IncludeManagedByWithDisplayNames=True,
    ).objects
    assert "ManagedByWithDisplayNames" not in plain
    assert named["ManagedByWithDisplayNames"] == [
        "Megan Bowen <meganb@contoso.com>",
        "Lee Gu <leeg@contoso.com>",
    ]


def test_a_hidden_group_is_still_returned_to_an_admin(demo: Tenant) -> None:
    assert group(demo, "exec-assistants")["HiddenFromAddressListsEnabled"] is True


def test_room_lists_and_security_groups_are_distribution_groups_too(demo: Tenant) -> None:
    rooms, security = group(demo, "building-1-rooms"), group(demo, "vpn-users")
    assert rooms["RecipientTypeDetails"] == "RoomList"
    assert rooms["RecipientType"] == "MailUniversalDistributionGroup"
    assert security["RecipientTypeDetails"] == "MailUniversalSecurityGroup"
    assert security["GroupType"] == "Universal, SecurityEnabled"


def test_a_dynamic_group_is_only_seen_by_get_recipient(demo: Tenant) -> None:
    assert fails(demo, "Get-DistributionGroup", Identity="sales-all@contoso.com").not_found
    (obj,) = run(demo, "Get-Recipient", Identity="sales-all@contoso.com").objects
    assert obj["RecipientTypeDetails"] == "DynamicDistributionGroup"


def test_recipient_type_details_narrows_the_list(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup", RecipientTypeDetails=["RoomList"])
    assert names(result) == ["building-1-rooms"]


def test_anr_matches_the_start_of_a_display_name_ignoring_case(demo: Tenant) -> None:
    assert names(run(demo, "Get-DistributionGroup", Anr="finance e")) == ["finance-emea"]


def test_anr_does_not_match_the_middle_of_a_name(demo: Tenant) -> None:
    assert names(run(demo, "Get-DistributionGroup", Anr="emea")) == []


def test_a_filter_on_the_primary_address_finds_one_group(demo: Tenant) -> None:
    result = run(
        demo, "Get-DistributionGroup", Filter="PrimarySmtpAddress -eq 'book-club@contoso.com'"
    )
    assert names(result) == ["book-club"]


def test_a_like_filter_finds_groups_by_prefix(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup", Filter="Name -like 'engineering-*'")
    assert names(result) == ["engineering-all", "engineering-platform"]


def test_an_escaped_injection_attempt_in_a_filter_matches_nothing(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup", Filter="Name -eq 'x'' -or Name -like ''*'")
    assert result.objects == []


def test_a_filter_narrows_an_anr_search(demo: Tenant) -> None:
    result = run(
        demo, "Get-DistributionGroup", Anr="engineering", Filter="MemberJoinRestriction -eq 'Open'"
    )
    assert names(result) == []


def test_a_filter_finds_ownerless_groups_with_managed_by_null(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup", Filter="ManagedBy -eq $null")
    assert names(result) == ["former-interns", "building-1-rooms"]


def test_a_filter_on_managed_by_takes_the_owners_distinguished_name(demo: Tenant) -> None:
    megan_dn = run(demo, "Get-Recipient", Identity=MEGAN).objects[0]["DistinguishedName"]
    result = run(demo, "Get-DistributionGroup", Filter=f"ManagedBy -eq '{megan_dn}'")
    assert names(result) == ["finance-emea", "marketing-eu"]


def test_a_filter_on_a_person_property_is_not_filterable_for_groups(demo: Tenant) -> None:
    error = fails(demo, "Get-DistributionGroup", Filter="FirstName -eq 'Alex'")
    assert '"FirstName" is not a recognized filterable property' in error.message


def test_non_ascii_names_survive_a_json_round_trip(demo: Tenant) -> None:
    obj = json.loads(json.dumps(group(demo, "Zürich-Team"), ensure_ascii=False))
    assert obj["DisplayName"] == "Zürich § Team 🎉"
    assert obj["Description"] == ["Équipe de Zürich — Grüezi mitenand! 🎉"]
    assert group(demo, "Zürich § Team 🎉")["Name"] == "Zürich-Team"


# --- ResultSize ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_lists() -> Tenant:
    return Tenant.from_dict(generate_tenant(lists=1200, users=20, seed=3))


def test_more_than_1000_results_are_cut_to_1000_with_the_default_warning(
    many_lists: Tenant,
) -> None:
    result = run(many_lists, "Get-DistributionGroup")
    assert len(result.objects) == 1000
    assert result.warnings == [DEFAULT_SIZE_WARNING.format(n=1000)]
    assert result.warnings[0].startswith("By default, only the first 1000 items are returned.")


def test_an_explicit_result_size_cuts_with_the_more_results_warning(many_lists: Tenant) -> None:
    result = run(many_lists, "Get-DistributionGroup", ResultSize=50)
    assert len(result.objects) == 50
    assert result.warnings == [EXPLICIT_SIZE_WARNING]


def test_unlimited_returns_everything_without_a_warning(many_lists: Tenant) -> None:
    result = run(many_lists, "Get-DistributionGroup", ResultSize="Unlimited")
    assert (len(result.objects), result.warnings) == (1200, [])


def test_a_result_size_given_as_a_string_is_accepted(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup", ResultSize="3")
    assert len(result.objects) == 3 and result.warnings == [EXPLICIT_SIZE_WARNING]


def test_a_result_under_the_default_size_has_no_warning(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroup")
    assert len(result.objects) == 19 and result.warnings == []


# --- Get-DistributionGroupMember -------------------------------------------------------------


def test_members_are_direct_and_a_nested_group_appears_as_a_group(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroupMember", Identity="engineering@contoso.com")
    kinds = {o["Name"]: o["RecipientTypeDetails"] for o in result.objects}
    assert kinds["engineering-platform"] == "MailUniversalDistributionGroup"
    assert HENRIETTA not in kinds  # only a member of the nested group


def test_the_5000_member_list_returns_1000_by_default_with_the_warning(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroupMember", Identity="all-staff@contoso.com")
    assert len(result.objects) == 1000
    assert result.warnings == [DEFAULT_SIZE_WARNING.format(n=1000)]


def test_the_5000_member_list_is_listed_whole_in_well_under_a_second(demo: Tenant) -> None:
    started = time.perf_counter()
    result = run(
        demo,
        "Get-DistributionGroupMember",
        Identity="all-staff@contoso.com",
        ResultSize="Unlimited",
    )
    assert len(result.objects) == 5000
    assert len({o["ExternalDirectoryObjectId"] for o in result.objects}) == 5000
    assert time.perf_counter() - started < 1.0


def test_a_member_without_a_mailbox_has_an_empty_primary_address(demo: Tenant) -> None:
    result = run(demo, "Get-DistributionGroupMember", Identity="vpn-users")
    (service,) = [o for o in result.objects if o["Name"] == "svc-backup"]
    assert (service["PrimarySmtpAddress"], service["RecipientType"]) == ("", "User")


def test_members_of_a_dynamic_group_are_not_found_here(demo: Tenant) -> None:
    assert fails(demo, "Get-DistributionGroupMember", Identity="sales-all@contoso.com").not_found


# --- Get-Recipient ---------------------------------------------------------------------------


def _member_filter(t: Tenant, group_identity: str, object_id: str) -> str:
    dn = group(t, group_identity)["DistinguishedName"]
    return f"MemberOfGroup -eq '{dn}' -and ExternalDirectoryObjectId -eq '{object_id}'"


def test_member_of_group_finds_a_direct_member(demo: Tenant) -> None:
    result = run(demo, "Get-Recipient", Filter=_member_filter(demo, "marketing@contoso.com", ALEX))
    assert [o["ExternalDirectoryObjectId"] for o in result.objects] == [ALEX]


def test_member_of_group_finds_nobody_for_a_non_member(demo: Tenant) -> None:
    result = run(demo, "Get-Recipient", Filter=_member_filter(demo, "finance-emea", ALEX))
    assert result.objects == []


def test_member_of_group_does_not_count_nested_membership(demo: Tenant) -> None:
    result = run(demo, "Get-Recipient", Filter=_member_filter(demo, "engineering-all", HENRIETTA))
    assert result.objects == []


def test_member_of_group_on_the_5000_list_answers_quickly(demo: Tenant) -> None:
    dn = group(demo, "all-staff@contoso.com")["DistinguishedName"]
    started = time.perf_counter()
    result = run(demo, "Get-Recipient", Filter=f"MemberOfGroup -eq '{dn}'", ResultSize=10)
    assert len(result.objects) == 10 and time.perf_counter() - started < 0.5


def test_member_of_group_needs_a_distinguished_name(demo: Tenant) -> None:
    error = fails(demo, "Get-Recipient", Filter="MemberOfGroup -eq 'finance-emea'")
    assert error.exception_type == BINDING and "distinguished name" in error.message


@pytest.mark.parametrize(
    "value", ["asmith@contoso.com", "smtp:asmith@contoso.com", "SMTP:ANNA.SMITH@contoso.com"]
)
def test_email_addresses_eq_matches_with_or_without_the_prefix(demo: Tenant, value: str) -> None:
    result = run(demo, "Get-Recipient", Filter=f"EmailAddresses -eq '{value}'")
    assert names(result) == ["asmith"]


def test_a_mail_contact_and_a_guest_are_recipients(demo: Tenant) -> None:
    contacts = run(demo, "Get-Recipient", RecipientTypeDetails="MailContact")
    guests = run(demo, "Get-Recipient", RecipientTypeDetails="GuestMailUser")
    assert names(contacts) == ["Ravi Kumar (Northwind)"]
    assert guests.objects[0]["PrimarySmtpAddress"] == "kai.carter@fabrikam.com"


def test_users_without_a_mailbox_are_only_listed_when_asked_for(demo: Tenant) -> None:
    everyone = names(run(demo, "Get-Recipient", ResultSize="Unlimited"))
    plain_users = names(run(demo, "Get-Recipient", RecipientTypeDetails="User"))
    assert "svc-backup" not in everyone and plain_users == ["svc-backup"]


def test_get_recipient_returns_users_contacts_and_groups(demo: Tenant) -> None:
    kinds = {o["RecipientType"] for o in run(demo, "Get-Recipient", ResultSize="Unlimited").objects}
    assert {"UserMailbox", "MailUser", "MailContact", "MailUniversalDistributionGroup"} <= kinds


# --- Get-User --------------------------------------------------------------------------------


def test_a_user_has_upn_manager_name_and_names(demo: Tenant) -> None:
    (alex,) = run(demo, "Get-User", Identity=ALEX).objects
    assert alex["UserPrincipalName"] == alex["WindowsLiveID"] == "alexw@contoso.com"
    assert alex["Manager"] == "nestorw"
    assert (alex["FirstName"], alex["LastName"], alex["Department"]) == (
        "Alex",
        "Wilber",
        "Marketing",
    )


def test_disabled_accounts_are_found_with_a_filter(demo: Tenant) -> None:
    result = run(demo, "Get-User", Filter="AccountDisabled -eq $true")
    assert [o["DisplayName"] for o in result.objects] == ["Joni Sherman"]


def test_a_guest_has_an_ext_upn(demo: Tenant) -> None:
    (guest,) = run(demo, "Get-User", Identity="kai.carter@fabrikam.com").objects
    assert guest["UserPrincipalName"] == "kai.carter_fabrikam.com#EXT#@contoso.onmicrosoft.com"


def test_a_mail_contact_is_not_a_user(demo: Tenant) -> None:
    assert fails(demo, "Get-User", Identity="ravi.kumar@northwindtraders.com").not_found


def test_anr_on_users_matches_a_last_name(demo: Tenant) -> None:
    result = run(demo, "Get-User", Anr="hollow")
    assert [o["DisplayName"] for o in result.objects] == ["Lidia Holloway"]


def test_anr_on_users_matches_a_non_ascii_last_name(demo: Tenant) -> None:
    result = run(demo, "Get-User", Anr="müll", ResultSize="Unlimited")
    assert "Henrietta Müller" in [o["DisplayName"] for o in result.objects]


# --- Get-AcceptedDomain ----------------------------------------------------------------------


def test_accepted_domains_are_authoritative_with_one_default(demo: Tenant) -> None:
    domains = run(demo, "Get-AcceptedDomain").objects
    assert [d["DomainName"] for d in domains] == [
        "contoso.com",
        "contoso.onmicrosoft.com",
        "eu.contoso.com",
    ]
    assert [d["Default"] for d in domains] == [True, False, False]
    assert {d["DomainType"] for d in domains} == {"Authoritative"}


def test_an_unknown_accepted_domain_is_not_found(demo: Tenant) -> None:
    assert fails(demo, "Get-AcceptedDomain", Identity="fabrikam.com").not_found


# --- Add-DistributionGroupMember -------------------------------------------------------------


def add(t: Tenant, identity: str, member: str, **extra: Any) -> CmdletResult:
    return run(
        t,
        "Add-DistributionGroupMember",
        Identity=identity,
        Member=member,
        BypassSecurityGroupManagerCheck=True,
        **extra,
    )


def test_adding_a_member_returns_nothing_and_changes_the_group(tenant: Tenant) -> None:
    assert add(tenant, "finance-emea@contoso.com", ALEX).objects == []
    assert member_names(tenant, "finance-emea")[-1] == ALEX


def test_adding_a_member_updates_when_changed(tenant: Tenant) -> None:
    tenant.clock = lambda: datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    add(tenant, "finance-emea", ALEX)
    assert group(tenant, "finance-emea")["WhenChangedUTC"] == "2025-01-02T03:04:05.0000000Z"


def test_adding_an_existing_member_is_member_already_exists(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        add(tenant, "marketing@contoso.com", "alexw@contoso.com")
    error = caught.value
    assert error.status == 400
    assert (
        error.exception_type == "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException"
    )
    assert error.message == (
        'The recipient "alexw@contoso.com" is already a member of the group '
        '"marketing@contoso.com".'
    )


def test_adding_without_the_manager_bypass_needs_a_group_manager(tenant: Tenant) -> None:
    error = fails(tenant, "Add-DistributionGroupMember", Identity="finance-emea", Member=ALEX)
    assert error.exception_type.endswith("OperationRequiresGroupManagerException")
    assert error.message == (
        "You don't have sufficient permissions. This operation can only be performed by a "
        "manager of the group."
    )
    assert ALEX not in member_names(tenant, "finance-emea")


def test_adding_to_a_dir_synced_group_fails_even_with_the_bypass(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        add(tenant, "onprem-engineering@contoso.com", ALEX)
    assert caught.value.status == 400
    assert "because the object is being synchronized from your on-premises organization" in (
        caught.value.message
    )
    assert ALEX not in member_names(tenant, "onprem-engineering")


def test_adding_an_unknown_member_is_couldnt_find_object(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        add(tenant, "finance-emea", "ghost@contoso.com")
    assert caught.value.not_found and caught.value.status == 404
    assert caught.value.message == (
        'Couldn\'t find object "ghost@contoso.com". Please make sure that it was spelled '
        "correctly or specify a different object."
    )


def test_adding_to_an_unknown_group_is_not_found_on_the_domain_controller(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        add(tenant, "ghost-list@contoso.com", ALEX)
    assert caught.value.not_found and "couldn't be found on" in caught.value.message


def test_adding_an_ambiguous_member_is_refused(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        add(tenant, "finance-emea", "Chris Green")
    assert caught.value.exception_type.endswith("ManagementObjectAmbiguousException")


def test_a_room_list_refuses_a_person(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        add(tenant, "building-1-rooms", ALEX)
    assert "isn't a room mailbox" in caught.value.message


def test_a_room_list_accepts_a_room(tenant: Tenant) -> None:
    remove(tenant, "building-1-rooms", "adams@contoso.com")
    add(tenant, "building-1-rooms", "adams@contoso.com")
    members = tenant.group_snapshot("building-1-rooms")["members"]
    assert [m["display_name"] for m in members] == ["Conf Room Baker", "Conf Room Adams"]


def test_a_group_can_be_added_as_a_member_of_another(tenant: Tenant) -> None:
    add(tenant, "book-club", "finance-emea@contoso.com")
    assert "finance-emea" in member_names(tenant, "book-club")


def test_whatif_changes_nothing(tenant: Tenant) -> None:
    add(tenant, "finance-emea", ALEX, WhatIf=True)
    assert ALEX not in member_names(tenant, "finance-emea")


# --- Remove-DistributionGroupMember ----------------------------------------------------------


def remove(t: Tenant, identity: str, member: str, **extra: Any) -> CmdletResult:
    params: dict[str, Any] = {"BypassSecurityGroupManagerCheck": True, "Confirm": False, **extra}
    return run(t, "Remove-DistributionGroupMember", Identity=identity, Member=member, **params)


def test_removing_a_member_takes_it_out_of_the_group(tenant: Tenant) -> None:
    assert remove(tenant, "marketing@contoso.com", ALEX).objects == []
    assert ALEX not in member_names(tenant, "marketing")


def test_removing_a_non_member_is_isnt_a_member(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        remove(tenant, "finance-emea@contoso.com", "alexw@contoso.com")
    assert caught.value.status == 400
    assert caught.value.message == (
        'The recipient "alexw@contoso.com" isn\'t a member of the group "finance-emea@contoso.com".'
    )


def test_removing_without_confirm_false_fails_for_want_of_a_prompt(tenant: Tenant) -> None:
    params = {"Identity": "marketing@contoso.com", "Member": ALEX}
    error = fails(
        tenant, "Remove-DistributionGroupMember", BypassSecurityGroupManagerCheck=True, **params
    )
    assert "does not support user interaction" in error.message
    assert ALEX in member_names(tenant, "marketing")


def test_removing_without_the_manager_bypass_needs_a_group_manager(tenant: Tenant) -> None:
    error = fails(
        tenant,
        "Remove-DistributionGroupMember",
        Identity="marketing@contoso.com",
        Member=ALEX,
        Confirm=False,
    )
    assert error.exception_type.endswith("OperationRequiresGroupManagerException")


def test_removing_from_a_dir_synced_group_fails(tenant: Tenant) -> None:
    with pytest.raises(CmdletError) as caught:
        remove(tenant, "onprem-engineering", "gradya@contoso.com")
    assert "on-premises organization" in caught.value.message


# --- New-DistributionGroup -------------------------------------------------------------------


def new(t: Tenant, **params: Any) -> dict[str, Any]:
    (obj,) = run(t, "New-DistributionGroup", **params).objects
    return obj


def test_a_new_group_gets_exchanges_defaults(tenant: Tenant) -> None:
    obj = new(tenant, Name="q3 launch")
    assert (obj["Name"], obj["DisplayName"], obj["Alias"]) == ("q3 launch", "q3 launch", "q3launch")
    assert obj["PrimarySmtpAddress"] == "q3launch@contoso.com"
    assert (obj["MemberJoinRestriction"], obj["MemberDepartRestriction"]) == ("Closed", "Open")
    assert obj["RequireSenderAuthenticationEnabled"] is True
    assert obj["RecipientTypeDetails"] == "MailUniversalDistributionGroup"
    assert obj["ManagedBy"] == []


def test_a_new_group_has_no_dn_yet_but_a_later_get_has_one(tenant: Tenant) -> None:
    assert new(tenant, Name="q3-launch")["DistinguishedName"] == ""
    assert group(tenant, "q3-launch")["DistinguishedName"].startswith("CN=q3-launch,OU=")


def test_a_new_group_resolves_owners_and_members(tenant: Tenant) -> None:
    obj = new(tenant, Name="q3-launch", ManagedBy=[ALEX, "jdoe"], Members=["leeg@contoso.com"])
    assert obj["ManagedBy"] == [ALEX, "jdoe"]
    assert member_names(tenant, "q3-launch") == [LEE]


def test_copy_owner_to_member_adds_the_owners_as_members(tenant: Tenant) -> None:
    new(tenant, Name="q3-launch", ManagedBy=ALEX, CopyOwnerToMember=True)
    assert member_names(tenant, "q3-launch") == [ALEX]


def test_a_new_security_group_is_closed_both_ways(tenant: Tenant) -> None:
    obj = new(tenant, Name="sg-new", Type="Security")
    assert obj["GroupType"] == "Universal, SecurityEnabled"
    assert (obj["MemberJoinRestriction"], obj["MemberDepartRestriction"]) == ("Closed", "Closed")


def test_a_new_security_group_cannot_be_open(tenant: Tenant) -> None:
    error = fails(
        tenant,
        "New-DistributionGroup",
        Name="sg-new",
        Type="Security",
        MemberJoinRestriction="Open",
    )
    assert "Security groups" in error.message


def test_the_room_list_switch_creates_a_room_list(tenant: Tenant) -> None:
    assert new(tenant, Name="building-2-rooms", RoomList=True)["RecipientTypeDetails"] == "RoomList"


def test_an_unknown_group_type_is_a_binding_error(tenant: Tenant) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="x", Type="Dynamic")
    assert "Specify one of the following enumerator names" in error.message


def test_a_taken_name_is_ad_object_already_exists_with_the_dn(tenant: Tenant) -> None:
    error = fails(
        tenant, "New-DistributionGroup", Name="Finance-EMEA", PrimarySmtpAddress="fe2@contoso.com"
    )
    assert (
        error.exception_type == "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
    )
    assert error.message == (
        "The object 'CN=Finance-EMEA,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange Hosted "
        "Organizations,DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM' already exists."
    )


def test_a_name_held_by_a_user_is_taken_too(tenant: Tenant) -> None:
    assert fails(tenant, "New-DistributionGroup", Name="jdoe").exception_type.endswith(
        "ADObjectAlreadyExistsException"
    )


def test_an_address_held_as_someones_proxy_is_taken(tenant: Tenant) -> None:
    error = fails(
        tenant, "New-DistributionGroup", Name="smith-fans", PrimarySmtpAddress="ASmith@contoso.com"
    )
    assert error.exception_type.endswith("WLCDManagedMemberExistsException")
    assert error.message == (
        'The proxy address "SMTP:ASmith@contoso.com" is already being used by the proxy addresses '
        'or LegacyExchangeDN of "asmith". Please choose another proxy address.'
    )


def test_a_default_address_that_is_taken_gets_a_number(tenant: Tenant) -> None:
    assert new(tenant, Name="Book Club 2", Alias="book-club")["PrimarySmtpAddress"] == (
        "book-club2@contoso.com"
    )


def test_an_address_outside_the_accepted_domains_is_refused(tenant: Tenant) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="x", PrimarySmtpAddress="x@fabrikam.com")
    assert "isn't an accepted domain" in error.message


def test_a_malformed_address_is_refused(tenant: Tenant) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="x", PrimarySmtpAddress="not an address")
    assert error.exception_type == BINDING and "isn't correct" in error.message


def test_a_name_longer_than_64_characters_is_refused(tenant: Tenant) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="n" * 65)
    assert error.message == (
        "The length of the property is too long. The maximum length is 64 and the length of the "
        "value provided is 65."
    )


def test_a_name_of_64_characters_is_accepted(tenant: Tenant) -> None:
    assert new(tenant, Name="n" * 64)["Name"] == "n" * 64


def test_an_alias_longer_than_64_characters_is_refused(tenant: Tenant) -> None:
    assert (
        "maximum length is 64"
        in fails(tenant, "New-DistributionGroup", Name="x", Alias="a" * 65).message
    )


def test_a_display_name_longer_than_256_characters_is_refused(tenant: Tenant) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="x", DisplayName="d" * 257)
    assert "maximum length is 256" in error.message


@pytest.mark.parametrize("alias", ["has space", ".leading", "trailing.", "dou..ble", "semi;colon"])
def test_an_invalid_alias_is_refused(tenant: Tenant, alias: str) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="x", Alias=alias)
    assert error.message.startswith(f'Property expression "{alias}" isn\'t valid.')


def test_an_alias_may_use_every_allowed_symbol(tenant: Tenant) -> None:
    alias = "a!#$%&'*+-/=?^_`{|}~.b"
    assert new(tenant, Name="symbols", Alias=alias)["Alias"] == alias


def test_more_than_10000_members_are_refused(tenant: Tenant) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="x", Members=["alexw@contoso.com"] * 10_001)
    assert "at most 10000" in error.message


def test_an_unknown_owner_is_couldnt_find_object(tenant: Tenant) -> None:
    error = fails(tenant, "New-DistributionGroup", Name="x", ManagedBy=["ghost@contoso.com"])
    assert error.not_found and error.message.startswith(
        'Couldn\'t find object "ghost@contoso.com".'
    )


def test_a_mail_contact_cannot_own_a_group(tenant: Tenant) -> None:
    error = fails(
        tenant, "New-DistributionGroup", Name="x", ManagedBy="ravi.kumar@northwindtraders.com"
    )
    assert "can't be an owner" in error.message


def test_a_mail_enabled_security_group_can_own_a_group(tenant: Tenant) -> None:
    assert new(tenant, Name="x", ManagedBy="it-admins")["ManagedBy"] == ["it-admins"]


def test_the_naming_policy_wraps_the_display_name(tenant: Tenant) -> None:
    tenant.naming_policy = NamingPolicy(prefix="DL-", suffix=" (EMEA)")
    obj = new(tenant, Name="travel", DisplayName="Travel")
    assert (obj["Name"], obj["DisplayName"]) == ("travel", "DL-Travel (EMEA)")


def test_ignore_naming_policy_leaves_the_display_name_alone(tenant: Tenant) -> None:
    tenant.naming_policy = NamingPolicy(prefix="DL-")
    assert new(tenant, Name="travel", IgnoreNamingPolicy=True)["DisplayName"] == "travel"


@pytest.mark.parametrize("name", ["CEO office", "Everyone-EMEA", "payroll-all"])
def test_a_blocked_word_refuses_the_name(tenant: Tenant, name: str) -> None:
    assert "naming policy" in fails(tenant, "New-DistributionGroup", Name=name).message


def test_a_blocked_word_inside_a_longer_word_is_allowed(tenant: Tenant) -> None:
    assert new(tenant, Name="everyoneish")["Name"] == "everyoneish"


def test_ignore_naming_policy_allows_a_blocked_word(tenant: Tenant) -> None:
    assert new(tenant, Name="everyone-emea", IgnoreNamingPolicy=True)["Name"] == "everyone-emea"


def test_a_new_non_ascii_group_round_trips(tenant: Tenant) -> None:
    new(tenant, Name="Köln § Team 🎉", Alias="koeln-team")
    assert group(tenant, "koeln-team@contoso.com")["Name"] == "Köln § Team 🎉"


def test_a_description_is_always_an_array(tenant: Tenant) -> None:
    assert new(tenant, Name="x", Description="one line")["Description"] == ["one line"]


def test_whatif_creates_no_group(tenant: Tenant) -> None:
    assert run(tenant, "New-DistributionGroup", Name="q3-launch", WhatIf=True).objects == []
    assert fails(tenant, "Get-DistributionGroup", Identity="q3-launch").not_found
