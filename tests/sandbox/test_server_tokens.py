"""tokens.py: the Entra ID stand-in, driven by the real msal library over real HTTPS."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from exchange.sandbox import tls
from exchange.sandbox.server import SandboxServer
from tests.sandbox.conftest import SCOPE, MsalFactory, acquire

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


# --- client secret through msal ------------------------------------------------------------------


async def test_msal_obtains_a_token_with_the_client_secret(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    app = await make_msal(*demo_app)
    result = await acquire(app)
    assert result.get("token_type") == "Bearer", result
    assert result["expires_in"] > 3000
    assert sandbox.tokens_issued == 1


async def test_the_access_token_carries_exchange_app_only_claims(
    sandbox: SandboxServer, token: str, demo_app: tuple[str, str]
) -> None:
    claims = _claims(token)
    assert claims["aud"] == "https://outlook.office365.com"
    assert claims["iss"] == f"https://sts.windows.net/{sandbox.tenant_id}/"
    assert claims["tid"] == sandbox.tenant_id
    assert claims["appid"] == demo_app[0]
    assert claims["roles"] == ["Exchange.ManageAsApp"]
    assert claims["exp"] - claims["iat"] == 3599
    assert claims["nbf"] <= time.time() < claims["exp"]
    assert claims["jti"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


async def test_a_second_acquire_is_served_from_msals_cache(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    app = await make_msal(*demo_app)
    first = await acquire(app)
    second = await acquire(app)
    assert second["access_token"] == first["access_token"]
    assert second.get("token_source") == "cache"
    assert sandbox.tokens_issued == 1


async def test_tokens_are_counted_per_client(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    for _ in range(3):  # three apps (three msal caches) for the same client id
        assert "access_token" in await acquire(await make_msal(*demo_app))
    assert sandbox.tokens_issued == 3
    assert sandbox.tokens.issued_per_client == {demo_app[0]: 3}


async def test_the_token_lifetime_follows_the_setting(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    sandbox.update_settings({"token_lifetime_seconds": 600})
    result = await acquire(await make_msal(*demo_app))
    claims = _claims(result["access_token"])
    assert claims["exp"] - claims["iat"] == 600
    assert result["expires_in"] <= 600


async def test_the_initial_domain_works_as_the_authority_tenant(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    authority = f"{sandbox.base_url}/{sandbox.tenant.initial_domain}"
    app = await make_msal(*demo_app, authority=authority)
    result = await acquire(app)
    assert _claims(result["access_token"])["tid"] == sandbox.tenant_id


async def test_a_wrong_secret_gives_msal_an_invalid_client_error(
    make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    result = await acquire(await make_msal(demo_app[0], "not-the-secret"))
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert result["error_codes"] == [7000215]
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert result[key], key


async def test_an_unknown_client_gives_msal_an_application_not_found_error(
    make_msal: MsalFactory,
) -> None:
    client_id = str(uuid.uuid4())
    result = await acquire(await make_msal(client_id, "whatever"))
    assert result["error"] == "unauthorized_client"
    assert result["error_description"].startswith(
        f"AADSTS700016: Application with identifier '{client_id}' was not found"
    )


async def test_a_wrong_tenant_fails_msals_discovery_with_aadsts90002(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    # Entra answers discovery for an unknown tenant with 400, so msal raises in its constructor
    # rather than returning an error dict from acquire_token_for_client; the Entra body survives
    # only in the chained exception.
    with pytest.raises(ValueError, match="Unable to get authority configuration") as raised:
        await make_msal(*demo_app, authority=f"{sandbox.base_url}/{uuid.uuid4()}")
    assert "AADSTS90002" in str(raised.value.__context__)
    assert "invalid_tenant" in str(raised.value.__context__)


async def test_a_wrong_tenant_on_the_token_endpoint_answers_like_entra(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    response = await http.post(
        f"{sandbox.base_url}/fabrikam.onmicrosoft.com/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": demo_app[0],
            "client_secret": demo_app[1],
            "scope": SCOPE,
        },
        headers={"client-request-id": "c0ffee00-0000-0000-0000-000000000001"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error_description"].startswith("AADSTS90002: Tenant 'fabrikam.onmicrosoft.com'")
    assert body["correlation_id"] == "c0ffee00-0000-0000-0000-000000000001"


async def test_a_scope_other_than_exchange_is_refused_with_aadsts70011(
    make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    app = await make_msal(*demo_app)
    result = await asyncio.to_thread(
        app.acquire_token_for_client, ["https://graph.microsoft.com/.default"]
    )
    assert result["error"] == "invalid_scope"
    assert result["error_description"].startswith("AADSTS70011:")


async def test_a_grant_other_than_client_credentials_is_unsupported(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    response = await http.post(
        f"{sandbox.authority}/oauth2/v2.0/token",
        data={"grant_type": "password", "client_id": demo_app[0], "scope": SCOPE},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# --- discovery and keys --------------------------------------------------------------------------


async def test_discovery_names_the_sandbox_endpoints(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{sandbox.authority}/v2.0/.well-known/openid-configuration")
    config = response.json()
    assert config["token_endpoint"] == f"{sandbox.authority}/oauth2/v2.0/token"
    assert config["authorization_endpoint"] == f"{sandbox.authority}/oauth2/v2.0/authorize"
    assert config["jwks_uri"] == f"{sandbox.authority}/discovery/v2.0/keys"
    assert config["issuer"] == f"{sandbox.authority}/v2.0"
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]


async def test_the_published_keys_verify_an_issued_token(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str
) -> None:
    jwks = (await http.get(f"{sandbox.authority}/discovery/v2.0/keys")).json()
    (key,) = [k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"]]
    public_key = jwt.PyJWK(key).key
    claims = jwt.decode(
        token, public_key, algorithms=["RS256"], audience="https://outlook.office365.com"
    )
    assert claims["tid"] == sandbox.tenant_id


# --- certificate credentials through msal --------------------------------------------------------


async def test_msal_authenticates_with_the_client_pem_and_sha1_thumbprint(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    # msal's legacy form: RS256 with an x5t (SHA-1) header.
    credential = {
        "private_key": sandbox.keys.client.key_pem.decode(),
        "thumbprint": tls.thumbprint_sha1(sandbox.keys.client.cert),
    }
    result = await acquire(await make_msal(demo_app[0], credential))
    assert "access_token" in result, result
    assert _claims(result["access_token"])["appidacr"] == "2"


async def test_msal_authenticates_with_the_client_pfx(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    # The .pfx form: PS256 with an x5t#S256 header.
    credential = {
        "private_key_pfx_path": str(sandbox.keys.client_pfx_file),
        "passphrase": tls.PFX_PASSWORD,
    }
    result = await acquire(await make_msal(demo_app[0], credential))
    assert "access_token" in result, result


async def test_msal_authenticates_with_key_and_public_certificate(
    sandbox: SandboxServer, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    credential = {
        "private_key": sandbox.keys.client.key_pem.decode(),
        "public_certificate": sandbox.keys.client.cert_pem.decode(),
    }
    result = await acquire(await make_msal(demo_app[0], credential))
    assert "access_token" in result, result


async def test_an_unregistered_certificate_fails_signature_validation(
    tmp_path: Any, make_msal: MsalFactory, demo_app: tuple[str, str]
) -> None:
    other = tls.ensure_keys(tmp_path).client  # a certificate the tenant has never seen
    credential = {
        "private_key": other.key_pem.decode(),
        "thumbprint": tls.thumbprint_sha1(other.cert),
    }
    result = await acquire(await make_msal(demo_app[0], credential))
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith(
        "AADSTS700027: Client assertion failed signature validation."
    )


# --- hand-made client assertions -----------------------------------------------------------------


def _assertion(
    sandbox: SandboxServer,
    client_id: str,
    *,
    key: Any = None,
    algorithm: str = "RS256",
    aud: str | None = None,
    exp_offset: int = 600,
    iss: str | None = None,
) -> str:
    cert = sandbox.keys.client.cert
    now = int(time.time())
    return jwt.encode(
        {
            "aud": aud or f"{sandbox.authority}/oauth2/v2.0/token",
            "iss": iss or client_id,
            "sub": client_id,
            "iat": now - 10,
            "nbf": now - 10,
            "exp": now + exp_offset,
            "jti": str(uuid.uuid4()),
        },
        key or sandbox.keys.client.key,
        algorithm=algorithm,
        headers={"x5t": tls.b64url_thumbprint(tls.thumbprint_sha1(cert))},
    )


async def _post_assertion(
    sandbox: SandboxServer, http: httpx.AsyncClient, client_id: str, assertion: str
) -> httpx.Response:
    return await http.post(
        f"{sandbox.authority}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": SCOPE,
        },
    )


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
async def test_a_valid_assertion_is_accepted_with_either_rsa_algorithm(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str], algorithm: str
) -> None:
    assertion = _assertion(sandbox, demo_app[0], algorithm=algorithm)
    response = await _post_assertion(sandbox, http, demo_app[0], assertion)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


async def test_an_expired_assertion_is_refused(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    assertion = _assertion(sandbox, demo_app[0], exp_offset=-3600)
    response = await _post_assertion(sandbox, http, demo_app[0], assertion)
    assert response.status_code == 401
    assert response.json()["error_description"].startswith("AADSTS700024:")


async def test_an_assertion_for_another_audience_is_refused(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    assertion = _assertion(
        sandbox, demo_app[0], aud="https://login.microsoftonline.com/x/oauth2/v2.0/token"
    )
    response = await _post_assertion(sandbox, http, demo_app[0], assertion)
    assert response.status_code == 401
    assert response.json()["error_description"].startswith("AADSTS50012:")


async def test_an_assertion_whose_issuer_is_another_app_is_refused(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    assertion = _assertion(sandbox, demo_app[0], iss=str(uuid.uuid4()))
    response = await _post_assertion(sandbox, http, demo_app[0], assertion)
    assert response.status_code == 401
    assert response.json()["error_description"].startswith("AADSTS700021:")


async def test_an_assertion_signed_by_another_key_fails_signature_validation(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    # Right thumbprint in the header, wrong private key.
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assertion = _assertion(sandbox, demo_app[0], key=impostor)
    response = await _post_assertion(sandbox, http, demo_app[0], assertion)
    assert response.status_code == 401
    description = response.json()["error_description"]
    assert description.startswith("AADSTS700027: Client assertion failed signature validation.")


async def test_an_assertion_signed_with_hmac_is_refused(
    sandbox: SandboxServer, http: httpx.AsyncClient, demo_app: tuple[str, str]
) -> None:
    assertion = _assertion(sandbox, demo_app[0], key=b"k" * 64, algorithm="HS256")
    response = await _post_assertion(sandbox, http, demo_app[0], assertion)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
