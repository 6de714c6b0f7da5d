"""Entra ID stand-in: the three endpoints msal's client-credentials flow touches.

Served (all under /{tenant}/, where {tenant} is the tenant GUID or its initial domain):
  GET  v2.0/.well-known/openid-configuration   what msal reads first (instance_discovery=False)
  GET  discovery/v2.0/keys                     the JWKS that verifies our access tokens
  POST oauth2/v2.0/token                       grant_type=client_credentials, secret or assertion

This module owns the HTTP side only: the OpenID metadata, the JWKS of the signing key, and the
token answer. Who the caller is comes from client_credentials.py, the token from tokens.py, the
error shape from entra_protocol.py.
"""

from __future__ import annotations

import base64
import uuid

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from .entra_protocol import NO_CACHE, EntraError, b64url, origin, sts_issuer
from .tokens import TokenService


class EntraEndpoints:
    """The Entra ID routes of one sandbox, answering with its TokenService."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens
        self.tenant = tokens.tenant

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._jwks)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)

    async def _openid(self, request: web.Request) -> web.Response:
        try:
            self._check_tenant(request.match_info["tenant"])
        except EntraError as exc:
            # Entra answers discovery for an unknown tenant with 400 invalid_tenant; msal turns
            # that into a ValueError at ConfidentialClientApplication(...) construction.
            exc.error = "invalid_tenant"
            return exc.response(_correlation_id(request))
        base = f"{origin(request)}/{self.tenant.tenant_id}"
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid", "roles"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "sandbox.local",
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        try:
            self._check_tenant(request.match_info["tenant"])
        except EntraError as exc:
            return exc.response(_correlation_id(request))
        key = self.tokens.signing.key
        assert isinstance(key, rsa.RSAPrivateKey)  # tls.ensure_keys only keeps RSA signing keys
        numbers = key.public_key().public_numbers()
        der = self.tokens.signing.cert.public_bytes(Encoding.DER)
        return web.json_response(
            {
                "keys": [
                    {
                        "kty": "RSA",
                        "use": "sig",
                        "kid": self.tokens.kid,
                        "x5t": self.tokens.kid,
                        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                        "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
                        "x5c": [base64.b64encode(der).decode("ascii")],
                        "issuer": sts_issuer(self.tenant.tenant_id),
                    }
                ]
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        correlation_id = _correlation_id(request)
        try:
            self._check_tenant(request.match_info["tenant"])
            form = await request.post()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            client_id, method = self.tokens.credentials.authenticate_request(request, fields)
            token, lifetime = self.tokens.issue(client_id, method)
        except EntraError as exc:
            return exc.response(correlation_id)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
            headers={**NO_CACHE, "client-request-id": correlation_id},
        )

    def _check_tenant(self, value: str) -> None:
        if not self.tenant.matches_tenant(value):
            raise EntraError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{value}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud. Check with your subscription "
                "administrator, this may happen if there are no active subscriptions for the "
                "tenant.",
            )


def _correlation_id(request: web.Request) -> str:
    # msal sends client-request-id; Entra echoes it as the correlation id.
    return request.headers.get("client-request-id") or str(uuid.uuid4())
