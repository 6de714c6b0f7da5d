"""Retries, Retry-After, one client-request-id, and bodies that are not what they claim."""

from __future__ import annotations

import pytest

from exchange.client import ExchangeClient
from exchange.errors import CmdletError, ExchangeProtocolError, ExchangeUnavailable, ObjectNotFound
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from tests.exchange.conftest import ConfigFactory

GROUP = "finance-emea@contoso.com"


def _calls(sandbox: SandboxServer, cmdlet: str = "Get-DistributionGroup") -> list:  # type: ignore[type-arg]
    return [r for r in sandbox.requests if r.cmdlet == cmdlet]


async def test_throttling_waits_for_the_decimal_retry_after_and_reuses_the_request_id(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("throttle", cmdlet="Get-DistributionGroup", count=2, retry_after="0.3"))

    group = await client.get_distribution_group(GROUP)

    calls = _calls(sandbox)
    assert group.name == "finance-emea"
    assert [c.status for c in calls] == [429, 429, 200]
    assert len({c.client_request_id for c in calls}) == 1
    gaps = [later.time - earlier.time for earlier, later in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.3 for gap in gaps), gaps


@pytest.mark.parametrize("kind", ["unavailable", "gateway_timeout", "transient_500", "drop"])
async def test_passing_failures_are_retried_until_the_call_succeeds(
    sandbox: SandboxServer, client: ExchangeClient, kind: str
) -> None:
    sandbox.inject(Fault(kind, cmdlet="Get-DistributionGroup", count=3, retry_after="0"))  # type: ignore[arg-type]

    group = await client.get_distribution_group(GROUP)

    assert group.primary_smtp_address == GROUP
    calls = _calls(sandbox)
    assert len(calls) == 4 and calls[-1].status == 200
    assert len({c.client_request_id for c in calls}) == 1


async def test_retries_stop_after_five_and_name_the_last_failure(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("throttle", cmdlet="*", retry_after="0.01"))

    with pytest.raises(ExchangeUnavailable) as caught:
        await client.get_distribution_group(GROUP)

    assert len(_calls(sandbox)) == 6  # the first attempt and five retries
    assert caught.value.status == 429 and "throttled" in caught.value.message


async def test_a_dropped_connection_every_time_ends_as_unavailable(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("drop", cmdlet="*"))

    with pytest.raises(ExchangeUnavailable) as caught:
        await client.get_distribution_group(GROUP)

    assert "no answer from Exchange after 6 attempts" in caught.value.message


async def test_a_500_that_is_not_transient_is_not_retried(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("server_error_500", cmdlet="*", count=1))

    with pytest.raises(CmdletError) as caught:
        await client.get_distribution_group(GROUP)

    assert caught.value.status == 500
    assert len(_calls(sandbox)) == 1


@pytest.mark.parametrize("not_found_status", [404, 400])
@pytest.mark.parametrize("error_format", ["pipe", "json"])
async def test_not_found_is_never_retried_whatever_its_status_or_format(
    sandbox: SandboxServer, client: ExchangeClient, not_found_status: int, error_format: str
) -> None:
    sandbox.update_settings({"not_found_status": not_found_status, "error_format": error_format})

    with pytest.raises(ObjectNotFound) as caught:
        await client.get_distribution_group("no-such-list@contoso.com")

    assert caught.value.status == not_found_status
    assert "ManagementObjectNotFoundException" in caught.value.exception_type
    assert len(_calls(sandbox)) == 1


async def test_a_plain_text_success_body_is_a_protocol_error_quoting_it(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("plain_text", cmdlet="*", count=1))

    with pytest.raises(ExchangeProtocolError) as caught:
        await client.get_distribution_group(GROUP)

    assert "expected a JSON object" in caught.value.message


async def test_a_body_advertised_as_gzip_but_not_compressed_is_read_normally(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("gzip_mislabelled", cmdlet="*", count=1))

    group = await client.get_distribution_group(GROUP)

    assert group.name == "finance-emea"


async def test_a_slow_answer_past_the_timeout_is_retried_then_reported(
    sandbox: SandboxServer, make_config: ConfigFactory
) -> None:
    sandbox.inject(Fault("latency", cmdlet="*", latency_ms=400))

    async with ExchangeClient(make_config(timeout_seconds=0.1, max_retries=1)) as client:
        with pytest.raises(ExchangeUnavailable) as caught:
            await client.get_distribution_group(GROUP)

    assert "ReadTimeout" in caught.value.message
