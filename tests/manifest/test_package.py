"""Building the Teams app package and checking it against the official schema, offline."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.teams_package import (
    MANIFEST_DIR,
    VALIDATOR_PACKAGE,
    PackageError,
    PackageValues,
    build_manifest,
    build_package,
    check_package,
    fill_template,
)
from tests.manifest.pngs import square

BOT_ID = "2f1b5a4e-0c7d-4d8e-9a3b-6c5d4e3f2a1b"
TEAMS_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
VALUES = PackageValues(
    teams_app_id=TEAMS_ID,
    bot_app_id=BOT_ID,
    public_url="https://dlbot.contoso.com/teams",
    version="1.4.2",
)


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_manifest(change: Any) -> bytes:
    """The good package, with its manifest.json passed through change(manifest) first."""
    files = _files(build_package(VALUES))
    manifest = json.loads(files["manifest.json"])
    change(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    return _zip(files)


@pytest.fixture(scope="module")
def good_package() -> bytes:
    return build_package(VALUES)


# The package as built ---------------------------------------------------------------------------


def test_the_built_package_validates_against_the_bundled_official_schema(
    good_package: bytes,
) -> None:
    report = check_package(good_package)
    assert report.problems == []
    assert report.schema == "build/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"


def test_the_template_uses_the_newest_stable_schema_the_validator_bundles() -> None:
    bundled = [
        path.name
        for path in (VALIDATOR_PACKAGE / "build" / "json-schemas" / "teams").iterdir()
        if re.fullmatch(r"v\d+\.\d+", path.name)
    ]
    newest = max(bundled, key=lambda name: tuple(int(n) for n in name[1:].split(".")))
    manifest = build_manifest(VALUES)
    assert f"v{manifest['manifestVersion']}" == newest
    assert manifest["$schema"] == (
        f"https://developer.microsoft.com/json-schemas/teams/{newest}/MicrosoftTeams.schema.json"
    )


def test_the_zip_holds_exactly_the_manifest_and_the_two_icons_at_its_root(
    good_package: bytes,
) -> None:
    files = _files(good_package)
    assert sorted(files) == ["color.png", "manifest.json", "outline.png"]
    assert files["color.png"] == (MANIFEST_DIR / "color.png").read_bytes()
    assert files["outline.png"] == (MANIFEST_DIR / "outline.png").read_bytes()


def test_the_manifest_carries_the_app_ids_the_domain_and_the_version(good_package: bytes) -> None:
    manifest = json.loads(_files(good_package)["manifest.json"])
    assert manifest["id"] == TEAMS_ID
    assert [bot["botId"] for bot in manifest["bots"]] == [BOT_ID]
    assert manifest["validDomains"] == ["dlbot.contoso.com"]
    assert manifest["version"] == "1.4.2"
    assert manifest["developer"]["websiteUrl"] == "https://dlbot.contoso.com/teams"
    assert "{{" not in json.dumps(manifest)


def test_the_bot_is_personal_only_takes_no_files_and_needs_no_sso(good_package: bytes) -> None:
    manifest = json.loads(_files(good_package)["manifest.json"])
    (bot,) = manifest["bots"]
    assert bot["scopes"] == ["personal"]
    assert bot["supportsFiles"] is False
    assert "webApplicationInfo" not in manifest


def test_the_command_menu_offers_the_commands_the_help_text_names(good_package: bytes) -> None:
    manifest = json.loads(_files(good_package)["manifest.json"])
    (command_list,) = manifest["bots"][0]["commandLists"]
    assert command_list["scopes"] == ["personal"]
    titles = [command["title"] for command in command_list["commands"]]
    assert titles == ["add me to", "leave", "my requests", "help", "cancel"]
    for command in command_list["commands"]:
        assert command["description"]
        assert f"**{command['title']}" in texts.HELP


def test_the_same_values_build_the_same_zip_byte_for_byte() -> None:
    assert build_package(VALUES) == build_package(VALUES)


def test_a_value_with_quotes_cannot_break_the_json() -> None:
    filled = fill_template({"a": ["x {{V}} y"], "b": 1}, {"V": 'say "hi"\\'})
    assert filled == {"a": ['x say "hi"\\ y'], "b": 1}


def test_a_placeholder_dlbot_does_not_fill_stops_the_build(tmp_path: Path) -> None:
    shutil.copytree(MANIFEST_DIR, tmp_path / "manifest")
    template = tmp_path / "manifest" / "manifest.template.json"
    template.write_text(template.read_text().replace("Your IT department", "{{COMPANY}}"))
    with pytest.raises(PackageError, match=r"placeholders dlbot does not fill: \{\{COMPANY\}\}"):
        build_package(VALUES, tmp_path / "manifest")


# What the check finds ---------------------------------------------------------------------------


def _set(path: str, value: Any) -> Any:
    def change(manifest: dict[str, Any]) -> None:
        manifest[path] = value

    return change


def _delete(path: str) -> Any:
    return lambda manifest: manifest.pop(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("version", 1), 'manifest.json /version must be string. Details: {"type":"string"}'),
        (
            _delete("name"),
            "manifest.json must have required property 'name'. "
            'Details: {"missingProperty":"name"}',
        ),
        (
            _set("manifestVersion", "1.30.0"),
            "manifest.json /manifestVersion must be equal to constant. "
            'Details: {"allowedValue":"1.30"}',
        ),
        (
            _set("id", "not-a-guid"),
            "manifest.json /id must match pattern "
            '"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$". Details: '
            '{"pattern":"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"}',
        ),
        (
            lambda m: m["bots"][0]["scopes"].append("everywhere"),
            "manifest.json /bots/0/scopes/1 must be equal to one of the allowed values. "
            'Details: {"allowedValues":["team","personal","groupChat","copilot"]}',
        ),
    ],
    ids=["wrong-type", "missing-required", "bad-manifest-version", "bad-guid", "bad-enum"],
)
def test_a_broken_manifest_fails_with_the_schemas_message(change: Any, message: str) -> None:
    assert check_package(_with_manifest(change)).problems == [message]


def test_an_app_version_teams_refuses_is_reported() -> None:
    problems = check_package(_with_manifest(_set("version", "1.0"))).problems
    assert problems == [
        "manifest.json /version must be three numbers like 1.0.0 (Teams refuses '1.0')"
    ]


def test_a_schema_that_is_not_bundled_is_refused_rather_than_downloaded() -> None:
    url = "https://developer.microsoft.com/json-schemas/teams/v1.99/MicrosoftTeams.schema.json"
    problems = check_package(_with_manifest(_set("$schema", url))).problems
    assert len(problems) == 1
    assert problems[0].startswith(
        f"manifest.json: the $schema {url} is not bundled with @microsoft/app-manifest 1.1.2, "
        "so it cannot be checked offline; bundled Teams schemas: v1.0,"
    )


def test_a_manifest_without_a_schema_url_is_reported() -> None:
    problems = check_package(_with_manifest(_delete("$schema"))).problems
    assert problems == [
        "manifest.json: manifest.json has no $schema: it must name the official schema URL"
    ]


def test_a_zip_of_the_folder_instead_of_its_files_is_reported(good_package: bytes) -> None:
    nested = _zip({f"appPackage/{name}": data for name, data in _files(good_package).items()})
    assert check_package(nested).problems == [
        "manifest.json is not at the root of the package (it is at appPackage/manifest.json: "
        "zip the files, not their folder)"
    ]


def test_a_file_that_is_not_a_zip_is_reported() -> None:
    assert check_package(b"PK? no").problems == ["the package is not a zip file"]


def test_a_manifest_that_is_not_json_is_reported() -> None:
    problems = check_package(_zip({"manifest.json": b"{'id': 1}"})).problems
    assert len(problems) == 1
    assert problems[0].startswith("manifest.json is not valid JSON:")


def test_an_icon_the_manifest_names_but_the_zip_lacks_is_reported(good_package: bytes) -> None:
    files = _files(good_package)
    del files["outline.png"]
    assert check_package(_zip(files)).problems == [
        "manifest.json /icons/outline names outline.png, which is not in the package"
    ]


def test_icon_problems_in_a_package_are_reported_with_the_schema_ones(good_package: bytes) -> None:
    files = _files(good_package)
    files["color.png"] = square(32, (0, 0, 255, 255))
    files["outline.png"] = b"\xff\xd8\xff\xe0 a JPEG"
    manifest = json.loads(files["manifest.json"])
    del manifest["accentColor"]
    files["manifest.json"] = json.dumps(manifest).encode()
    assert check_package(_zip(files)).problems == [
        "manifest.json must have required property 'accentColor'. "
        'Details: {"missingProperty":"accentColor"}',
        "color.png is 32x32; Teams needs 192x192",
        "outline.png is not a PNG file",
    ]
