"""InvokeCommand refuses every bad bearer token with 401 and Exchange's challenge header."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from exchange.sandbox.server import SandboxServer
from tests.sandbox.conftest import MsalFactory, acquire, invoke, invoke_url

BOOK_CLUB = "book-club@contoso.com"


def _assert_challenge(response: httpx.Response, *, invalid_token: bool = True) -> None:
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer client_id="00000002-0000-0ff1-ce00-000000000000"')
    assert "trusted_issuers=" in challenge
    assert 'token_types="app_asserted_user_v1 service_asserted_app_v1"' in challenge
    assert (
        'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"' in challenge
    )
    assert ('error="invalid_token"' in challenge) is invalid_token


async def _call(sb: SandboxServer, http: httpx.AsyncClient, token: str | None) -> httpx.Response:
    return await invoke(http, sb, token, "Get-DistributionGroup", {"Identity": BOOK_CLUB})


async def test_a_valid_token_is_accepted(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    assert (await _call(sandbox, http, token)).status_code == 200


async def test_no_authorization_header_is_401_without_an_error_code(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    response = await _call(sandbox, http, None)
    _assert_challenge(response, invalid_token=False)
    assert sandbox.requests[-1].has_authorization is False
    assert sandbox.requests[-1].status == 401


async def test_a_malformed_token_is_401(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    _assert_challenge(await _call(sandbox, http, "not-a-jwt"))


async def test_a_basic_authorization_header_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        invoke_url(sandbox),
        json={"CmdletInput": {"CmdletName": "Get-DistributionGroup", "Parameters": {}}},
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    _assert_challenge(response)


async def test_an_expired_token_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    expired, _ = sandbox.tokens.mint(demo_app[0], issued_at=time.time() - 7200)
    response = await _call(sandbox, http, expired)
    _assert_challenge(response)
    assert "expired" in response.headers["x-ms-diagnostics"]


async def test_a_token_for_another_audience_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    graph, _ = sandbox.tokens.mint(demo_app[0], overrides={"aud": "https://graph.microsoft.com"})
    response = await _call(sandbox, http, graph)
    _assert_challenge(response)
    assert "audience" in response.headers["x-ms-diagnostics"]


async def test_a_token_from_another_tenant_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    other = str(uuid.uuid4())
    foreign, _ = sandbox.tokens.mint(
        demo_app[0], overrides={"tid": other, "iss": f"https://sts.windows.net/{other}/"}
    )
    _assert_challenge(await _call(sandbox, http, foreign))


async def test_a_good_token_on_another_tenants_url_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroup",
        {"Identity": BOOK_CLUB},
        url=invoke_url(sandbox, "fabrikam.onmicrosoft.com"),
    )
    _assert_challenge(response)


async def test_the_initial_domain_in_the_url_is_accepted(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        token,
        "Get-DistributionGroup",
        {"Identity": BOOK_CLUB},
        url=invoke_url(sandbox, sandbox.tenant.initial_domain),
    )
    assert response.status_code == 200


async def test_a_token_with_a_bad_signature_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    # Same header and claims, signed by a key that is not the sandbox's.
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        impostor,
        algorithm="RS256",
        headers=jwt.get_unverified_header(token),
    )
    response = await _call(sandbox, http, forged)
    _assert_challenge(response)
    assert "signature" in response.headers["x-ms-diagnostics"]


async def test_an_unsigned_token_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    _assert_challenge(await _call(sandbox, http, unsigned))


async def test_a_token_without_the_manage_as_app_role_is_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    roleless, _ = sandbox.tokens.mint(demo_app[0], overrides={"roles": []})
    _assert_challenge(await _call(sandbox, http, roleless))


async def test_revoke_turns_every_issued_token_into_a_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    assert (await _call(sandbox, http, token)).status_code == 200
    sandbox.revoke_tokens()
    response = await _call(sandbox, http, token)
    _assert_challenge(response)
    assert "revoked" in response.headers["x-ms-diagnostics"]


async def test_a_token_issued_after_a_revoke_works(
    sandbox: SandboxServer,
    http: httpx.AsyncClient,
    make_msal: MsalFactory,
    demo_app: tuple[str, str],
) -> None:
    sandbox.revoke_tokens()
    fresh = await acquire(await make_msal(*demo_app))
    assert (await _call(sandbox, http, fresh["access_token"])).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_the_bearer_scheme_is_case_insensitive(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str, scheme: str
) -> None:
    response = await invoke(
        http,
        sandbox,
        None,
        "Get-DistributionGroup",
        {"Identity": BOOK_CLUB},
        headers={"Authorization": f"{scheme} {token}"},
    )
    assert response.status_code == 200
