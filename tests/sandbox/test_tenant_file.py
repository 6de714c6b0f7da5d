"""The tenant file: loading, validation, references, and a demo tenant that covers every case."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exchange.sandbox.app_registration import AppRegistration
from exchange.sandbox.recipients import Group, User
from exchange.sandbox.tenant import DEMO_TENANT_FILE, Tenant

APP = "913f363f-a3cf-4f31-9f81-0164ec18b77b"

# The Microsoft Agents Playground's mock users: the bot will see exactly these object ids.
PLAYGROUND_PEOPLE = [
    ("Alex Wilber", "9e986098-d981-4a25-9a89-5bf689ff5e3c", "alexw@contoso.com"),
    ("Megan Bowen", "610e5c9f-cf2a-4499-b142-baecacdfc76e", "meganb@contoso.com"),
    ("Lee Gu", "069165b6-f31a-45ec-9da9-6372c99dfd5d", "leeg@contoso.com"),
    ("Adele Vance", "e2e05ef4-6ef8-4057-8534-6fd142ebda0b", "adelev@contoso.com"),
    ("Nestor Wilke", "337f3ef0-df32-4e4f-bc68-618b22ee068c", "nestorw@contoso.com"),
    ("Patti Fernandez", "494b3660-a89e-418c-9b1d-c38f998207fa", "pattif@contoso.com"),
]


@pytest.fixture(scope="module")
def demo() -> Tenant:
    return Tenant.demo()


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEMO_TENANT_FILE.read_text(encoding="utf-8"))
    return data


def minimal(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tenant": {
            "id": "11111111-2222-4333-8444-555555555555",
            "initial_domain": "fabrikam.onmicrosoft.com",
            "accepted_domains": [{"domain": "fabrikam.com", "default": True}],
        },
        "users": [
            {
                "id": "aaaaaaaa-0000-4000-8000-000000000001",
                "name": "ann",
                "email": "ann@fabrikam.com",
            },
            {"id": "aaaaaaaa-0000-4000-8000-000000000002", "email": "bob@fabrikam.com"},
        ],
    }
    data.update(extra)
    return data


def groups(t: Tenant) -> list[Group]:
    return [r for r in t.recipients() if isinstance(r, Group)]


def users(t: Tenant) -> list[User]:
    return [r for r in t.recipients() if isinstance(r, User)]


# --- the demo tenant -------------------------------------------------------------------------


@pytest.mark.parametrize(("display_name", "object_id", "email"), PLAYGROUND_PEOPLE)
def test_the_demo_tenant_has_each_playground_user_with_its_object_id(
    demo: Tenant, display_name: str, object_id: str, email: str
) -> None:
    (person,) = demo.lookup("external_id", object_id)
    assert (person.display_name, person.primary_smtp) == (display_name, email)


def test_alex_reports_to_nestor(demo: Tenant) -> None:
    (alex,) = demo.lookup("external_id", PLAYGROUND_PEOPLE[0][1])
    assert isinstance(alex, User) and alex.manager is not None
    assert alex.manager.display_name == "Nestor Wilke"


def test_adele_works_in_it(demo: Tenant) -> None:
    (adele,) = demo.lookup("address", "adelev@contoso.com")
    assert isinstance(adele, User) and adele.department == "IT"


def test_the_demo_tenant_mixes_guid_names_and_legacy_names(demo: Tenant) -> None:
    named_by_id = [u for u in users(demo) if u.name == u.external_id]
    legacy = [u.name for u in users(demo) if u.name != u.external_id]
    assert len(named_by_id) > 5 and {"jdoe", "asmith", "nestorw"} <= set(legacy)


def _group(t: Tenant, name: str) -> Group:
    found = t.name_holder(name)
    assert isinstance(found, Group), name
    return found


def _owner_group_has_people(t: Tenant) -> bool:
    owner_groups = [
        o
        for g in groups(t)
        for o in g.managed_by
        if o.recipient_type_details == "MailUniversalSecurityGroup"
    ]
    return any(
        isinstance(m, User)
        for og in owner_groups
        if isinstance(og, Group)
        for m in og.members.values()
    )


def _only_owner_disabled(t: Tenant) -> bool:
    return any(
        g.managed_by and all(isinstance(o, User) and o.account_disabled for o in g.managed_by)
        for g in groups(t)
    )


def _nested(t: Tenant) -> bool:
    return any(isinstance(m, Group) for g in groups(t) for m in g.members.values())


def _guid_owners(t: Tenant) -> bool:
    finance = _group(t, "finance-emea")
    return (
        finance.member_join_restriction == "ApprovalRequired"
        and {o.display_name for o in finance.managed_by} == {"Megan Bowen", "Lee Gu"}
        and all(o.name == o.external_id for o in finance.managed_by)
    )


def _alex_is_a_direct_member_somewhere(t: Tenant) -> bool:
    (alex,) = t.lookup("external_id", PLAYGROUND_PEOPLE[0][1])
    return sum(alex.guid in g.members for g in groups(t)) >= 1


DEMO_CASES: dict[str, Callable[[Tenant], bool]] = {
    "finance-emea needs approval and is owned by Megan and Lee by GUID name": _guid_owners,
    "an open list": lambda t: any(g.member_join_restriction == "Open" for g in groups(t)),
    "a closed list": lambda t: any(
        g.member_join_restriction == "Closed"
        and g.recipient_type_details == "MailUniversalDistributionGroup"
        for g in groups(t)
    ),
    "a list owned by a group of people": _owner_group_has_people,
    "an ownerless list": lambda t: any(
        g.is_distribution_group and not g.managed_by for g in groups(t)
    ),
    "a list whose only owner is disabled": _only_owner_disabled,
    "a dir-synced list": lambda t: any(g.is_dir_synced for g in groups(t)),
    "a hidden list": lambda t: any(g.hidden for g in groups(t)),
    "a room list of rooms": lambda t: any(
        g.recipient_type_details == "RoomList"
        and all(m.recipient_type_details == "RoomMailbox" for m in g.members.values())
        for g in groups(t)
    ),
    "a security group": lambda t: any(
        g.recipient_type_details == "MailUniversalSecurityGroup" for g in groups(t)
    ),
    "a dynamic group": lambda t: any(
        g.recipient_type_details == "DynamicDistributionGroup" for g in groups(t)
    ),
    "a 5,000-member list needing approval": lambda t: any(
        len(g.members) >= 5000 and g.member_join_restriction == "ApprovalRequired"
        for g in groups(t)
    ),
    "a list managed by legacy names": lambda t: (
        _group(t, "sales-team").managed_by[0].name == "jdoe"
    ),
    "a non-ASCII and emoji display name": lambda t: any(
        "ü" in g.display_name and "🎉" in g.display_name for g in groups(t)
    ),
    "a nested group": _nested,
    "Alex already a direct member of a list": _alex_is_a_direct_member_somewhere,
    "two groups sharing an alias": lambda t: len(t.lookup("alias", "marketing")) == 2,
    "a disabled account": lambda t: any(u.account_disabled for u in users(t)),
    "a guest": lambda t: any(u.recipient_type_details == "GuestMailUser" for u in users(t)),
    "a mail contact": lambda t: any(
        r.recipient_type_details == "MailContact" for r in t.recipients()
    ),
    "a shared mailbox": lambda t: any(
        u.recipient_type_details == "SharedMailbox" for u in users(t)
    ),
    "a member without a mailbox": lambda t: any(
        m.primary_smtp == "" for g in groups(t) for m in g.members.values()
    ),
    "a list outsiders may mail": lambda t: any(
        not g.require_sender_authentication for g in groups(t)
    ),
    "every group has a description": lambda t: all(g.description for g in groups(t)),
    "blocked words in the naming policy": lambda t: (
        set(t.naming_policy.blocked_words) == {"ceo", "payroll-all", "everyone"}
    ),
}


@pytest.mark.parametrize("case", DEMO_CASES)
def test_the_demo_tenant_covers(demo: Tenant, case: str) -> None:
    assert DEMO_CASES[case](demo)


def test_the_demo_app_may_call_every_cmdlet_with_the_documented_secret(demo: Tenant) -> None:
    app = demo.apps[APP]
    assert app.display_name == "dlbot (sandbox)" and app.granted_cmdlets is None
    assert app.secrets == ["sandbox-client-secret-not-for-production"]


def test_the_demo_tenant_is_identified_by_its_guid_or_initial_domain(demo: Tenant) -> None:
    assert demo.matches_tenant("9EAC73F7-EDC8-43B2-B610-30825BA9D199")
    assert demo.matches_tenant("Contoso.onmicrosoft.com")
    assert not demo.matches_tenant("contoso.com")


def test_synthetic_members_are_the_same_people_on_every_load() -> None:
    first, second = Tenant.demo(), Tenant.demo()
    ids = [
        m["external_directory_object_id"] for m in first.group_snapshot("all-staff-5k")["members"]
    ]
    assert ids == [
        m["external_directory_object_id"] for m in second.group_snapshot("all-staff-5k")["members"]
    ]
    assert len(set(ids)) == 5000


def test_each_demo_load_is_an_independent_copy() -> None:
    first, second = Tenant.demo(), Tenant.demo()
    params: dict[str, object] = {"Identity": "marketing@contoso.com", "Member": "alexw@contoso.com"}
    params.update(BypassSecurityGroupManagerCheck=True, Confirm=False)
    first.execute("Remove-DistributionGroupMember", params, app_id=APP)
    assert len(second.group_snapshot("marketing")["members"]) == 2


def test_the_summary_counts_the_demo_tenant(demo: Tenant) -> None:
    summary = demo.summary()
    assert summary["groups"] == 20 and summary["contacts"] == 1
    assert summary["largest_group"] == {"name": "all-staff-5k", "members": 5000}


def test_a_snapshot_finds_a_group_by_exact_name_despite_a_shared_alias(demo: Tenant) -> None:
    snapshot = demo.group_snapshot("marketing")
    assert snapshot["primary_smtp_address"] == "marketing@contoso.com"
    assert [m["primary_smtp_address"] for m in snapshot["members"]] == [
        "alexw@contoso.com",
        "lynner@contoso.com",
    ]


# --- loading rules ---------------------------------------------------------------------------


def test_a_minimal_file_loads_with_defaults() -> None:
    t = Tenant.from_dict(minimal())
    (bob,) = t.lookup("address", "bob@fabrikam.com")
    assert bob.name == bob.external_id == "aaaaaaaa-0000-4000-8000-000000000002"
    assert bob.email_addresses == ["SMTP:bob@fabrikam.com", "smtp:bob@fabrikam.onmicrosoft.com"]
    assert t.default_domain == "fabrikam.com"


def test_the_initial_domain_is_an_accepted_domain_even_when_not_listed() -> None:
    t = Tenant.from_dict(minimal())
    assert [d.name for d in t.accepted_domains] == ["fabrikam.com", "fabrikam.onmicrosoft.com"]


def test_a_file_loads_from_disk_with_non_ascii_intact(tmp_path: Path) -> None:
    data = minimal(groups=[{"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "Zürich 🎉"}])
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (group,) = groups(Tenant.load(path))
    assert (group.name, group.alias, group.primary_smtp) == (
        "Zürich 🎉",
        "Zurich",
        "Zurich@fabrikam.com",
    )


def test_an_unknown_key_is_rejected() -> None:
    data = minimal()
    data["users"][0]["departmnet"] = "typo"
    with pytest.raises(ValueError, match="departmnet"):
        Tenant.from_dict(data)


def test_an_unknown_reference_is_rejected_with_its_context() -> None:
    data = minimal(
        groups=[{"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "g", "members": ["carol"]}]
    )
    with pytest.raises(ValueError, match="group 'g' members: no recipient 'carol'"):
        Tenant.from_dict(data)


def test_a_duplicate_address_is_rejected() -> None:
    data = minimal()
    data["users"][1]["addresses"] = ["ann@fabrikam.com"]
    with pytest.raises(ValueError, match="ann@fabrikam.com"):
        Tenant.from_dict(data)


def test_a_duplicate_name_is_rejected() -> None:
    data = minimal()
    data["users"][1]["name"] = "ANN"
    with pytest.raises(ValueError, match="Name"):
        Tenant.from_dict(data)


def test_two_default_domains_are_rejected() -> None:
    data = minimal()
    data["tenant"]["accepted_domains"].append({"domain": "other.com", "default": True})
    with pytest.raises(ValueError, match="more than one default"):
        Tenant.from_dict(data)


def test_a_manager_must_be_a_user() -> None:
    data = minimal(groups=[{"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "g"}])
    data["users"][0]["manager"] = "g"
    with pytest.raises(ValueError, match="not a user"):
        Tenant.from_dict(data)


def test_references_resolve_by_id_name_address_or_upn() -> None:
    members = ["aaaaaaaa-0000-4000-8000-000000000001", "ann", "smtp:bob@fabrikam.com"]
    data = minimal(
        groups=[{"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "g", "members": members}]
    )
    (group,) = groups(Tenant.from_dict(data))
    assert [m.primary_smtp for m in group.members.values()] == [
        "ann@fabrikam.com",
        "bob@fabrikam.com",
    ]


def test_a_group_may_reference_a_group_defined_after_it() -> None:
    data = minimal(
        groups=[
            {"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "outer", "members": ["inner"]},
            {"id": "bbbbbbbb-0000-4000-8000-000000000002", "name": "inner"},
        ]
    )
    outer = Tenant.from_dict(data).name_holder("outer")
    assert isinstance(outer, Group) and [m.name for m in outer.members.values()] == ["inner"]


def test_two_synthetic_groups_never_share_an_address() -> None:
    data = minimal(
        groups=[
            {"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "a", "synthetic_members": 300},
            {"id": "bbbbbbbb-0000-4000-8000-000000000002", "name": "b", "synthetic_members": 300},
        ]
    )
    t = Tenant.from_dict(data)
    assert len(users(t)) == 602


def test_a_naive_created_time_is_taken_as_utc() -> None:
    data = minimal()
    data["users"][0]["created"] = "2021-02-03T04:05:06"
    (ann,) = Tenant.from_dict(data).lookup("name", "ann")
    assert ann.when_created == datetime(2021, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_objects_named_by_their_id_default_to_dates_after_late_2022() -> None:
    t = Tenant.from_dict(minimal())
    (ann,) = t.lookup("name", "ann")
    (bob,) = t.lookup("address", "bob@fabrikam.com")
    assert ann.when_created.year < 2022 and bob.when_created >= datetime(2022, 11, 1, tzinfo=UTC)


def test_the_same_file_gives_the_same_guids() -> None:
    first, second = Tenant.from_dict(minimal()), Tenant.from_dict(minimal())
    assert [r.guid for r in first.recipients()] == [r.guid for r in second.recipients()]


def test_from_dict_does_not_change_its_input() -> None:
    data = demo_data()
    before = copy.deepcopy(data)
    Tenant.from_dict(data)
    assert data == before


# --- app registrations -----------------------------------------------------------------------


def _self_signed_pem() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dlbot test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now.replace(year=now.year + 1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_registering_a_certificate_accepts_its_sha1_and_sha256_thumbprints() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    app = AppRegistration(client_id="c", display_name="d")
    pem = _self_signed_pem()
    app.register_certificate(pem)
    cert = x509.load_pem_x509_certificate(pem)
    assert app.certificate_thumbprints == {
        cert.fingerprint(hashes.SHA1()).hex().upper(),
        cert.fingerprint(hashes.SHA256()).hex().upper(),
    }


def test_thumbprints_from_the_file_are_upper_cased() -> None:
    data = minimal(
        apps=[{"client_id": "c", "display_name": "d", "certificate_thumbprints": ["ab12"]}]
    )
    assert Tenant.from_dict(data).apps["c"].certificate_thumbprints == {"AB12"}
