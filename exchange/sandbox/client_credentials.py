"""Client authentication at the token endpoint: the checks Entra applies to a client-credentials
request, in its order (grant type, client id, app registration, scope, then a client secret or
a client assertion signed by a registered certificate), and the certificates assertions are
checked with.

Apart from the token service because it decides only who the caller is; what the caller then
gets (a token, its claims, its lifetime) is tokens.py's business.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .app_registration import AppRegistration
from .entra_protocol import EXCHANGE_APP_ID, EXCHANGE_SCOPE, EntraError, origin
from .tenant import Tenant
from .tls import thumbprint_sha1, thumbprint_sha256

# Both spellings of the resource name the same service principal in Entra.
_ACCEPTED_SCOPES = frozenset({EXCHANGE_SCOPE.casefold(), f"{EXCHANGE_APP_ID}/.default"})
# OIDC scopes a client may add; Entra ignores them in the client-credentials grant.
_IGNORED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_ALGORITHMS = ("RS256", "PS256")
_CLOCK_SKEW_SECONDS = 300  # Entra tolerates five minutes of skew on client assertions


class ClientCredentials:
    """Checks a client-credentials request against the tenant's app registrations: the client
    id, the scope, and a client secret or a certificate-signed assertion."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        # thumbprint (upper hex, SHA-1 and SHA-256) -> certificate whose key checks assertions
        self._certificates: dict[str, x509.Certificate] = {}

    def register_certificate(self, client_id: str, cert: x509.Certificate) -> None:
        """Let `client_id` authenticate with assertions signed by this certificate's key."""
        app = self.app(client_id)
        if app is None:
            raise KeyError(f"no app registration {client_id!r} in the tenant")
        app.register_certificate(cert.public_bytes(Encoding.PEM))
        self._certificates[thumbprint_sha1(cert)] = cert
        self._certificates[thumbprint_sha256(cert)] = cert

    # --- the checks, in the order Entra applies them ------------------------------------------

    def authenticate_request(self, request: web.Request, form: dict[str, str]) -> tuple[str, str]:
        """Return (client_id, auth method) for a valid client-credentials request."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _missing("grant_type")
        if grant_type != "client_credentials":
            raise EntraError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        basic_id, basic_secret = _basic_auth(request.headers.get("Authorization"))
        assertion = form.get("client_assertion")
        client_id = form.get("client_id") or basic_id or _unverified_iss(assertion)
        if not client_id:
            raise _missing("client_id")
        app = self.app(client_id)
        if app is None:
            raise EntraError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant.initial_domain}'. This can happen if the application has not "
                "been installed by the administrator of the tenant or consented to by any user "
                "in the tenant. You may have sent your authentication request to the wrong "
                "tenant.",
            )
        self._check_scope(form.get("scope"))
        secret = form.get("client_secret") or basic_secret
        if assertion:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise EntraError(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: "
                    f"'client_assertion_type' with the value '{ASSERTION_TYPE}'.",
                )
            self._check_assertion(app, assertion, request)
            return app.client_id, "client_assertion"
        if secret:
            if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.secrets):
                raise EntraError(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    f"app '{app.client_id}'.",
                )
            return app.client_id, "client_secret"
        raise EntraError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )

    def _check_scope(self, scope: str | None) -> None:
        if not scope:
            raise _missing("scope")
        wanted = [s for s in scope.split() if s.casefold() not in _IGNORED_SCOPES]
        if len(wanted) != 1 or wanted[0].casefold() not in _ACCEPTED_SCOPES:
            raise EntraError(
                400,
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not valid. The scope "
                f"{scope} is not valid. This sandbox only grants {EXCHANGE_SCOPE}.",
            )

    def _check_assertion(self, app: AppRegistration, assertion: str, request: web.Request) -> None:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError:
            raise EntraError(
                401, "invalid_client", 50027, "JWT token is invalid or malformed."
            ) from None
        alg = header.get("alg")
        if alg not in _ASSERTION_ALGORITHMS:
            raise EntraError(
                401,
                "invalid_client",
                5002738,
                f"Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported "
                f"signing algorithms are: '{','.join(_ASSERTION_ALGORITHMS)}'",
            )
        cert, thumbprint = self._assertion_certificate(app, header)
        if cert is None:
            raise _signature_failure(
                app,
                "The key was not found.",
                thumbprint or "(no x5t or x5t#S256 header)",
            )
        # msal signs for the token_endpoint discovery gave it (the GUID form); a hand-made
        # assertion may name the initial domain instead. Both are this tenant's endpoint.
        token_endpoints = [
            f"{origin(request)}/{tenant}/oauth2/v2.0/token"
            for tenant in (self.tenant.tenant_id, self.tenant.initial_domain)
        ]
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]  # any key type jwt can verify
                algorithms=list(_ASSERTION_ALGORITHMS),
                options={"require": ["exp", "aud", "iss", "sub"], "verify_aud": False},
                leeway=_CLOCK_SKEW_SECONDS,
            )
        except jwt.InvalidSignatureError:
            raise _signature_failure(
                app,
                "The provided signature value did not match the expected signature value.",
                thumbprint or "",
            ) from None
        except jwt.ExpiredSignatureError:
            raise EntraError(
                401,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: {_iso_now()}.",
            ) from None
        except jwt.InvalidTokenError as exc:
            raise EntraError(
                401, "invalid_client", 50027, f"JWT token is invalid or malformed: {exc}."
            ) from None
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(
            isinstance(a, str) and a.rstrip("/").casefold() == e.casefold()
            for a in auds
            for e in token_endpoints
        ):
            raise EntraError(
                401,
                "invalid_client",
                50012,
                f"Client assertion audience claim does not match Realm issuer. Expected "
                f"'{token_endpoints[0]}', got {aud!r}.",
            )
        if str(claims.get("iss", "")).lower() != app.client_id.lower() or (
            str(claims.get("sub", "")).lower() != app.client_id.lower()
        ):
            raise EntraError(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. "
                "The iss and sub claims must both be the application's client id.",
            )

    def _assertion_certificate(
        self, app: AppRegistration, header: dict[str, Any]
    ) -> tuple[x509.Certificate | None, str | None]:
        """The registered certificate named by the assertion header, and its thumbprint."""
        registered = {t.upper() for t in app.certificate_thumbprints}
        thumbprint: str | None = None
        for name in ("x5t#S256", "x5t"):
            value = header.get(name)
            if not isinstance(value, str):
                continue
            try:
                thumbprint = _b64url_decode(value).hex().upper()
            except (ValueError, binascii.Error):
                continue
            if thumbprint not in registered:
                continue
            cert = self._certificates.get(thumbprint) or _x5c_certificate(header, thumbprint)
            if cert is not None:
                return cert, thumbprint
        return None, thumbprint

    def app(self, client_id: str) -> AppRegistration | None:
        wanted = client_id.strip().lower()
        for key, app in self.tenant.apps.items():
            if key.lower() == wanted:
                return app
        return None


# --- helpers -------------------------------------------------------------------------------------


def _missing(parameter: str) -> EntraError:
    return EntraError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


def _signature_failure(app: AppRegistration, reason: str, thumbprint: str) -> EntraError:
    return EntraError(
        401,
        "invalid_client",
        700027,
        f"Client assertion failed signature validation. [Reason - {reason}, Thumbprint of key "
        f"used by client: '{thumbprint}', Configured keys: see the certificates registered for "
        f"app Id '{app.client_id}'.]",
    )


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%m/%d/%Y %H:%M:%S")


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _basic_auth(header: str | None) -> tuple[str | None, str | None]:
    """client_secret_basic: client id and secret in an Authorization: Basic header."""
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else (None, None)


def _unverified_iss(assertion: str | None) -> str | None:
    """RFC 7523 lets a client omit client_id when the assertion's iss names it."""
    if not assertion:
        return None
    try:
        iss = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError:
        return None
    return iss if isinstance(iss, str) else None


def _x5c_certificate(header: dict[str, Any], thumbprint: str) -> x509.Certificate | None:
    """A certificate sent in the assertion's x5c, accepted only when its thumbprint is registered
    (the tenant file may register thumbprints without the certificate itself)."""
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        return None
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
    except (ValueError, binascii.Error):
        return None
    if thumbprint in (thumbprint_sha1(cert), thumbprint_sha256(cert)):
        return cert
    return None
