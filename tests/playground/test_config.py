"""The Playground's mock tenant is the sandbox tenant's people (no Playground needed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.playground import DEMO_TENANT
from tests.playground.harness import (
    PEOPLE,
    SANDBOX_TENANT_ID,
    playground_config,
    write_config,
)


def test_the_mock_tenant_is_the_sandbox_tenant_with_its_six_people() -> None:
    config = playground_config()
    assert config["version"] == "0.1.1"
    assert config["tenantId"] == SANDBOX_TENANT_ID
    assert len(config["users"]) == 5  # the Playground insists on exactly five others
    everyone = [config["currentUser"], *config["users"]]
    directory = {u["id"]: u for u in json.loads(DEMO_TENANT.read_text())["users"]}
    for user in everyone:
        person = directory[user["aadObjectId"]]
        assert (user["name"], user["email"]) == (person["display_name"], person["email"])
    assert sorted(u["aadObjectId"] for u in everyone) == sorted(PEOPLE.values())


def test_alex_is_signed_in_by_default_and_anyone_else_can_be() -> None:
    assert playground_config()["currentUser"]["aadObjectId"] == PEOPLE["alexw"]
    owner = playground_config("meganb")
    assert owner["currentUser"]["aadObjectId"] == PEOPLE["meganb"]
    assert PEOPLE["alexw"] in [u["aadObjectId"] for u in owner["users"]]
    assert owner["personalChat"]["id"] != playground_config()["personalChat"]["id"]


def test_someone_outside_the_six_cannot_sign_in() -> None:
    with pytest.raises(ValueError, match="current_user"):
        playground_config("jdoe")


def test_teams_user_ids_differ_from_object_ids_unless_asked() -> None:
    user = playground_config()["currentUser"]
    assert user["id"] == f"29:{user['aadObjectId']}"
    same = playground_config(user_ids="object")["currentUser"]
    assert same["id"] == same["aadObjectId"]


def test_the_config_file_is_written_where_the_playground_reads_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "leeg")
    assert path.name == ".m365agentsplayground.yml"
    assert json.loads(path.read_text())["currentUser"]["aadObjectId"] == PEOPLE["leeg"]
