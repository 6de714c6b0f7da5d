"""/_sandbox/ control endpoints: JSON in and out, clear 400s, no auth, loopback only."""

from __future__ import annotations

import httpx
import pytest
from aiohttp.test_utils import make_mocked_request

from exchange.sandbox.server import SandboxServer
from tests.sandbox.conftest import invoke

BOOK_CLUB = "book-club@contoso.com"


async def _get(sb: SandboxServer, http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await invoke(http, sb, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})


async def test_posted_faults_apply_and_are_listed(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await http.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={"kind": "throttle", "cmdlet": "Get-DistributionGroup", "count": 1, "retry_after": 2},
    )
    assert response.status_code == 200
    (fault,) = response.json()["faults"]
    assert fault["kind"] == "throttle" and fault["retry_after"] == "2"
    throttled = await _get(sandbox, http, token)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "2")
    listed = await http.get(f"{sandbox.base_url}/_sandbox/faults")
    assert listed.json() == {"faults": []}  # spent


async def test_a_list_of_faults_is_appended_in_order(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    await http.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json=[{"kind": "unavailable", "count": 1}, {"kind": "gateway_timeout", "count": 1}],
    )
    statuses = [(await _get(sandbox, http, token)).status_code for _ in range(3)]
    assert statuses == [503, 504, 200]


async def test_delete_faults_clears_them(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    await http.post(f"{sandbox.base_url}/_sandbox/faults", json={"faults": [{"kind": "drop"}]})
    assert (await http.delete(f"{sandbox.base_url}/_sandbox/faults")).status_code == 200
    assert (await _get(sandbox, http, token)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"kind": "explode"}', b'[{"kind": "throttle", "count": -1}]'],
)
async def test_a_bad_fault_is_a_400_that_says_why(
    sandbox: SandboxServer, http: httpx.AsyncClient, body: bytes
) -> None:
    response = await http.post(f"{sandbox.base_url}/_sandbox/faults", content=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert sandbox.faults.active() == []


async def test_the_request_log_is_served_and_cleared(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroup",
        {"Identity": "Zürich-Team"},
        headers={"client-request-id": "11111111-1111-1111-1111-111111111111"},
    )
    logged = (await http.get(f"{sandbox.base_url}/_sandbox/requests")).json()["requests"]
    assert len(logged) == 1
    assert logged[0]["cmdlet"] == "Get-DistributionGroup"
    assert logged[0]["parameters"] == {"Identity": "Zürich-Team"}
    assert logged[0]["client_request_id"] == "11111111-1111-1111-1111-111111111111"
    assert logged[0]["status"] == 200
    cleared = await http.delete(f"{sandbox.base_url}/_sandbox/requests")
    assert cleared.json() == {"cleared": 1}
    assert sandbox.requests == []


async def test_tokens_are_counted_and_revocable_over_http(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str, demo_app: tuple[str, str]
) -> None:
    summary = (await http.get(f"{sandbox.base_url}/_sandbox/tokens")).json()
    assert summary["issued"] == 1
    assert summary["per_client"] == {demo_app[0]: 1}
    revoked = await http.post(f"{sandbox.base_url}/_sandbox/tokens/revoke")
    assert revoked.json() == {"revoked": 1}
    assert (await _get(sandbox, http, token)).status_code == 401


async def test_a_group_snapshot_lists_its_members(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{sandbox.base_url}/_sandbox/groups/{BOOK_CLUB}")
    assert response.status_code == 200
    snapshot = response.json()
    assert snapshot["primary_smtp_address"] == BOOK_CLUB
    assert snapshot == sandbox.tenant.group_snapshot(BOOK_CLUB)


async def test_an_unknown_group_snapshot_is_a_404(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{sandbox.base_url}/_sandbox/groups/no-such-list")
    assert response.status_code == 404
    assert "no-such-list" in response.json()["error"]


async def test_state_summarises_tenant_settings_and_counters(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    state = (await http.get(f"{sandbox.base_url}/_sandbox/state")).json()
    assert state["tenant_id"] == sandbox.tenant_id
    assert state["authority"] == sandbox.authority
    assert state["tenant"] == sandbox.tenant.summary()
    assert state["settings"]["error_format"] == "pipe"
    assert state["settings"]["not_found_status"] == 404
    assert state["settings"]["default_page_size"] == 100


async def test_settings_change_over_http(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"{sandbox.base_url}/_sandbox/settings",
        json={"error_format": "alternate", "not_found_status": 400},
    )
    assert response.status_code == 200
    assert response.json()["error_format"] == "alternate"
    assert sandbox.settings.not_found_status == 400


@pytest.mark.parametrize(
    "body",
    [
        {"error_format": "xml"},
        {"not_found_status": 500},
        {"default_page_size": 0},
        {"default_page_size": 1001},
        {"token_lifetime_seconds": "long"},
        {"page_size": 10},
        ["error_format", "json"],
    ],
)
async def test_bad_settings_are_a_400_and_change_nothing(
    sandbox: SandboxServer, http: httpx.AsyncClient, body: object
) -> None:
    response = await http.post(f"{sandbox.base_url}/_sandbox/settings", json=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert sandbox.settings.error_format == "pipe"
    assert sandbox.settings.default_page_size == 100


async def test_the_default_page_size_setting_applies_without_prefer(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.update_settings({"default_page_size": 7})
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroupMember",
        {"Identity": "all-staff@contoso.com", "ResultSize": "Unlimited"},
    )
    assert len(response.json()["value"]) == 7


async def test_control_endpoints_refuse_non_loopback_clients(sandbox: SandboxServer) -> None:
    # No real non-loopback client may exist in this suite, so the handler gets a forged peer.
    app = sandbox.make_app()
    route = next(
        r for r in app.router.routes() if r.resource and r.resource.canonical == "/_sandbox/state"
    )
    request = make_mocked_request("GET", "/_sandbox/state", app=app)
    request = request.clone(remote="192.0.2.10")
    response = await route.handler(request)
    assert response.status == 403
