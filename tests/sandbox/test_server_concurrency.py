"""The sandbox keeps up with a client that fans out: 100 requests in flight at once."""

from __future__ import annotations

import asyncio

import httpx

from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from tests.sandbox.conftest import invoke, ssl_context_for

GROUPS = ["book-club@contoso.com", "marketing@contoso.com", "finance-emea@contoso.com"]


async def test_100_concurrent_requests_are_all_answered(sandbox: SandboxServer, token: str) -> None:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        verify=ssl_context_for(sandbox.ca_file), trust_env=False, limits=limits, timeout=60
    ) as http:
        responses = await asyncio.gather(
            *(
                invoke(
                    http,
                    sandbox,
                    token,
                    "Get-DistributionGroup",
                    {"Identity": GROUPS[i % len(GROUPS)]},
                    headers={"client-request-id": f"00000000-0000-0000-0000-{i:012d}"},
                )
                for i in range(100)
            )
        )
    assert [r.status_code for r in responses] == [200] * 100
    for i, response in enumerate(responses):  # each answer belongs to its own request
        (group,) = response.json()["value"]
        assert group["PrimarySmtpAddress"] == GROUPS[i % len(GROUPS)]
        assert response.headers["client-request-id"] == f"00000000-0000-0000-0000-{i:012d}"
    assert len(sandbox.requests) == 100
    assert len({r.peer for r in sandbox.requests}) > 1  # really in parallel, many connections


async def test_concurrent_requests_overlap_while_one_is_slow(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    # A slow call (latency fault) must not hold up the others: the server is not serialised.
    sandbox.inject(Fault("latency", cmdlet="Get-DistributionGroupMember", latency_ms=1500))
    slow = asyncio.create_task(
        invoke(http, sandbox, token, "Get-DistributionGroupMember", {"Identity": GROUPS[0]})
    )
    await asyncio.sleep(0.1)
    fast = await invoke(http, sandbox, token, "Get-DistributionGroup", {"Identity": GROUPS[0]})
    assert fast.status_code == 200
    assert not slow.done()
    assert (await slow).status_code == 200
