"""Fault injection: every kind answers with the failure shape the contract describes."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from exchange.sandbox.faults import Fault, FaultPlan
from exchange.sandbox.server import SandboxServer
from tests.sandbox.conftest import invoke

BOOK_CLUB = "book-club@contoso.com"
ALEX = "alexw@contoso.com"
THROTTLE_TEXT = (
    "You have reached the maximum number of concurrent requests per tenant. "
    "Please wait and try again"
)


async def _get(sb: SandboxServer, http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await invoke(http, sb, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})


async def _add_alex(sb: SandboxServer, http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await invoke(
        http,
        sb,
        token,
        "Add-DistributionGroupMember",
        {"Identity": BOOK_CLUB, "Member": ALEX, "BypassSecurityGroupManagerCheck": True},
    )


def _is_member(sb: SandboxServer) -> bool:
    members = sb.tenant.group_snapshot(BOOK_CLUB)["members"]
    return ALEX in [m["primary_smtp_address"] for m in members]


async def test_throttle_is_429_with_retry_after_and_a_plain_text_body(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("throttle", retry_after="1.5", count=1))
    response = await _get(sandbox, http, token)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1.5"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == THROTTLE_TEXT
    assert sandbox.requests[-1].fault == "throttle"
    assert sandbox.requests[-1].status == 429


async def test_unavailable_is_503(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("unavailable", count=1))
    response = await _get(sandbox, http, token)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


async def test_gateway_timeout_is_504(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("gateway_timeout", count=1))
    assert (await _get(sandbox, http, token)).status_code == 504


async def test_transient_500_names_ad_transient_exception(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("transient_500", count=1))
    response = await _get(sandbox, http, token)
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "InternalServerError"
    detail = body["error"]["details"][0]["message"]
    assert "|Microsoft.Exchange.Data.Directory.ADTransientException|" in detail


async def test_server_error_500_names_a_non_transient_exception(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("server_error_500", count=1))
    response = await _get(sandbox, http, token)
    assert response.status_code == 500
    detail = response.json()["error"]["details"][0]["message"]
    assert "Transient" not in detail and "Overloaded" not in detail
    assert "System.NullReferenceException" in detail


async def test_fault_errors_follow_the_error_format_setting(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.update_settings({"error_format": "json"})
    sandbox.inject(Fault("transient_500", count=1))
    response = await _get(sandbox, http, token)
    detail = json.loads(response.json()["error"]["details"][0]["message"])
    assert detail["TypeName"] == "Microsoft.Exchange.Data.Directory.ADTransientException"


async def test_latency_delays_then_answers_normally(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("latency", latency_ms=300, count=1))
    started = time.monotonic()
    response = await _get(sandbox, http, token)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and response.json()["value"]
    assert sandbox.requests[-1].fault == "latency"


async def test_drop_closes_the_connection_before_executing(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("drop", cmdlet="Add-DistributionGroupMember", count=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await _add_alex(sandbox, http, token)
    assert not _is_member(sandbox)
    assert sandbox.requests[-1].status is None
    assert sandbox.requests[-1].fault == "drop"


async def test_drop_after_execute_loses_the_response_of_a_done_write(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("drop_after_execute", cmdlet="Add-DistributionGroupMember", count=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await _add_alex(sandbox, http, token)
    assert _is_member(sandbox)  # the write happened although the client never heard back
    retry = await _add_alex(sandbox, http, token)
    assert retry.status_code == 400
    assert "MemberAlreadyExistsException" in retry.json()["error"]["details"][0]["message"]


async def test_empty_403_has_no_body_and_an_x_ms_diagnostics_header(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("empty_403", count=1))
    response = await _get(sandbox, http, token)
    assert response.status_code == 403
    assert response.content == b""
    assert "isn't supported in this scenario" in response.headers["x-ms-diagnostics"]


async def test_plain_text_is_a_200_that_is_not_json(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("plain_text", count=1))
    response = await _get(sandbox, http, token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_gzip_mislabelled_advertises_gzip_over_plain_json(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("gzip_mislabelled", count=1))
    with pytest.raises(httpx.DecodingError):
        await _get(sandbox, http, token)  # httpx believes the header and fails to gunzip
    async with http.stream(
        "POST",
        sandbox.base_url + f"/adminapi/beta/{sandbox.tenant_id}/InvokeCommand",
        json={"CmdletInput": {"CmdletName": "Get-DistributionGroup", "Parameters": {}}},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.headers.get("content-encoding") is None  # the fault was used up
    sandbox.inject(Fault("gzip_mislabelled", count=1))
    async with http.stream(
        "POST",
        sandbox.base_url + f"/adminapi/beta/{sandbox.tenant_id}/InvokeCommand",
        json={"CmdletInput": {"CmdletName": "Get-DistributionGroup", "Parameters": {}}},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.headers["content-encoding"] == "gzip"
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert json.loads(raw)["value"]  # the real JSON, not gzipped


async def test_unauthorized_is_a_401_like_an_expired_token(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("unauthorized", count=1))
    first = await _get(sandbox, http, token)
    assert first.status_code == 401
    assert 'error="invalid_token"' in first.headers["WWW-Authenticate"]
    assert (await _get(sandbox, http, token)).status_code == 200  # count 1: once only


async def test_count_limits_how_many_calls_a_fault_affects(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("unavailable", count=2))
    statuses = [(await _get(sandbox, http, token)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_a_fault_without_count_lasts_until_cleared(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("gateway_timeout"))
    statuses = [(await _get(sandbox, http, token)).status_code for _ in range(3)]
    sandbox.clear_faults()
    statuses.append((await _get(sandbox, http, token)).status_code)
    assert statuses == [504, 504, 504, 200]


async def test_a_fault_for_one_cmdlet_leaves_the_others_alone(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("throttle", cmdlet="add-distributiongroupmember"))  # case-insensitive
    assert (await _get(sandbox, http, token)).status_code == 200
    assert (await _add_alex(sandbox, http, token)).status_code == 429


async def test_faults_apply_in_the_order_injected(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    sandbox.inject(Fault("throttle", count=1))
    sandbox.inject(Fault("unavailable", count=1))
    statuses = [(await _get(sandbox, http, token)).status_code for _ in range(3)]
    assert statuses == [429, 503, 200]


async def test_faults_apply_only_after_the_token_is_checked(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    sandbox.inject(Fault("throttle", count=1))
    assert (await _get(sandbox, http, "not-a-token")).status_code == 401
    assert len(sandbox.faults.active()) == 1  # not spent on the refused call


def test_probability_draws_are_seeded_and_repeatable() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(seed)
        plan.add(Fault("throttle", probability=0.5))
        return [plan.pick("Get-DistributionGroup") is not None for _ in range(40)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 5 < sum(pattern(7)) < 35


async def test_the_fault_seed_setting_reseeds_the_draws(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    async def run() -> list[int]:
        sandbox.update_settings({"fault_seed": 42})
        sandbox.clear_faults()
        sandbox.inject(Fault("unavailable", probability=0.5))
        return [(await _get(sandbox, http, token)).status_code for _ in range(12)]

    first = await run()
    sandbox.update_settings({"fault_seed": 0})
    assert await run() == first
    assert set(first) == {200, 503}


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "explode"},
        {"kind": "throttle", "count": 0},
        {"kind": "throttle", "probability": 1.5},
        {"kind": "latency"},
        {"kind": "throttle", "colour": "red"},
        {"cmdlet": "Get-DistributionGroup"},
    ],
)
def test_an_invalid_fault_is_refused_with_a_reason(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault.from_json(bad)
