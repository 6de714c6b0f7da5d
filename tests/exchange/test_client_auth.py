"""Tokens: real msal against the sandbox's token endpoint, with a secret or a certificate."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pydantic import SecretStr

from exchange.auth import MsalTokenSource
from exchange.client import ExchangeClient
from exchange.errors import ExchangeAuthError, ExchangeConfigError, ExchangePermissionError
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from tests.certs import app_certificate, write_pem
from tests.exchange.conftest import DEMO_APP_ID, ConfigFactory

GROUP = "finance-emea@contoso.com"


def _register(sandbox: SandboxServer, cert: x509.Certificate) -> None:
    sandbox.tokens.register_certificate(DEMO_APP_ID, cert)


async def test_a_thousand_calls_fetch_one_token(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    for _ in range(1000):
        await client.get_distribution_group(GROUP)

    assert sandbox.tokens_issued == 1


async def test_a_hundred_concurrent_calls_share_one_token_fetch_and_one_pool(
    sandbox: SandboxServer, make_config: ConfigFactory
) -> None:
    async with ExchangeClient(make_config(max_connections=8)) as client:
        groups = await asyncio.gather(*(client.get_distribution_group(GROUP) for _ in range(100)))

    assert {g.name for g in groups} == {"finance-emea"}
    assert sandbox.tokens_issued == 1
    connections = {r.peer for r in sandbox.requests}
    assert 1 <= len(connections) <= 8


async def test_a_revoked_token_is_renewed_once_and_the_call_succeeds(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    await client.get_distribution_group(GROUP)
    sandbox.revoke_tokens()

    group = await client.get_distribution_group(GROUP)

    assert group.name == "finance-emea"
    assert sandbox.tokens_issued == 2
    assert [r.status for r in sandbox.requests] == [200, 401, 200]


async def test_a_401_that_persists_after_renewal_is_a_permission_error_not_a_loop(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    sandbox.inject(Fault("unauthorized", cmdlet="*"))

    with pytest.raises(ExchangePermissionError):
        await client.get_distribution_group(GROUP)

    assert [r.status for r in sandbox.requests] == [401, 401]


async def test_a_token_is_replaced_before_it_expires(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    # A two-second token is due for renewal after one second, before Exchange would refuse it.
    sandbox.update_settings({"token_lifetime_seconds": 2})
    await client.get_distribution_group(GROUP)
    await asyncio.sleep(1.2)

    await client.get_distribution_group(GROUP)

    assert sandbox.tokens_issued == 2
    assert all(r.status == 200 for r in sandbox.requests)


async def test_a_certificate_in_a_pem_file_obtains_a_token(
    sandbox: SandboxServer, make_config: ConfigFactory, tmp_path: Path
) -> None:
    key, cert = app_certificate(days_valid=30)
    _register(sandbox, cert)
    config = make_config(
        client_secret=None, certificate_path=write_pem(tmp_path / "app.pem", key, cert)
    )

    async with ExchangeClient(config) as client:
        group = await client.get_distribution_group(GROUP)

    assert group.name == "finance-emea" and sandbox.tokens_issued == 1


async def test_a_password_protected_pfx_obtains_a_token(
    sandbox: SandboxServer, make_config: ConfigFactory, tmp_path: Path
) -> None:
    key, cert = app_certificate(days_valid=30)
    _register(sandbox, cert)
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"app", key, cert, None, serialization.BestAvailableEncryption(b"s3cret")
        )
    )
    config = make_config(
        client_secret=None, certificate_path=pfx, certificate_password=SecretStr("s3cret")
    )

    async with ExchangeClient(config) as client:
        assert (await client.get_distribution_group(GROUP)).name == "finance-emea"


def test_a_wrong_pfx_password_is_named_before_anything_is_sent(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    key, cert = app_certificate(days_valid=30)
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"app", key, cert, None, serialization.BestAvailableEncryption(b"right")
        )
    )
    config = make_config(
        client_secret=None, certificate_path=pfx, certificate_password=SecretStr("wrong")
    )

    with pytest.raises(ExchangeConfigError, match="cannot read the certificate"):
        MsalTokenSource(config)


def test_an_expired_certificate_is_named_with_its_date(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    key, cert = app_certificate(days_valid=-1)
    config = make_config(
        client_secret=None, certificate_path=write_pem(tmp_path / "old.pem", key, cert)
    )

    with pytest.raises(ExchangeAuthError, match="expired on") as caught:
        MsalTokenSource(config)
    assert caught.value.code == "certificate_expired"


async def test_an_unregistered_certificate_is_refused_by_entra(
    sandbox: SandboxServer, make_config: ConfigFactory, tmp_path: Path
) -> None:
    key, cert = app_certificate(days_valid=30)
    config = make_config(
        client_secret=None, certificate_path=write_pem(tmp_path / "app.pem", key, cert)
    )

    async with ExchangeClient(config) as client:
        with pytest.raises(ExchangeAuthError) as caught:
            await client.get_distribution_group(GROUP)

    assert caught.value.code.startswith("AADSTS")
    assert sandbox.requests == []


async def test_a_wrong_secret_is_refused_with_its_aadsts_code(
    sandbox: SandboxServer, make_config: ConfigFactory
) -> None:
    async with ExchangeClient(make_config(client_secret=SecretStr("wrong"))) as client:
        with pytest.raises(ExchangeAuthError) as caught:
            await client.get_distribution_group(GROUP)

    assert caught.value.code == "AADSTS7000215"
    assert sandbox.requests == []


async def test_an_unknown_app_is_refused_with_its_aadsts_code(make_config: ConfigFactory) -> None:
    config = make_config(client_id="00000000-0000-0000-0000-000000000000")
    async with ExchangeClient(config) as client:
        with pytest.raises(ExchangeAuthError) as caught:
            await client.get_distribution_group(GROUP)

    assert caught.value.code == "AADSTS700016"


async def test_a_wrong_tenant_is_refused(make_config: ConfigFactory) -> None:
    config = make_config(tenant="fabrikam.onmicrosoft.com")
    async with ExchangeClient(config) as client:
        with pytest.raises(ExchangeAuthError) as caught:
            await client.get_distribution_group(GROUP)

    assert caught.value.code == "AADSTS90002"


async def test_an_unreachable_authority_is_an_auth_error_not_a_crash(
    make_config: ConfigFactory,
) -> None:
    config = make_config(authority_host="https://127.0.0.1:9")  # nothing listens on port 9
    async with ExchangeClient(config) as client:
        with pytest.raises(ExchangeAuthError, match="authority_unreachable"):
            await client.get_distribution_group(GROUP)
