"""Cmdlet failures become Exchange's error bodies, in both detail formats (contract section 3)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from exchange.sandbox.app_registration import AppRegistration
from exchange.sandbox.server import SandboxServer, status_name
from tests.sandbox.conftest import invoke

NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
ALREADY_MEMBER = "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException"
MARKETING = "marketing@contoso.com"  # Alex Wilber is already a member (demo tenant)
ALEX = "alexw@contoso.com"


async def _missing_group(
    sb: SandboxServer, http: httpx.AsyncClient, token: str, name: str = "no-such-list"
) -> httpx.Response:
    return await invoke(http, sb, token, "Get-DistributionGroup", {"Identity": name})


async def _already_member(sb: SandboxServer, http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await invoke(
        http,
        sb,
        token,
        "Add-DistributionGroupMember",
        {"Identity": MARKETING, "Member": ALEX, "BypassSecurityGroupManagerCheck": True},
    )


def _detail(response: httpx.Response) -> str:
    detail: str = response.json()["error"]["details"][0]["message"]
    return detail


@pytest.mark.parametrize(
    ("status", "name"),
    [(400, "BadRequest"), (403, "Forbidden"), (404, "NotFound"), (500, "InternalServerError"),
     (429, "TooManyRequests"), (503, "ServiceUnavailable"), (504, "GatewayTimeout")],
)  # fmt: skip
def test_error_codes_are_dotnet_status_names(status: int, name: str) -> None:
    assert status_name(status) == name


async def test_not_found_is_a_404_with_the_pipe_format_by_default(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await _missing_group(sandbox, http, token)
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "NotFound"
    assert body["error"]["message"] == "Error executing cmdlet"
    assert body["error"]["details"][0]["code"] == "Client"
    assert body["error"]["innererror"]["type"].endswith("ODataServiceException")
    assert body["@adminapi.warnings"] == []
    error_id, exception_type, message = _detail(response).split("|", 2)
    assert error_id == "Ex6F9304"
    assert exception_type == NOT_FOUND
    assert "'no-such-list'" in message


async def test_not_found_can_be_answered_as_400(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.update_settings({"not_found_status": 400})
    response = await _missing_group(sandbox, http, token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
    assert NOT_FOUND in _detail(response)


async def test_the_json_format_carries_message_and_type_name(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.update_settings({"error_format": "json"})
    response = await _already_member(sandbox, http, token)
    assert response.status_code == 400
    detail: dict[str, Any] = json.loads(_detail(response))
    assert detail == {
        "Message": f'The recipient "{ALEX}" is already a member of the group "{MARKETING}".',
        "TypeName": ALREADY_MEMBER,
        "StackTrace": None,
        "InnerError": None,
    }


async def test_the_alternate_format_flips_on_every_error(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.update_settings({"error_format": "alternate"})
    details = [_detail(await _missing_group(sandbox, http, token)) for _ in range(4)]
    shapes = ["json" if d.startswith("{") else "pipe" for d in details]
    assert shapes == ["pipe", "json", "pipe", "json"]


async def test_non_ascii_survives_in_error_messages(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await _missing_group(sandbox, http, token, "Zürich-§-🎉-nowhere")
    assert "Zürich-§-🎉-nowhere" in _detail(response)
    assert "Zürich-§-🎉-nowhere".encode() in response.content


async def test_a_cmdlet_the_app_is_not_granted_is_403_with_diagnostics(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    limited = AppRegistration(
        client_id="5f0c3a55-0000-4000-8000-00000000a11d",
        display_name="read-only app",
        secrets=["read-only-secret"],
        granted_cmdlets={"Get-DistributionGroup"},
    )
    sandbox.tenant.apps[limited.client_id] = limited
    token, _ = sandbox.tokens.mint(limited.client_id)
    response = await _already_member(sandbox, http, token)
    assert response.status_code == 403
    assert "not allowed to call Add-DistributionGroupMember" in response.headers["x-ms-diagnostics"]
    assert response.json()["error"]["code"] == "Forbidden"
    assert sandbox.requests[-1].app_id == limited.client_id


async def test_an_unknown_cmdlet_is_an_error_body_not_a_crash(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(http, sandbox, token, "Remove-Mailbox", {"Identity": ALEX})
    assert response.status_code == 400
    assert "CommandNotFoundException" in _detail(response)


async def test_a_sandbox_bug_is_a_json_500_without_a_traceback(
    sandbox: SandboxServer,
    http: httpx.AsyncClient,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a bug in the directory")

    monkeypatch.setattr(sandbox.tenant, "execute", broken)
    response = await _missing_group(sandbox, http, token)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "InternalServerError"
    assert "Traceback" not in response.text
    assert "a bug in the directory" in caplog.text  # the sandbox's log has the details
