"""`python -m bot.cli doctor`, configured by environment variables as an admin would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.sandbox.server import ThreadedSandbox
from tests.doctor.conftest import BOT_APP_ID, BOT_PASSWORD, PUBLIC_URL, assert_no_secret
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET


@pytest.fixture(scope="module")
def sandbox_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with ThreadedSandbox(state_dir=tmp_path_factory.mktemp("doctor-cli")) as sandbox:
        yield {
            "DLBOT_EXCHANGE_BASE_URL": sandbox.base_url,
            "DLBOT_EXCHANGE_AUTHORITY": sandbox.base_url,
            "DLBOT_EXCHANGE_TENANT": sandbox.tenant_id,
            "DLBOT_EXCHANGE_CLIENT_ID": DEMO_APP_ID,
            "DLBOT_EXCHANGE_CLIENT_SECRET": DEMO_SECRET,
            "DLBOT_EXCHANGE_CA_FILE": str(sandbox.ca_file),
            "DLBOT_EXCHANGE_RETRY_BACKOFF_SECONDS": "0.01",
            "DLBOT_BOT_APP_ID": BOT_APP_ID,
            "DLBOT_BOT_APP_PASSWORD": BOT_PASSWORD,
            "DLBOT_ALLOWED_TENANTS": sandbox.tenant_id,
            "DLBOT_PUBLIC_URL": PUBLIC_URL,
        }


def _doctor(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DLBOT_")}
    # The working directory holds no .env: only the variables given here count.
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "doctor"],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_doctor_on_a_complete_deployment_exits_0_with_seven_ok_lines(
    sandbox_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    result = _doctor({**sandbox_env, "DLBOT_REDIS_URL": redis_url}, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * 7
    assert f"{PUBLIC_URL}/api/messages" in result.stdout
    assert result.stderr == ""
    assert_no_secret(result.stdout)


def test_doctor_with_a_wrong_secret_exits_1_naming_it_without_a_traceback(
    sandbox_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    wrong = "an-old-exchange-secret-that-was-rotated"
    env = {**sandbox_env, "DLBOT_REDIS_URL": redis_url, "DLBOT_EXCHANGE_CLIENT_SECRET": wrong}

    result = _doctor(env, tmp_path)

    assert result.returncode == 1
    assert "FAIL  Exchange token: Entra ID refused the client secret" in result.stdout
    assert "fix: Create a new client secret" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert_no_secret(result.stdout + result.stderr, wrong)
