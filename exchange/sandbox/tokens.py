"""Entra ID stand-in: the three endpoints msal's client-credentials flow touches, and validation of
the access tokens it hands out.

Served (all under /{tenant}/, where {tenant} is the tenant GUID or its initial domain):
  GET  v2.0/.well-known/openid-configuration   what msal reads first (instance_discovery=False)
  GET  discovery/v2.0/keys                     the JWKS that verifies our access tokens
  POST oauth2/v2.0/token                       grant_type=client_credentials, secret or assertion

Errors are shaped like Entra's ({error, error_description "AADSTSnnnn: ...", error_codes, timestamp,
trace_id, correlation_id}) because msal hands that dict straight to the caller, and the product
surfaces the AADSTS code to an admin. Access tokens look like the v1 tokens Exchange Online gets
(iss https://sts.windows.net/<tid>/, aud https://outlook.office365.com, roles Exchange.ManageAsApp).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from .tenant import AppRegistration, Tenant
from .tls import KeyPair, b64url_thumbprint, thumbprint_sha1, thumbprint_sha256

EXCHANGE_RESOURCE = "https://outlook.office365.com"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"  # "Office 365 Exchange Online"
EXCHANGE_SCOPE = EXCHANGE_RESOURCE + "/.default"
# Both spellings of the resource name the same service principal in Entra.
_ACCEPTED_SCOPES = frozenset({EXCHANGE_SCOPE.casefold(), f"{EXCHANGE_APP_ID}/.default"})
# OIDC scopes a client may add; Entra ignores them in the client-credentials grant.
_IGNORED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
ACCESS_TOKEN_AUDIENCES = (EXCHANGE_RESOURCE, EXCHANGE_RESOURCE + "/", EXCHANGE_APP_ID)
MANAGE_AS_APP_ROLE = "Exchange.ManageAsApp"
# "Exchange Recipient Administrator", the Entra role the contract tells admins to assign.
_RECIPIENT_ADMIN_ROLE_TEMPLATE = "31392ffb-586c-42d1-9346-e59415a2cc4e"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_ALGORITHMS = ("RS256", "PS256")
_CLOCK_SKEW_SECONDS = 300  # Entra tolerates five minutes of skew on client assertions


def sts_issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


class EntraError(Exception):
    """An error answer of the token endpoint (or of discovery for an unknown tenant)."""

    def __init__(self, status: int, error: str, code: int, text: str) -> None:
        super().__init__(f"AADSTS{code}: {text}")
        self.status = status
        self.error = error
        self.code = code
        self.text = text

    def response(self, correlation_id: str) -> web.Response:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id = str(uuid.uuid4())
        body = {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.text}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {now}"
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
        return web.json_response(body, status=self.status, headers=_NO_CACHE)


_NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class InvalidAccessToken(Exception):
    """A bearer token InvokeCommand must refuse; `reason` goes to the x-ms-diagnostics header."""

    def __init__(self, reason: str, *, present: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.present = present  # False when no token was sent at all (no error="invalid_token")


@dataclass
class IssuedToken:
    jti: str
    client_id: str
    auth_method: str  # "client_secret" | "client_assertion"
    issued_at: float
    expires_at: float
    revoked: bool = False


@dataclass(frozen=True)
class AccessClaims:
    app_id: str
    tenant_id: str
    jti: str
    claims: dict[str, Any]


class TokenService:
    """Issues and validates access tokens for one tenant. Thread-safe for its counters."""

    def __init__(
        self, tenant: Tenant, signing: KeyPair, *, lifetime_seconds: Callable[[], int]
    ) -> None:
        self.tenant = tenant
        self._signing = signing
        self._kid = b64url_thumbprint(thumbprint_sha1(signing.cert))
        self._lifetime = lifetime_seconds
        self._lock = threading.Lock()
        self._issued: dict[str, IssuedToken] = {}
        self._revoked_at: float | None = None
        self.tokens_issued = 0
        self.issued_per_client: Counter[str] = Counter()
        # thumbprint (upper hex, SHA-1 and SHA-256) -> certificate whose key checks assertions
        self._certificates: dict[str, x509.Certificate] = {}

    # --- registration and bookkeeping --------------------------------------------------------

    def register_certificate(self, client_id: str, cert: x509.Certificate) -> None:
        """Let `client_id` authenticate with assertions signed by this certificate's key."""
        app = self._app(client_id)
        if app is None:
            raise KeyError(f"no app registration {client_id!r} in the tenant")
        app.register_certificate(cert.public_bytes(Encoding.PEM))
        self._certificates[thumbprint_sha1(cert)] = cert
        self._certificates[thumbprint_sha256(cert)] = cert

    def revoke_all(self) -> int:
        """Every token issued before now answers 401 from now on. Returns how many were live."""
        with self._lock:
            self._revoked_at = time.time()
            live = [t for t in self._issued.values() if not t.revoked]
            for token in live:
                token.revoked = True
            return len(live)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "issued": self.tokens_issued,
                "per_client": dict(self.issued_per_client),
                "revoked_at": self._revoked_at,
                "tokens": [asdict(t) for t in self._issued.values()],
            }

    # --- issuing -----------------------------------------------------------------------------

    def mint(
        self,
        client_id: str,
        *,
        lifetime_seconds: int | None = None,
        issued_at: float | None = None,
        overrides: dict[str, Any] | None = None,
        auth_method: str = "client_secret",
    ) -> tuple[str, IssuedToken]:
        """Sign an access token without the OAuth exchange and without counting it as issued.

        For tests that need a token the endpoint would never give out (expired, another
        audience, another tenant): `overrides` replaces claims after they are built.
        """
        now = time.time() if issued_at is None else issued_at
        lifetime = self._lifetime() if lifetime_seconds is None else lifetime_seconds
        tid = self.tenant.tenant_id
        app = self._app(client_id)
        jti = _b64url(uuid.uuid4().bytes)
        # The service principal's object id: stable per (tenant, app), like a real one.
        oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox:{tid}:{client_id.lower()}"))
        claims: dict[str, Any] = {
            "aud": EXCHANGE_RESOURCE,
            "iss": sts_issuer(tid),
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + lifetime,
            "app_displayname": app.display_name if app else "",
            "appid": client_id,
            "appidacr": "2" if auth_method == "client_assertion" else "1",
            "idp": sts_issuer(tid),
            "idtyp": "app",
            "oid": oid,
            "roles": [MANAGE_AS_APP_ROLE],
            "sub": oid,
            "tid": tid,
            "uti": jti,
            "ver": "1.0",
            "wids": [_RECIPIENT_ADMIN_ROLE_TEMPLATE],
            "jti": jti,
        }
        claims.update(overrides or {})
        token = jwt.encode(
            claims,
            self._signing.key,
            algorithm="RS256",
            headers={"typ": "JWT", "x5t": self._kid, "kid": self._kid},
        )
        record = IssuedToken(jti, client_id, auth_method, now, now + lifetime)
        return token, record

    def _issue(self, client_id: str, auth_method: str) -> tuple[str, int]:
        lifetime = self._lifetime()
        token, record = self.mint(client_id, lifetime_seconds=lifetime, auth_method=auth_method)
        with self._lock:
            self._issued[record.jti] = record
            self.tokens_issued += 1
            self.issued_per_client[client_id] += 1
        return token, lifetime

    # --- validation of bearer tokens (InvokeCommand) -----------------------------------------

    def validate(self, authorization: str | None, path_tenant: str) -> AccessClaims:
        """Check an Authorization header as Exchange Online does; raise InvalidAccessToken."""
        if not authorization:
            raise InvalidAccessToken("No bearer token in the Authorization header.", present=False)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.casefold() != "bearer" or not token:
            raise InvalidAccessToken("The Authorization header is not a Bearer token.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidAccessToken("The token is malformed.") from None
        if header.get("alg") != "RS256":
            raise InvalidAccessToken(
                f"The token signing algorithm {header.get('alg')!r} is not allowed."
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._signing.key.public_key(),
                algorithms=["RS256"],
                audience=list(ACCESS_TOKEN_AUDIENCES),
                options={"require": ["exp", "nbf", "iat", "aud", "iss", "tid"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidAccessToken("The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise InvalidAccessToken(
                f"The audience claim value is invalid. Expected '{EXCHANGE_RESOURCE}'."
            ) from None
        except jwt.InvalidSignatureError:
            raise InvalidAccessToken("The token signature is invalid.") from None
        except jwt.ImmatureSignatureError:
            raise InvalidAccessToken("The token is not yet valid.") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidAccessToken(f"The token is invalid: {exc}.") from None
        tid = self.tenant.tenant_id
        if (
            str(claims.get("tid", "")).lower() != tid.lower()
            or claims.get("iss") != sts_issuer(tid)
            or not self.tenant.matches_tenant(path_tenant)
        ):
            raise InvalidAccessToken("The token was not issued for this tenant.")
        roles = claims.get("roles")
        if not isinstance(roles, list) or MANAGE_AS_APP_ROLE not in roles:
            raise InvalidAccessToken(f"The token does not carry the {MANAGE_AS_APP_ROLE} role.")
        jti = str(claims.get("jti") or claims.get("uti") or "")
        with self._lock:
            known = self._issued.get(jti)
            revoked = (
                known.revoked
                if known is not None
                else self._revoked_at is not None and claims["iat"] <= self._revoked_at
            )
        if revoked:
            raise InvalidAccessToken("The token has been revoked.")
        return AccessClaims(
            app_id=str(claims.get("appid", "")), tenant_id=tid, jti=jti, claims=claims
        )

    # --- HTTP ---------------------------------------------------------------------------------

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
        base = f"{_origin(request)}/{self.tenant.tenant_id}"
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
        key = self._signing.key
        assert isinstance(key, rsa.RSAPrivateKey)  # tls.ensure_keys only keeps RSA signing keys
        numbers = key.public_key().public_numbers()
        der = self._signing.cert.public_bytes(Encoding.DER)
        return web.json_response(
            {
                "keys": [
                    {
                        "kty": "RSA",
                        "use": "sig",
                        "kid": self._kid,
                        "x5t": self._kid,
                        "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                        "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
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
            client_id, method = self._authenticate_request(request, fields)
            token, lifetime = self._issue(client_id, method)
        except EntraError as exc:
            return exc.response(correlation_id)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
            headers={**_NO_CACHE, "client-request-id": correlation_id},
        )

    # --- the checks, in the order Entra applies them ------------------------------------------

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

    def _authenticate_request(self, request: web.Request, form: dict[str, str]) -> tuple[str, str]:
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
        app = self._app(client_id)
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
            f"{_origin(request)}/{tenant}/oauth2/v2.0/token"
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

    def _app(self, client_id: str) -> AppRegistration | None:
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


def _origin(request: web.Request) -> str:
    # From the Host header, so discovery works whichever loopback name the client used.
    return f"{request.scheme}://{request.host}"


def _correlation_id(request: web.Request) -> str:
    # msal sends client-request-id; Entra echoes it as the correlation id.
    return request.headers.get("client-request-id") or str(uuid.uuid4())


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%m/%d/%Y %H:%M:%S")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


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
