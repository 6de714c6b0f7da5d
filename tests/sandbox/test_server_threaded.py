"""ThreadedSandbox: the same server on its own thread, for synchronous callers."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import msal
import pytest
import requests

from exchange.sandbox.faults import Fault
from exchange.sandbox.server import ThreadedSandbox
from exchange.sandbox.tenant import Tenant
from tests.sandbox.conftest import SCOPE, invoke_headers, invoke_url


def test_a_threaded_sandbox_serves_msal_and_invokecommand_synchronously(state_dir: Path) -> None:
    with ThreadedSandbox(Tenant.demo(), state_dir=state_dir) as sb:
        app_reg = sb.demo_app
        assert app_reg is not None
        with requests.Session() as session:
            session.trust_env = False
            session.verify = str(sb.ca_file)
            app = msal.ConfidentialClientApplication(
                app_reg.client_id,
                client_credential=app_reg.secrets[0],
                authority=sb.authority,
                instance_discovery=False,
                http_client=session,
            )
            result = app.acquire_token_for_client([SCOPE])
        assert "access_token" in result, result
        assert sb.tokens_issued == 1
        sb.inject(Fault("throttle", count=1))
        ctx = ssl.create_default_context(cafile=str(sb.ca_file))
        with httpx.Client(verify=ctx, trust_env=False) as http:
            body = {"CmdletInput": {"CmdletName": "Get-DistributionGroup", "Parameters": {}}}
            headers = invoke_headers(result["access_token"], "Get-DistributionGroup")
            statuses = [
                http.post(invoke_url(sb), json=body, headers=headers).status_code for _ in range(2)
            ]
        assert statuses == [429, 200]
        assert [r.status for r in sb.requests] == [429, 200]


def test_a_threaded_sandbox_stops_listening_on_exit(state_dir: Path) -> None:
    with ThreadedSandbox(Tenant.demo(), state_dir=state_dir) as sb:
        url = f"{sb.base_url}/_sandbox/state"
        ctx = ssl.create_default_context(cafile=str(sb.ca_file))
        with httpx.Client(verify=ctx, trust_env=False) as http:
            assert http.get(url).status_code == 200
    with httpx.Client(verify=ctx, trust_env=False) as http, pytest.raises(httpx.ConnectError):
        http.get(url)


def test_a_port_in_use_is_reported_to_the_caller(state_dir: Path) -> None:
    with ThreadedSandbox(Tenant.demo(), state_dir=state_dir) as first:
        taken = int(first.base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            with ThreadedSandbox(Tenant.demo(), port=taken, state_dir=state_dir):
                pass


def test_without_arguments_it_serves_the_demo_tenant_from_a_temporary_state_dir() -> None:
    with ThreadedSandbox() as sb:
        ca_file = sb.ca_file
        assert ca_file.is_file()
        assert sb.tenant_id == Tenant.demo().tenant_id
    assert not ca_file.exists()  # the temporary key material went with the server


def test_addresses_are_unavailable_before_start() -> None:
    sb = ThreadedSandbox(Tenant.demo())
    with pytest.raises(RuntimeError, match="not running"):
        _ = sb.base_url
