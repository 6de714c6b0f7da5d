"""Fixtures for the sandbox server tests: a real HTTPS sandbox on an ephemeral loopback port,
httpx clients that verify it against its CA, and real msal applications pointed at it.

msal is synchronous and the sandbox runs on the test's own event loop, so every msal call goes
through asyncio.to_thread (a blocking call on the loop would stall the server it is waiting for).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
import requests

from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant

SCOPE = "https://outlook.office365.com/.default"


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One key-material directory per session: keys are generated once, then reused (tls.py)."""
    return tmp_path_factory.mktemp("sandbox-state")


@pytest.fixture
async def sandbox(state_dir: Path) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(Tenant.demo(), state_dir=state_dir) as sb:
        yield sb


def ssl_context_for(ca_file: Path) -> ssl.SSLContext:
    # httpx 0.28 deprecates verify=<path>; an SSLContext is the supported way.
    return ssl.create_default_context(cafile=str(ca_file))


@pytest.fixture
async def http(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        verify=ssl_context_for(sandbox.ca_file), trust_env=False, timeout=60.0
    ) as client:
        yield client


@pytest.fixture
def demo_app(sandbox: SandboxServer) -> tuple[str, str]:
    app = sandbox.demo_app
    assert app is not None and app.secrets, "the demo tenant needs an app with a secret"
    return app.client_id, app.secrets[0]


MsalFactory = Callable[..., Any]


@pytest.fixture
def msal_session(sandbox: SandboxServer) -> Iterator[requests.Session]:
    # trust_env=False: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment would otherwise
    # silently override verify= (see shared/real-client.md).
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.ca_file)
    yield session
    session.close()


@pytest.fixture
def make_msal(sandbox: SandboxServer, msal_session: requests.Session) -> MsalFactory:
    """Build a ConfidentialClientApplication in a worker thread (its constructor does HTTP)."""

    async def build(
        client_id: str, credential: Any, *, authority: str | None = None
    ) -> msal.ConfidentialClientApplication:
        return await asyncio.to_thread(
            msal.ConfidentialClientApplication,
            client_id,
            client_credential=credential,
            authority=authority or sandbox.authority,
            instance_discovery=False,
            http_client=msal_session,
        )

    return build


async def acquire(app: msal.ConfidentialClientApplication) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.to_thread(app.acquire_token_for_client, [SCOPE])
    return result


@pytest.fixture
async def token(make_msal: MsalFactory, demo_app: tuple[str, str]) -> str:
    """A real access token for the demo app, obtained through msal."""
    app = await make_msal(demo_app[0], demo_app[1])
    result = await acquire(app)
    assert "access_token" in result, result
    return str(result["access_token"])


def invoke_url(sb: SandboxServer, tenant: str | None = None) -> str:
    return f"{sb.base_url}/adminapi/beta/{tenant or sb.tenant_id}/InvokeCommand"


def invoke_headers(token: str | None, cmdlet: str, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        "X-CmdletName": cmdlet,
        "X-ResponseFormat": "json",
        **extra,
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def invoke_body(cmdlet: str, **parameters: Any) -> dict[str, Any]:
    return {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}


async def invoke(
    http: httpx.AsyncClient,
    sb: SandboxServer,
    token: str | None,
    cmdlet: str,
    parameters: dict[str, Any] | None = None,
    *,
    url: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One raw InvokeCommand POST, as the contract's section 1 describes it."""
    return await http.post(
        url or invoke_url(sb),
        json={"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}},
        headers={**invoke_headers(token, cmdlet), **(headers or {})},
    )
