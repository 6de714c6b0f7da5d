"""The real client, with real msal, over real HTTPS on loopback to a fresh sandbox tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant

DEMO_APP_ID = "913f363f-a3cf-4f31-9f81-0164ec18b77b"
DEMO_SECRET = "sandbox-client-secret-not-for-production"
ALEX = "9e986098-d981-4a25-9a89-5bf689ff5e3c"
MEGAN = "610e5c9f-cf2a-4499-b142-baecacdfc76e"


@pytest.fixture(scope="session")
def sandbox_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared by every test so the CA and server certificate are generated once.
    return tmp_path_factory.mktemp("sandbox-state")


@pytest.fixture
async def sandbox(sandbox_state_dir: Path) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(Tenant.demo(), state_dir=sandbox_state_dir) as server:
        yield server


ConfigFactory = Callable[..., ExchangeConfig]


@pytest.fixture
def make_config(sandbox: SandboxServer) -> ConfigFactory:
    def make(**overrides: Any) -> ExchangeConfig:
        values: dict[str, Any] = {
            "base_url": sandbox.base_url,
            "authority_host": sandbox.base_url,
            "tenant": sandbox.tenant_id,
            "client_id": DEMO_APP_ID,
            "client_secret": SecretStr(DEMO_SECRET),
            "ca_file": sandbox.ca_file,
            # Retries are proven by count and order, not by waiting seconds for them.
            "retry_backoff_seconds": 0.01,
        }
        values.update(overrides)
        return ExchangeConfig(**values)

    return make


@pytest.fixture
async def client(make_config: ConfigFactory) -> AsyncIterator[ExchangeClient]:
    async with ExchangeClient(make_config()) as exchange_client:
        yield exchange_client
