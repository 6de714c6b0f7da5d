"""`dlbot manifest build` and `dlbot manifest validate`, as an admin runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.manifest_command import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    SettingsProblems,
    build,
    package_values,
)
from bot.settings import Settings
from tests.manifest.pngs import square

BOT_ID = "2f1b5a4e-0c7d-4d8e-9a3b-6c5d4e3f2a1b"
TEAMS_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
URL = "https://dlbot.contoso.com"


def _settings(bot_app_id: str = BOT_ID, public_url: str = URL, teams_app_id: str = "") -> Settings:
    return Settings(
        _env_file=None,
        bot_app_id=bot_app_id,
        public_url=public_url,
        teams_app_id=teams_app_id,
    )


def _problems(settings: Settings) -> list[str]:
    with pytest.raises(SettingsProblems) as caught:
        package_values(settings, "0.1.0")
    return caught.value.problems


# Settings ------------------------------------------------------------------------------------


def test_the_teams_app_id_is_the_bot_app_id_unless_set() -> None:
    assert package_values(_settings(), "0.1.0").teams_app_id == BOT_ID
    own = package_values(_settings(teams_app_id=TEAMS_ID.upper()), "0.1.0")
    assert (own.teams_app_id, own.bot_app_id) == (TEAMS_ID, BOT_ID)


def test_the_domain_is_the_public_urls_host_without_path_or_slash() -> None:
    values = package_values(_settings(public_url="https://Bots.Contoso.com:8443/dlbot/"), "0.1.0")
    assert values.bot_domain == "bots.contoso.com"
    assert values.public_url == "https://Bots.Contoso.com:8443/dlbot"


def test_build_refuses_without_a_bot_app_id() -> None:
    assert _problems(_settings(bot_app_id="")) == [
        "DLBOT_BOT_APP_ID is not set: the package needs the Azure Bot's Microsoft App ID (a GUID)"
    ]


@pytest.mark.parametrize(
    "app_id", ["dlbot", "2f1b5a4e0c7d4d8e9a3b6c5d4e3f2a1b", "{" + BOT_ID + "}"]
)
def test_build_refuses_a_bot_app_id_that_is_not_a_guid(app_id: str) -> None:
    (problem,) = _problems(_settings(bot_app_id=app_id))
    assert problem.startswith("DLBOT_BOT_APP_ID is not a GUID")


def test_build_refuses_a_teams_app_id_that_is_the_nil_guid() -> None:
    (problem,) = _problems(_settings(teams_app_id="00000000-0000-0000-0000-000000000000"))
    assert problem.startswith("DLBOT_TEAMS_APP_ID is the all-zero GUID")


def test_build_refuses_without_a_public_url() -> None:
    (problem,) = _problems(_settings(public_url=""))
    assert problem.startswith("DLBOT_PUBLIC_URL is not set")


def test_build_refuses_an_http_public_url() -> None:
    assert _problems(_settings(public_url="http://dlbot.contoso.com")) == [
        "DLBOT_PUBLIC_URL must be an https:// URL (Teams only talks to bots over HTTPS): "
        "'http://dlbot.contoso.com'"
    ]


@pytest.mark.parametrize(
    "url", ["https://localhost:3978", "https://127.0.0.1", "https://[::1]/", "https://10.1.2.3"]
)
def test_build_refuses_a_public_url_teams_cannot_reach(url: str) -> None:
    (problem,) = _problems(_settings(public_url=url))
    assert problem.startswith("DLBOT_PUBLIC_URL must be the bot's public DNS name")


@pytest.mark.parametrize(
    "url", ["https://", "https://user:pw@dlbot.contoso.com", "https://dlbot.contoso.com/?x=1"]
)
def test_build_refuses_a_public_url_that_is_not_a_plain_base_url(url: str) -> None:
    (problem,) = _problems(_settings(public_url=url))
    assert problem.startswith("DLBOT_PUBLIC_URL ")


def test_every_settings_problem_is_named_at_once() -> None:
    problems = _problems(_settings(bot_app_id="", public_url="http://x", teams_app_id="nope"))
    assert [p.split()[0] for p in problems] == [
        "DLBOT_BOT_APP_ID",
        "DLBOT_TEAMS_APP_ID",
        "DLBOT_PUBLIC_URL",
    ]


def test_an_app_version_teams_cannot_take_is_refused() -> None:
    with pytest.raises(SettingsProblems, match="not three numbers"):
        package_values(_settings(), "0.2.0.dev1")


def test_a_refused_build_writes_nothing_and_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "app.zip"
    stderr = io.StringIO()
    assert build(_settings(bot_app_id=""), out, stdout=io.StringIO(), stderr=stderr) == EXIT_USAGE
    assert not out.parent.exists()
    assert stderr.getvalue().splitlines()[-1] == "dlbot manifest build: nothing was written."


def test_a_good_build_writes_the_zip_and_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "app.zip"
    stdout = io.StringIO()
    assert build(_settings(), out, stdout=stdout, stderr=io.StringIO()) == EXIT_OK
    assert sorted(p.name for p in out.parent.iterdir()) == ["app.zip"]
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("manifest.json"))["bots"][0]["botId"] == BOT_ID


# The command, as a process ---------------------------------------------------------------------


def _dlbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DLBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "manifest", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


GOOD_ENV = {"DLBOT_BOT_APP_ID": BOT_ID, "DLBOT_PUBLIC_URL": URL}


def test_dlbot_manifest_build_writes_a_valid_package_and_says_so(tmp_path: Path) -> None:
    result = _dlbot("build", cwd=tmp_path, env=GOOD_ENV)
    assert result.returncode == EXIT_OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Wrote dist/dlbot-teams-app.zip (Teams app {BOT_ID}, bot {BOT_ID}, "
        "domain dlbot.contoso.com, version 0.1.0)."
    )
    assert "official Teams schema v1.30" in lines[1]
    assert "Manage apps" in lines[2]
    assert (tmp_path / "dist" / "dlbot-teams-app.zip").is_file()


def test_dlbot_manifest_validate_accepts_the_built_package(tmp_path: Path) -> None:
    assert _dlbot("build", "--out", "app.zip", cwd=tmp_path, env=GOOD_ENV).returncode == 0
    result = _dlbot("validate", "app.zip", cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.startswith(f"app.zip is valid (Teams app {BOT_ID}, version 0.1.0): ")


def test_dlbot_manifest_build_without_settings_names_them_and_exits_2(tmp_path: Path) -> None:
    result = _dlbot("build", cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert "DLBOT_BOT_APP_ID is not set" in result.stderr
    assert "DLBOT_PUBLIC_URL is not set" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_dlbot_manifest_validate_prints_each_problem_on_a_line_and_exits_1(
    tmp_path: Path,
) -> None:
    assert _dlbot("build", cwd=tmp_path, env=GOOD_ENV).returncode == 0
    good = tmp_path / "dist" / "dlbot-teams-app.zip"
    with zipfile.ZipFile(good) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        color = archive.read("color.png")
    manifest["version"] = 7
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("color.png", color)
        archive.writestr("outline.png", square(192, (43, 87, 154, 255)))
    result = _dlbot("validate", "bad.zip", cwd=tmp_path)
    assert result.returncode == EXIT_INVALID
    assert result.stderr.splitlines() == [
        'bad.zip: manifest.json /version must be string. Details: {"type":"string"}',
        "bad.zip: outline.png is 192x192; Teams needs 32x32",
        "bad.zip: outline.png has 36864 pixels that are neither white nor transparent (the first "
        "at x=0, y=0 is rgba(43, 87, 154, 255)); the outline icon must be white on a "
        "transparent background",
    ]


def test_dlbot_manifest_validate_without_a_package_says_to_build_one(tmp_path: Path) -> None:
    result = _dlbot("validate", cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert "dist/dlbot-teams-app.zip" in result.stderr
    assert "dlbot manifest build" in result.stderr
