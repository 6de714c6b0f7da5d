"""The Exchange calls an "add me" request costs, end to end, pinned: counted in the sandbox's
request log (bench/exchange_calls.py drives the real bot, use case, approvals and writer), so a
change that adds a call fails here. The minimum and why: bench/README.md."""

from __future__ import annotations

import pytest

from bench.exchange_calls import APPROVERS, Count, measure
from exchange.client import ExchangeClient
from exchange.sandbox.server import SandboxServer

# scenario -> (calls per phase without approver resolution, approver resolution calls)
PINNED = {
    "ApprovalRequired, owned by people": (
        {"preview": 2, "jobs after decision": 1},
        {"Get-DistributionGroup": 3, "Get-User": 3},
    ),
    "Open": ({"preview": 2, "jobs after submit": 1}, {"Get-DistributionGroup": 1, "Get-User": 1}),
    "ApprovalRequired, owned by a group": (
        {"preview": 2, "jobs after decision": 1},
        {
            "Get-DistributionGroup": 3,
            "Get-Recipient": 3,
            "Get-DistributionGroupMember": 3,
            "Get-User": 6,
        },
    ),
    "already a member": ({"preview": 2}, {}),
}


@pytest.fixture
async def counted(client: ExchangeClient, sandbox: SandboxServer) -> dict[str, Count]:
    return await measure(client, sandbox.requests)


@pytest.mark.parametrize("scenario", sorted(PINNED))
async def test_an_add_me_request_costs_the_pinned_exchange_calls_per_phase(
    counted: dict[str, Count], scenario: str
) -> None:
    phases, resolving = PINNED[scenario]
    count = counted[scenario]

    by_phase = {
        p: n for p, calls in count.calls.items() if p != APPROVERS and (n := sum(calls.values()))
    }
    assert by_phase == phases
    assert dict(count.calls.get(APPROVERS, {})) == resolving
    assert count.total() <= 3


async def test_the_preview_reads_the_list_once_and_tests_membership_in_one_call(
    counted: dict[str, Count],
) -> None:
    for count in counted.values():
        assert dict(count.calls["preview"]) == {"Get-DistributionGroup": 1, "Get-Recipient": 1}


async def test_a_bot_and_worker_run_fetches_one_token_for_all_its_calls(
    client: ExchangeClient, sandbox: SandboxServer
) -> None:
    issued = sandbox.tokens_issued

    counted = await measure(client, sandbox.requests)

    assert sum(c.total() + c.approver_resolution() for c in counted.values()) > 30
    assert sandbox.tokens_issued - issued == 1
    assert client.tokens.fetches == 1
