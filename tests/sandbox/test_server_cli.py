"""`dlbot sandbox` (exchange.sandbox.cli): starts, prints and writes the client's environment,
serves HTTPS, and exits 0 on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exchange.sandbox.cli import main

ROOT = Path(__file__).resolve().parents[2]
ENV_KEYS = [
    "DLBOT_EXCHANGE_BASE_URL",
    "DLBOT_EXCHANGE_AUTHORITY",
    "DLBOT_EXCHANGE_TENANT",
    "DLBOT_EXCHANGE_CLIENT_ID",
    "DLBOT_EXCHANGE_CLIENT_SECRET",
    "DLBOT_EXCHANGE_CA_FILE",
]


def _start(state_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exchange.sandbox.cli",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _read_until_ready(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C to stop."):
            return lines
    raise AssertionError(
        f"the sandbox exited early: {lines} {proc.stderr.read() if proc.stderr else ''}"
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str], Path]]:
    state_dir = tmp_path / "state"
    with _start(state_dir) as proc:
        try:
            yield proc, _read_until_ready(proc), state_dir
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


def _env_lines(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines if line.startswith("DLBOT_EXCHANGE_"))


def test_start_prints_and_writes_the_client_environment(
    running: tuple[subprocess.Popen[str], list[str], Path],
) -> None:
    _, lines, state_dir = running
    printed = _env_lines(lines)
    assert list(printed) == ENV_KEYS
    written = (state_dir / "sandbox.env").read_text().splitlines()
    assert _env_lines(written) == printed
    assert printed["DLBOT_EXCHANGE_BASE_URL"] == printed["DLBOT_EXCHANGE_AUTHORITY"]
    assert printed["DLBOT_EXCHANGE_BASE_URL"].startswith("https://127.0.0.1:")
    assert Path(printed["DLBOT_EXCHANGE_CA_FILE"]).is_absolute()
    assert Path(printed["DLBOT_EXCHANGE_CA_FILE"]) == (state_dir / "ca.pem").resolve()
    assert any("listening on https://127.0.0.1:" in line for line in lines)


def test_the_printed_environment_reaches_a_working_sandbox(
    running: tuple[subprocess.Popen[str], list[str], Path],
) -> None:
    env = _env_lines(running[1])
    ctx = ssl.create_default_context(cafile=env["DLBOT_EXCHANGE_CA_FILE"])
    with httpx.Client(verify=ctx, trust_env=False) as http:
        token = http.post(
            f"{env['DLBOT_EXCHANGE_AUTHORITY']}/{env['DLBOT_EXCHANGE_TENANT']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["DLBOT_EXCHANGE_CLIENT_ID"],
                "client_secret": env["DLBOT_EXCHANGE_CLIENT_SECRET"],
                "scope": "https://outlook.office365.com/.default",
            },
        ).json()["access_token"]
        response = http.post(
            f"{env['DLBOT_EXCHANGE_BASE_URL']}/adminapi/beta/{env['DLBOT_EXCHANGE_TENANT']}/InvokeCommand",
            json={
                "CmdletInput": {
                    "CmdletName": "Get-DistributionGroup",
                    "Parameters": {"Identity": "book-club@contoso.com"},
                }
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200
    assert response.json()["value"][0]["Name"] == "book-club"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_it_cleanly_with_exit_code_0(tmp_path: Path, sig: signal.Signals) -> None:
    with _start(tmp_path / "state") as proc:
        _read_until_ready(proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_a_restart_keeps_the_same_ca(tmp_path: Path) -> None:
    cas = []
    for _ in range(2):
        with _start(tmp_path / "state") as proc:
            _read_until_ready(proc)
            cas.append((tmp_path / "state" / "ca.pem").read_bytes())
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    assert cas[0] == cas[1]


def test_a_missing_tenant_file_is_reported_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--tenant-file", str(tmp_path / "nope.json"), "--state-dir", str(tmp_path)])
    assert code == 2
    assert "nope.json" in capsys.readouterr().err


def test_an_invalid_tenant_file_is_reported_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"tenant": {"id": "not-a-guid"}}')
    assert main(["--tenant-file", str(bad), "--state-dir", str(tmp_path)]) == 2
    assert "bad.json" in capsys.readouterr().err
