"""Access tokens for Exchange Online: TokenService mints them, keeps a record of each one it
issued (for counting and revocation), and validates the bearer tokens InvokeCommand receives.

Access tokens look like the v1 tokens Exchange Online gets (iss https://sts.windows.net/<tid>/,
aud https://outlook.office365.com, roles Exchange.ManageAsApp). Who may get one is decided by
client_credentials.py; the HTTP endpoints msal talks to are in entra_endpoints.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import jwt
from cryptography import x509

from .client_credentials import ClientCredentials
from .entra_protocol import EXCHANGE_APP_ID, EXCHANGE_RESOURCE, b64url, sts_issuer
from .tenant import Tenant
from .tls import KeyPair, b64url_thumbprint, thumbprint_sha1

ACCESS_TOKEN_AUDIENCES = (EXCHANGE_RESOURCE, EXCHANGE_RESOURCE + "/", EXCHANGE_APP_ID)
MANAGE_AS_APP_ROLE = "Exchange.ManageAsApp"
# "Exchange Recipient Administrator", the Entra role the contract tells admins to assign.
_RECIPIENT_ADMIN_ROLE_TEMPLATE = "31392ffb-586c-42d1-9346-e59415a2cc4e"


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
        self.signing = signing
        self.kid = b64url_thumbprint(thumbprint_sha1(signing.cert))
        self._lifetime = lifetime_seconds
        self._lock = threading.Lock()
        self._issued: dict[str, IssuedToken] = {}
        self._revoked_at: float | None = None
        self.tokens_issued = 0
        self.issued_per_client: Counter[str] = Counter()
        self.credentials = ClientCredentials(tenant)

    # --- registration and bookkeeping --------------------------------------------------------

    def register_certificate(self, client_id: str, cert: x509.Certificate) -> None:
        """Let `client_id` authenticate with assertions signed by this certificate's key."""
        self.credentials.register_certificate(client_id, cert)

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
        app = self.credentials.app(client_id)
        jti = b64url(uuid.uuid4().bytes)
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
            self.signing.key,
            algorithm="RS256",
            headers={"typ": "JWT", "x5t": self.kid, "kid": self.kid},
        )
        record = IssuedToken(jti, client_id, auth_method, now, now + lifetime)
        return token, record

    def issue(self, client_id: str, auth_method: str) -> tuple[str, int]:
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
                self.signing.key.public_key(),
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
