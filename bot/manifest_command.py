"""`dlbot manifest build` and `dlbot manifest validate`: the Teams app package, for admins.

build fills manifest/manifest.template.json with this deployment's ids (DLBOT_TEAMS_APP_ID, or
else DLBOT_BOT_APP_ID; DLBOT_BOT_APP_ID as the bot), DLBOT_PUBLIC_URL's host and dlbot's version,
zips it with the icons, checks the zip as validate does, and only then puts it at --out.
validate checks any package offline (bot.teams_package). Problems are one line each on stderr.
Exit status: 0 fine, 1 the package has problems, 2 the settings are wrong or nothing could be
checked.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import ipaddress
import os
import re
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from bot.settings import Settings
from bot.teams_package import (
    PackageError,
    PackageReport,
    PackageValues,
    ValidatorUnavailable,
    build_package,
    check_package,
)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_NIL_GUID = "00000000-0000-0000-0000-000000000000"
_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
UPLOAD_HINT = (
    "Upload it in the Teams admin center (Teams apps > Manage apps > Upload new app), "
    "or in Teams (Apps > Manage your apps > Upload an app)."
)


class SettingsProblems(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def run_manifest(settings: Settings, args: argparse.Namespace) -> int:
    if args.manifest_command == "build":
        return build(settings, args.out)
    return validate(args.package)


def dlbot_version() -> str:
    return importlib.metadata.version("dlbot")


def package_values(settings: Settings, version: str) -> PackageValues:
    """The placeholders' values, or SettingsProblems naming every setting to fix."""
    problems: list[str] = []
    bot_app_id = settings.bot_app_id.strip()
    teams_app_id = settings.teams_app_id.strip()
    public_url = settings.public_url.strip().rstrip("/")
    if not bot_app_id:
        problems.append(
            "DLBOT_BOT_APP_ID is not set: the package needs the Azure Bot's Microsoft App ID "
            "(a GUID)"
        )
    else:
        problems += _guid_problems("DLBOT_BOT_APP_ID", bot_app_id)
    if teams_app_id:
        problems += _guid_problems("DLBOT_TEAMS_APP_ID", teams_app_id)
    problems += _public_url_problems(public_url)
    if not _SEMVER.fullmatch(version):
        problems.append(
            f"dlbot's version {version!r} is not three numbers like 1.2.3, as Teams needs"
        )
    if problems:
        raise SettingsProblems(problems)
    return PackageValues(
        teams_app_id=(teams_app_id or bot_app_id).lower(),
        bot_app_id=bot_app_id.lower(),
        public_url=public_url,
        version=version,
    )


def _guid_problems(name: str, value: str) -> list[str]:
    if not _GUID.fullmatch(value):
        return [f"{name} is not a GUID like 2f1b5a4e-0c7d-4d8e-9a3b-6c5d4e3f2a1b: {value!r}"]
    if value == _NIL_GUID:
        return [f"{name} is the all-zero GUID, a placeholder rather than a real app id"]
    return []


def _public_url_problems(url: str) -> list[str]:
    name = "DLBOT_PUBLIC_URL"
    if not url:
        return [
            f"{name} is not set: the package needs the bot's public https address "
            "(Teams posts to <DLBOT_PUBLIC_URL>/api/messages)"
        ]
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return [f"{name} is not a URL: {url!r}"]
    if parts.scheme.lower() != "https":
        return [f"{name} must be an https:// URL (Teams only talks to bots over HTTPS): {url!r}"]
    if not host:
        return [f"{name} has no host name: {url!r}"]
    if parts.username is not None or parts.query or parts.fragment:
        return [f"{name} must be a plain base URL, without user, query or fragment: {url!r}"]
    if host == "localhost" or _is_ip_address(host):
        return [
            f"{name} must be the bot's public DNS name, which Teams can reach; "
            f"{host} is not: {url!r}"
        ]
    return []


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def build(
    settings: Settings, out: Path, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        values = package_values(settings, dlbot_version())
    except SettingsProblems as exc:
        for problem in exc.problems:
            print(f"dlbot manifest build: {problem}", file=stderr)
        print("dlbot manifest build: nothing was written.", file=stderr)
        return EXIT_USAGE
    try:
        data = build_package(values)
    except PackageError as exc:
        print(f"dlbot manifest build: {exc}", file=stderr)
        return EXIT_INVALID
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(data)
    try:
        report = check_package(partial.read_bytes())
    except ValidatorUnavailable as exc:
        os.replace(partial, out)
        print(f"dlbot manifest build: wrote {out} but could not check it: {exc}", file=stderr)
        return EXIT_USAGE
    if report.problems:
        partial.unlink()
        _print_problems(out, report, stderr)
        print("dlbot manifest build: nothing was written.", file=stderr)
        return EXIT_INVALID
    os.replace(partial, out)
    print(
        f"Wrote {out} (Teams app {values.teams_app_id}, bot {values.bot_app_id}, "
        f"domain {values.bot_domain}, version {values.version}).",
        file=stdout,
    )
    print(f"Checked offline: {_checked(report)}.", file=stdout)
    print(UPLOAD_HINT, file=stdout)
    return EXIT_OK


def validate(package: Path, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        data = package.read_bytes()
    except OSError as exc:
        print(
            f"dlbot manifest validate: cannot read {package} ({exc.strerror}); "
            "build one with `dlbot manifest build`",
            file=stderr,
        )
        return EXIT_USAGE
    try:
        report = check_package(data)
    except ValidatorUnavailable as exc:
        print(f"dlbot manifest validate: cannot check {package}: {exc}", file=stderr)
        return EXIT_USAGE
    if report.problems:
        _print_problems(package, report, stderr)
        return EXIT_INVALID
    manifest = report.manifest or {}
    print(
        f"{package} is valid (Teams app {manifest.get('id')}, version {manifest.get('version')}): "
        f"{_checked(report)}.",
        file=stdout,
    )
    return EXIT_OK


def _checked(report: PackageReport) -> str:
    schema = Path(report.schema).parent.name if report.schema else "?"
    return (
        f"manifest.json against the official Teams schema {schema} (as bundled by "
        "@microsoft/app-manifest), colour icon 192x192, outline icon 32x32 white on transparent"
    )


def _print_problems(package: Path, report: PackageReport, stderr: TextIO) -> None:
    for problem in report.problems:
        print(f"{package}: {problem}", file=stderr)
