"""`dlbot exchange call` and `dlbot sandbox`, run as a new admin would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.exchange_command import UsageError, parse_parameters
from exchange.sandbox.server import ThreadedSandbox
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET


def test_param_equals_value_is_a_string_and_colon_equals_is_json() -> None:
    parsed = parse_parameters(
        ["Identity=100", "ResultSize:=10", "Bypass:=true", 'Members:=["a","b"]']
    )
    assert parsed == {"Identity": "100", "ResultSize": 10, "Bypass": True, "Members": ["a", "b"]}


def test_a_value_may_contain_equals_signs_and_quotes() -> None:
    assert parse_parameters(["Filter=Name -eq 'a=b'"]) == {"Filter": "Name -eq 'a=b'"}


@pytest.mark.parametrize("argument", ["Identity", "=x", "Bad Name=x", "N:=not json"])
def test_malformed_parameters_are_usage_errors(argument: str) -> None:
    with pytest.raises(UsageError):
        parse_parameters([argument])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DLBOT_")}


def _dlbot(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("cli")
    with ThreadedSandbox(state_dir=directory / "state") as sandbox:
        path = directory / "sandbox.env"
        path.write_text(
            f"DLBOT_EXCHANGE_BASE_URL={sandbox.base_url}\n"
            f"DLBOT_EXCHANGE_AUTHORITY={sandbox.base_url}\n"
            f"DLBOT_EXCHANGE_TENANT={sandbox.tenant_id}\n"
            f"DLBOT_EXCHANGE_CLIENT_ID={DEMO_APP_ID}\n"
            f"DLBOT_EXCHANGE_CLIENT_SECRET={DEMO_SECRET}\n"
            f"DLBOT_EXCHANGE_CA_FILE={sandbox.ca_file}\n"
            "DLBOT_EXCHANGE_RETRY_BACKOFF_SECONDS=0.01\n"
        )
        yield path


def test_a_call_prints_each_object_as_a_json_line_without_annotations(
    env_file: Path, tmp_path: Path
) -> None:
    result = _dlbot(
        "--env-file",
        str(env_file),
        "exchange",
        "call",
        "Get-DistributionGroup",
        "Anr=finance",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert "finance-emea" in {o["Name"] for o in objects}
    assert not [key for o in objects for key in o if "@" in key]


def test_a_failure_is_one_line_naming_the_error_and_exchanges_message(
    env_file: Path, tmp_path: Path
) -> None:
    result = _dlbot(
        "--env-file",
        str(env_file),
        "exchange",
        "call",
        "Get-DistributionGroup",
        "Identity=no-such-list",
        cwd=tmp_path,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ObjectNotFound: ") and "no-such-list" in line
    assert "Traceback" not in result.stderr


def test_without_settings_the_command_names_the_missing_variables(tmp_path: Path) -> None:
    result = _dlbot("exchange", "call", "Get-AcceptedDomain", cwd=tmp_path)

    assert result.returncode == 2
    assert "DLBOT_EXCHANGE_TENANT" in result.stderr and "Traceback" not in result.stderr


def test_the_sandbox_command_serves_the_tenant_that_exchange_call_then_reads(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0", "--state-dir", str(state)],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        env = state / "sandbox.env"
        deadline = time.monotonic() + 30
        while not env.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert env.exists(), "the sandbox wrote no sandbox.env"

        result = _dlbot(
            "--env-file", str(env), "exchange", "call", "Get-AcceptedDomain", cwd=tmp_path
        )

        assert result.returncode == 0, result.stderr
        domains = {json.loads(line)["DomainName"] for line in result.stdout.splitlines()}
        assert "contoso.com" in domains
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "DLBOT_EXCHANGE_BASE_URL=" in output
