"""`dlbot doctor` against the sandbox tenant over real HTTPS with real msal, and real Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.doctor import CheckResult, Status, diagnose, exit_code, render
from bot.settings import Settings
from exchange.sandbox.recipients import Group
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET

BOT_APP_ID = "5e1f0c1a-94d2-4b8e-8f0c-2d7f4b6a9e31"
BOT_PASSWORD = "bot-app-password-kept-out-of-every-report-1"
PUBLIC_URL = "https://dlbot.contoso.com"

SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="session")
def doctor_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared so the sandbox's CA, server and client certificates are generated once.
    return tmp_path_factory.mktemp("doctor-sandbox")


@pytest.fixture
async def sandbox(doctor_state_dir: Path) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(Tenant.demo(), state_dir=doctor_state_dir) as server:
        yield server


@pytest.fixture
def make_settings(sandbox: SandboxServer, redis_url: str) -> SettingsFactory:
    """A complete, passing deployment pointed at the sandbox and the suite's Redis (AOF on)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "exchange_base_url": sandbox.base_url,
            "exchange_authority": sandbox.base_url,
            "exchange_tenant": sandbox.tenant_id,
            "exchange_client_id": DEMO_APP_ID,
            "exchange_client_secret": DEMO_SECRET,
            "exchange_ca_file": sandbox.ca_file,
            "exchange_retry_backoff_seconds": 0.01,
            "redis_url": redis_url,
            "bot_app_id": BOT_APP_ID,
            "bot_app_password": BOT_PASSWORD,
            "allowed_tenants": sandbox.tenant_id,
            "public_url": PUBLIC_URL,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@dataclass
class Report:
    code: int
    text: str
    results: dict[str, CheckResult]

    def status(self, name: str) -> Status:
        return self.results[name].status

    def line(self, name: str) -> str:
        """The check's line and its fix line, as printed."""
        result = self.results[name]
        return f"{result.summary}\nfix: {result.fix}" if result.fix else result.summary

    def failed(self) -> list[str]:
        return [n for n, r in self.results.items() if r.status is Status.FAIL]


async def run_doctor_on(settings: Settings, **dependencies: Any) -> Report:
    results = await diagnose(settings, **dependencies)
    return Report(exit_code(results), render(results), {r.name: r for r in results})


def assert_no_secret(text: str, *secrets: str) -> None:
    """Neither a secret nor any 12-character piece of one appears in the text."""
    for secret in (BOT_PASSWORD, DEMO_SECRET, *secrets):
        assert secret not in text
        for start in range(len(secret) - 11):
            assert secret[start : start + 12] not in text, secret[start : start + 12]


def membership(tenant: Tenant) -> dict[str, tuple[str, ...]]:
    """Every group's members, and by implication every group: what a probe must not change."""
    with tenant.lock:
        return {
            group.guid: tuple(group.members)
            for group in tenant.recipients()
            if isinstance(group, Group)
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server(directory: Path, *arguments: str) -> Iterator[str]:
    """A redis-server of the test's own, configured by `arguments`; yields its host:port."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed: run the suite with ./dev test"
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    process = subprocess.Popen(
        [*command, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
