"""A call whose token Exchange refuses takes two round trips, and its log says so: the refused
attempt with status 401 "token refused, renewing", then the attempt on the renewed token."""

from __future__ import annotations

import logging

import pytest

from exchange.client import TOKEN_REFUSED, ExchangeClient
from exchange.errors import ExchangePermissionError
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from tests.exchange.conftest import DEMO_SECRET

GROUP = "finance-emea@contoso.com"


def _attempts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "exchange.client" and hasattr(r, "attempt")]


async def test_a_call_on_a_revoked_token_logs_the_refused_attempt_and_the_retry_as_two(
    sandbox: SandboxServer, client: ExchangeClient, caplog: pytest.LogCaptureFixture
) -> None:
    revoked = await client.tokens.token()  # held by the client before Exchange refuses it
    sandbox.revoke_tokens()
    caplog.set_level(logging.INFO, logger="exchange.client")

    group = await client.get_distribution_group(GROUP)

    assert group.name == "finance-emea"
    attempts = _attempts(caplog)
    assert [(r.attempt, r.status, r.failure) for r in attempts] == [
        (1, 401, TOKEN_REFUSED),
        (2, 200, ""),
    ]
    assert "attempt 1: HTTP 401, token refused, renewing in" in attempts[0].getMessage()
    assert "attempt 2: HTTP 200 in" in attempts[1].getMessage()
    # Both lines name the one client-request-id Exchange saw on both round trips.
    assert {r.client_request_id for r in attempts} == {
        r.client_request_id for r in sandbox.requests
    }
    assert [r.status for r in sandbox.requests] == [401, 200]
    renewed = await client.tokens.token()
    for record in attempts:
        line = f"{record.getMessage()} {record.__dict__}"
        for secret in (revoked, renewed, DEMO_SECRET):
            assert secret not in line


async def test_a_401_that_survives_the_renewal_logs_both_refusals_before_the_error(
    sandbox: SandboxServer, client: ExchangeClient, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.inject(Fault("unauthorized", cmdlet="*"))
    caplog.set_level(logging.INFO, logger="exchange.client")

    with pytest.raises(ExchangePermissionError):
        await client.get_distribution_group(GROUP)

    assert [(r.attempt, r.status, r.failure) for r in _attempts(caplog)] == [
        (1, 401, TOKEN_REFUSED),
        (2, 401, ""),
    ]
