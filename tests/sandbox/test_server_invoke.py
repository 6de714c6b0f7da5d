"""InvokeCommand: request handling, the success envelope, paging and $select (contract sec. 1-2)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from exchange.sandbox.server import SandboxServer
from tests.sandbox.conftest import invoke, invoke_body, invoke_headers, invoke_url, ssl_context_for

ALL_STAFF = "all-staff@contoso.com"  # 5,000 synthetic members in the demo tenant
BOOK_CLUB = "book-club@contoso.com"
ALEX = "alexw@contoso.com"


async def _all_pages(
    http: httpx.AsyncClient,
    sb: SandboxServer,
    token: str,
    cmdlet: str,
    parameters: dict[str, Any],
    *,
    query: str = "",
    prefer: str | None = None,
) -> list[dict[str, Any]]:
    """Follow @odata.nextLink, POSTing the same body each time, as a client must."""
    url: str | None = invoke_url(sb) + query
    headers = {"Prefer": prefer} if prefer else {}
    pages: list[dict[str, Any]] = []
    while url:
        response = await invoke(http, sb, token, cmdlet, parameters, url=url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        url = page.get("@odata.nextLink")
    return pages


async def test_a_success_has_the_contracts_envelope_and_headers(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(http, sandbox, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        "application/json;odata.metadata=minimal;odata.streaming=true;"
        "IEEE754Compatible=false;charset=utf-8"
    )
    assert response.headers["Rate-Limit-Limit"] == "30000"
    assert int(response.headers["Rate-Limit-Remaining"]) < 30000
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", response.headers["Rate-Limit-Reset"]
    )
    body = response.json()
    assert body["@odata.context"].endswith("/$metadata#Collection(Exchange.GenericHashTable)")
    assert body["adminapi.warnings@odata.type"] == "#Collection(String)"
    assert body["@adminapi.warnings"] == []
    assert [g["PrimarySmtpAddress"] for g in body["value"]] == [BOOK_CLUB]
    assert "@odata.nextLink" not in body


async def test_rate_limit_remaining_counts_down(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    first = await invoke(http, sandbox, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})
    second = await invoke(http, sandbox, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})
    remaining = [int(r.headers["Rate-Limit-Remaining"]) for r in (first, second)]
    assert remaining[1] == remaining[0] - 1


async def test_a_write_cmdlet_returns_an_empty_value_and_changes_the_directory(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        token,
        "Add-DistributionGroupMember",
        {"Identity": BOOK_CLUB, "Member": ALEX, "BypassSecurityGroupManagerCheck": True},
    )
    assert response.status_code == 200, response.text
    assert response.json()["value"] == []
    members = sandbox.tenant.group_snapshot(BOOK_CLUB)["members"]
    assert ALEX in [m["primary_smtp_address"] for m in members]


async def test_5000_members_at_maxpagesize_1000_come_in_5_pages(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    pages = await _all_pages(
        http,
        sandbox,
        token,
        "Get-DistributionGroupMember",
        {"Identity": ALL_STAFF, "ResultSize": "Unlimited"},
        prefer="odata.maxpagesize=1000",
    )
    assert [len(p["value"]) for p in pages] == [1000] * 5
    ids = [m["ExternalDirectoryObjectId"] for p in pages for m in p["value"]]
    assert len(set(ids)) == 5000  # no member twice, none skipped
    snapshot = sandbox.tenant.group_snapshot(ALL_STAFF)
    assert set(ids) == {m["external_directory_object_id"] for m in snapshot["members"]}
    assert len(sandbox.requests) == 5


async def test_without_prefer_pages_hold_100(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroupMember",
        {"Identity": ALL_STAFF, "ResultSize": "Unlimited"},
    )
    body = response.json()
    assert len(body["value"]) == 100
    assert "@odata.nextLink" in body
    assert "Preference-Applied" not in response.headers


async def test_a_maxpagesize_above_1000_is_capped_at_1000(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroupMember",
        {"Identity": ALL_STAFF, "ResultSize": "Unlimited"},
        headers={"Prefer": "odata.maxpagesize=5000"},
    )
    assert len(response.json()["value"]) == 1000
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=1000"


async def test_the_last_page_is_partial_and_has_no_next_link(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    pages = await _all_pages(
        http,
        sandbox,
        token,
        "Get-DistributionGroupMember",
        {"Identity": ALL_STAFF, "ResultSize": "Unlimited"},
        prefer="odata.maxpagesize=800",
    )
    assert [len(p["value"]) for p in pages] == [800] * 6 + [200]
    assert "@odata.nextLink" not in pages[-1]


async def test_next_link_is_absolute_on_the_same_host_and_keeps_select(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    url = f"https://localhost:{sandbox.port}/adminapi/beta/{sandbox.tenant_id}/InvokeCommand"
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroupMember",
        {"Identity": ALL_STAFF, "ResultSize": "Unlimited"},
        url=url + "?$select=Name",
    )
    link = urlsplit(response.json()["@odata.nextLink"])
    assert (link.scheme, link.netloc) == ("https", f"localhost:{sandbox.port}")
    assert link.path == f"/adminapi/beta/{sandbox.tenant_id}/InvokeCommand"
    query = parse_qs(link.query)
    assert query["$select"] == ["Name"] and query["$skiptoken"]


async def test_select_keeps_only_the_named_properties_and_their_annotations(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroup",
        {"Identity": BOOK_CLUB},
        url=invoke_url(sandbox) + "?$select=Name,Guid,EmailAddresses",
    )
    (group,) = response.json()["value"]
    assert {k.partition("@")[0] for k in group} == {"Name", "Guid", "EmailAddresses"}
    assert group["Name"] == "book-club"
    assert "EmailAddresses@odata.type" in group  # annotations travel with their property


async def test_a_skiptoken_from_another_cmdlet_is_a_bad_request(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    first = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroupMember",
        {"Identity": ALL_STAFF, "ResultSize": "Unlimited"},
    )
    response = await invoke(
        http, sandbox, token, "Get-DistributionGroup", {}, url=first.json()["@odata.nextLink"]
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


async def test_a_garbage_skiptoken_is_a_bad_request(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroup",
        {},
        url=invoke_url(sandbox) + "?$skiptoken=%%%",
    )
    assert response.status_code == 400


async def test_non_ascii_round_trips_in_both_directions(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http, sandbox, token, "Get-DistributionGroup", {"Identity": "Zürich-Team"}
    )
    assert response.status_code == 200, response.text
    (group,) = response.json()["value"]
    assert group["DisplayName"] == "Zürich § Team 🎉"
    assert "Zürich § Team 🎉".encode() in response.content  # UTF-8, not \\u escapes
    assert sandbox.requests[-1].parameters == {"Identity": "Zürich-Team"}


async def test_the_request_log_records_what_the_client_sent(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    request_id = str(uuid.uuid4())
    anchor = f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{sandbox.tenant_id}"
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroup",
        {"Identity": BOOK_CLUB},
        headers={
            "client-request-id": request_id,
            "X-AnchorMailbox": anchor,
            "Prefer": "odata.maxpagesize=1000",
        },
    )
    assert response.headers["client-request-id"] == request_id
    (entry,) = sandbox.requests
    assert entry.cmdlet == "Get-DistributionGroup"
    assert entry.x_cmdlet_name == "Get-DistributionGroup"
    assert entry.parameters == {"Identity": BOOK_CLUB}
    assert entry.client_request_id == request_id
    assert entry.anchor_mailbox == anchor
    assert entry.prefer == "odata.maxpagesize=1000"
    assert entry.has_authorization is True
    assert entry.status == 200 and entry.fault is None
    assert entry.peer is not None and entry.peer[0] == "127.0.0.1"
    assert entry.url.endswith("/InvokeCommand")


async def test_the_log_tells_connections_apart(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    for _ in range(3):  # one keep-alive connection
        await invoke(http, sandbox, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})
    ctx = ssl_context_for(sandbox.ca_file)
    async with httpx.AsyncClient(verify=ctx, trust_env=False) as other:  # a second connection
        await invoke(other, sandbox, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})
    peers = [r.peer for r in sandbox.requests]
    assert len(set(peers[:3])) == 1
    assert peers[3] != peers[0]


async def test_invalid_json_is_a_bad_request_not_a_crash(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await http.post(
        invoke_url(sandbox),
        content=b'{"CmdletInput": {',
        headers=invoke_headers(token, "Get-DistributionGroup"),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
    assert sandbox.requests[-1].status == 400


async def test_a_body_without_cmdletinput_is_a_bad_request(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await http.post(
        invoke_url(sandbox),
        json={"CmdletName": "Get-DistributionGroup"},
        headers=invoke_headers(token, "Get-DistributionGroup"),
    )
    assert response.status_code == 400
    assert "CmdletInput" in response.json()["error"]["message"]


async def test_a_body_that_is_not_utf8_is_a_bad_request(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await http.post(
        invoke_url(sandbox),
        content=json.dumps(
            invoke_body("Get-DistributionGroup", Identity="Zürich"), ensure_ascii=False
        ).encode("latin-1"),
        headers=invoke_headers(token, "Get-DistributionGroup"),
    )
    assert response.status_code == 400


async def test_an_unknown_path_is_a_json_404(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{sandbox.base_url}/adminapi/v2/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


async def test_get_on_invokecommand_is_a_json_405(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    response = await http.get(invoke_url(sandbox))
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["error"]["code"] == "MethodNotAllowed"
