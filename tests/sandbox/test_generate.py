"""The tenant generator: deterministic, loadable, and fast enough for 100,000 lists."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from exchange.sandbox.generate import generate_tenant, main, synthetic_users
from exchange.sandbox.recipients import Group, User
from exchange.sandbox.tenant import Tenant

APP = "913f363f-a3cf-4f31-9f81-0164ec18b77b"


def test_the_same_seed_gives_the_same_tenant() -> None:
    assert generate_tenant(200, 50, seed=7) == generate_tenant(200, 50, seed=7)


def test_another_seed_gives_another_tenant() -> None:
    assert generate_tenant(200, 50, seed=7) != generate_tenant(200, 50, seed=8)


def test_a_generated_tenant_loads_with_the_requested_counts() -> None:
    summary = Tenant.from_dict(generate_tenant(300, 80, seed=1)).summary()
    assert (summary["groups"], summary["users"]) == (300, 80)


def test_a_generated_tenant_accepts_the_sandbox_app() -> None:
    t = Tenant.from_dict(generate_tenant(5, 5))
    assert t.execute("Get-AcceptedDomain", {}, app_id=APP).objects[0]["DomainName"] == "contoso.com"


def test_generated_users_mix_guid_names_and_legacy_names() -> None:
    people = [r for r in Tenant.from_dict(generate_tenant(0, 300, seed=2)).recipients()]
    by_id = [u for u in people if isinstance(u, User) and u.name == u.external_id]
    assert 0 < len(by_id) < len(people)


def test_generated_lists_have_owners_members_and_some_nesting() -> None:
    t = Tenant.from_dict(generate_tenant(2000, 100, seed=4))
    lists = [g for g in t.recipients() if isinstance(g, Group)]
    assert any(g.managed_by for g in lists) and any(not g.managed_by for g in lists)
    assert any(isinstance(m, Group) for g in lists for m in g.members.values())


def test_a_tenant_without_users_has_lists_without_members() -> None:
    t = Tenant.from_dict(generate_tenant(10, 0))
    assert all(not g.members for g in t.recipients() if isinstance(g, Group))


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        generate_tenant(-1, 10)


def test_synthetic_users_are_the_same_for_the_same_key() -> None:
    assert synthetic_users("k", 20, "contoso.com") == synthetic_users("k", 20, "contoso.com")


def test_synthetic_users_are_numbered_from_the_first_number() -> None:
    people = synthetic_users("k", 3, "contoso.com", first_number=41)
    assert [p["email"].split("@")[0][-2:] for p in people] == ["41", "42", "43"]


def test_main_writes_a_loadable_utf8_tenant_file(tmp_path: Path) -> None:
    out = tmp_path / "big.json"
    assert main(["--lists", "50", "--users", "30", "--seed", "3", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data == generate_tenant(50, 30, seed=3)
    assert Tenant.load(out).summary()["groups"] == 50


def test_main_writes_to_stdout_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--lists", "2", "--users", "2"])
    assert json.loads(capsys.readouterr().out)["format_version"] == 1


# --- 100,000 lists ---------------------------------------------------------------------------


@dataclass
class Big:
    groups: int
    first_name: str
    generate_seconds: float
    tenant: Tenant
    load_seconds: float


@pytest.fixture(scope="module")
def big() -> Big:
    started = time.perf_counter()
    data = generate_tenant(100_000, 20_000, seed=0)
    generated = time.perf_counter()
    tenant = Tenant.from_dict(data)
    loaded = time.perf_counter()
    first = str(data["groups"][0]["name"])
    return Big(len(data["groups"]), first, generated - started, tenant, loaded - generated)


@pytest.mark.slow
def test_100000_lists_are_generated_in_a_few_seconds(big: Big) -> None:
    assert big.groups == 100_000
    assert big.generate_seconds < 15


@pytest.mark.slow
def test_100000_lists_load_in_bounded_time(big: Big) -> None:
    assert big.tenant.summary()["groups"] == 100_000
    assert big.load_seconds < 30


@pytest.mark.slow
@pytest.mark.parametrize(
    "template",
    [
        {"Identity": "{name}"},
        {"Filter": "Name -eq '{name}'"},
        {"Filter": "PrimarySmtpAddress -eq '{name}@contoso.com' -and IsDirSynced -eq $false"},
    ],
    ids=["identity", "filter-name", "filter-address"],
)
def test_an_indexed_lookup_among_100000_lists_takes_milliseconds(
    big: Big, template: dict[str, str]
) -> None:
    params = {k: v.replace("{name}", big.first_name) for k, v in template.items()}
    big.tenant.execute("Get-DistributionGroup", params, app_id=APP)  # warm up imports
    started = time.perf_counter()
    for _ in range(20):
        (found,) = big.tenant.execute("Get-DistributionGroup", params, app_id=APP).objects
    assert found["Name"] == big.first_name
    assert (time.perf_counter() - started) / 20 < 0.01


@pytest.mark.slow
def test_a_membership_test_among_100000_lists_takes_milliseconds(big: Big) -> None:
    (group,) = big.tenant.execute(
        "Get-DistributionGroup", {"Identity": big.first_name}, app_id=APP
    ).objects
    members = big.tenant.group_snapshot(big.first_name)["members"]
    member_id = members[0]["external_directory_object_id"] if members else "none"
    text = (
        f"MemberOfGroup -eq '{group['DistinguishedName']}' "
        f"-and ExternalDirectoryObjectId -eq '{member_id}'"
    )
    started = time.perf_counter()
    result = big.tenant.execute("Get-Recipient", {"Filter": text}, app_id=APP)
    assert len(result.objects) == (1 if members else 0)
    assert time.perf_counter() - started < 0.05
