"""Paging a result: pages 2..n are slices of the result page 1 computed, not the query re-run."""

from __future__ import annotations

from typing import Any

import httpx

from exchange.sandbox.server import SandboxServer
from tests.sandbox.conftest import invoke

ALL_STAFF = "all-staff@contoso.com"  # 5,000 synthetic members in the demo tenant
ALEX = "alexw@contoso.com"
MEMBERS = "Get-DistributionGroupMember"
EVERYONE = {"Identity": ALL_STAFF, "ResultSize": "Unlimited"}
PAGES_OF_1000 = {"Prefer": "odata.maxpagesize=1000"}


async def _page(
    http: httpx.AsyncClient,
    sb: SandboxServer,
    token: str,
    parameters: dict[str, Any],
    url: str | None = None,
) -> dict[str, Any]:
    response = await invoke(http, sb, token, MEMBERS, parameters, url=url, headers=PAGES_OF_1000)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _rest(
    http: httpx.AsyncClient,
    sb: SandboxServer,
    token: str,
    parameters: dict[str, Any],
    first: dict[str, Any],
) -> list[dict[str, Any]]:
    rows = list(first["value"])
    url = first.get("@odata.nextLink")
    while url:
        page = await _page(http, sb, token, parameters, url)
        rows.extend(page["value"])
        url = page.get("@odata.nextLink")
    return rows


async def _add_alex(http: httpx.AsyncClient, sb: SandboxServer, token: str) -> None:
    response = await invoke(
        http,
        sb,
        token,
        "Add-DistributionGroupMember",
        {"Identity": ALL_STAFF, "Member": ALEX, "BypassSecurityGroupManagerCheck": True},
    )
    assert response.status_code == 200, response.text


async def test_later_pages_show_the_directory_as_it_was_at_the_first_page(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    first = await _page(http, sandbox, token, EVERYONE)
    await _add_alex(http, sandbox, token)
    rows = await _rest(http, sandbox, token, EVERYONE, first)
    assert len(rows) == 5000
    assert ALEX not in {row["PrimarySmtpAddress"] for row in rows}
    again = await _rest(http, sandbox, token, EVERYONE, await _page(http, sandbox, token, EVERYONE))
    assert len(again) == 5001  # a new paging runs the query again


async def test_a_token_whose_result_was_dropped_still_pages_through_a_fresh_query(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    first = await _page(http, sandbox, token, EVERYONE)
    # More pagings left halfway than the sandbox keeps results for push the first one out.
    for _ in range(20):
        await _page(http, sandbox, token, EVERYONE)
    await _add_alex(http, sandbox, token)
    rows = await _rest(http, sandbox, token, EVERYONE, first)
    # Pages 2..6 come from the query run again, which finds the member added since.
    assert len(rows) == 5001
    assert ALEX in {row["PrimarySmtpAddress"] for row in rows}


async def test_another_body_under_a_kept_token_is_answered_for_that_body(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    first = await _page(http, sandbox, token, EVERYONE)
    fewer = {"Identity": ALL_STAFF, "ResultSize": 1500}
    page = await _page(http, sandbox, token, fewer, first["@odata.nextLink"])
    assert len(page["value"]) == 500
    assert "@odata.nextLink" not in page
