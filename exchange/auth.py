"""App-only tokens for Exchange Online: msal's client-credentials flow behind an httpx.Auth.

One msal application per client (and so per process), built lazily because msal fetches the
authority's OpenID configuration in its constructor. msal is blocking, so every msal call runs in
a worker thread behind an asyncio.Lock: a hundred concurrent calls wait for one token fetch
instead of starting a hundred. The token is kept here with its expiry, so a call on a fresh token
costs no thread hop; it is replaced five minutes before it expires, and once when Exchange answers
401 (expired early, revoked, or a claims challenge).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
    pkcs12,
)

from exchange.config import ExchangeConfig, require_file
from exchange.errors import ExchangeAuthError, ExchangeConfigError

# msal itself treats a token as expired five minutes early; renewing at the same point means a
# token handed out here is never one that Exchange is about to refuse.
REFRESH_MARGIN_SECONDS = 300.0


class TokenSource(Protocol):
    async def token(self) -> str: ...

    async def renew(self, stale: str) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # time.monotonic() after which a new token is fetched


class MsalTokenSource:
    """Client-credentials tokens from Entra ID (or the sandbox's stand-in) via msal."""

    def __init__(self, config: ExchangeConfig) -> None:
        self._config = config
        self._credential = _load_credential(config)
        self._app: Any = None
        self._session: requests.Session | None = None
        self._current: _Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # tokens actually obtained from Entra ID, not msal's cache

    async def token(self) -> str:
        current = self._current
        if current is not None and time.monotonic() < current.refresh_at:
            return current.value
        async with self._lock:
            current = self._current
            if current is not None and time.monotonic() < current.refresh_at:
                return current.value
            return await self._fetch(force=current is not None)

    async def renew(self, stale: str) -> str:
        """A new token because Exchange refused `stale`; concurrent callers share one renewal."""
        async with self._lock:
            current = self._current
            if current is not None and current.value != stale:
                return current.value
            return await self._fetch(force=True)

    def close(self) -> None:
        """Close msal's keep-alive connection to the token endpoint."""
        if self._session is not None:
            self._session.close()

    async def _fetch(self, *, force: bool) -> str:
        result = await asyncio.to_thread(self._acquire_blocking, force)
        if "access_token" not in result:
            raise _auth_error(result)
        lifetime = float(result.get("expires_in") or 3600)
        self._current = _Token(
            value=str(result["access_token"]),
            refresh_at=time.monotonic() + max(lifetime - REFRESH_MARGIN_SECONDS, lifetime / 2),
        )
        if result.get("token_source") != "cache":
            self.fetches += 1
        return self._current.value

    def _acquire_blocking(self, force: bool) -> dict[str, Any]:
        try:
            if self._app is None:
                self._app = self._build_app()
            if force:
                # msal would otherwise hand back the token Exchange just refused from its cache.
                self._app.remove_tokens_for_client()
            result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[self._config.scope])
            return result
        except requests.RequestException as exc:
            return {"error": "authority_unreachable", "error_description": str(exc)}
        except ValueError as exc:
            # msal raises ValueError when Entra refuses the authority's OpenID configuration (an
            # unknown tenant); Entra's own words (AADSTS90002) survive only as the context.
            context = f" ({exc.__context__})" if exc.__context__ is not None else ""
            return {"error": "invalid_authority", "error_description": f"{exc}{context}"}

    def _build_app(self) -> Any:
        session = requests.Session()
        # requests would prefer REQUESTS_CA_BUNDLE from the environment over `verify`.
        session.trust_env = False
        # ...but a proxy set in the environment still applies, as it does for httpx.
        session.proxies.update(requests.utils.get_environ_proxies(self._config.authority))
        if self._config.ca_file is not None:
            session.verify = str(self._config.ca_file)
        self._session = session
        return msal.ConfidentialClientApplication(
            self._config.client_id,
            client_credential=self._credential,
            authority=self._config.authority,
            # Instance discovery asks login.microsoftonline.com about the authority first; the
            # authority is configured explicitly, so the extra round trip buys nothing and would
            # leave the machine even when the authority is the local sandbox.
            instance_discovery=False,
            http_client=session,
            # requests waits forever by default: an authority that accepts the connection and
            # never answers would hang every Exchange call behind the token lock.
            timeout=self._config.connect_timeout_seconds * 3,
            token_cache=msal.TokenCache(),
        )


class ExchangeAuth(httpx.Auth):
    """Attaches the bearer token; on a 401, renews the token once and sends the request again."""

    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = await self._tokens.renew(token)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("ExchangeAuth is for httpx.AsyncClient only")


def _auth_error(result: dict[str, Any]) -> ExchangeAuthError:
    description = str(result.get("error_description") or "no description")
    first_line = description.splitlines()[0] if description else description
    match = re.search(r"AADSTS\d+", description)
    code = match.group(0) if match else ""
    error = str(result.get("error") or "")
    return ExchangeAuthError(
        f"Entra ID refused the token request: {error}: {first_line}", code=code, error=error
    )


def _load_credential(config: ExchangeConfig) -> str | dict[str, str]:
    if config.client_secret is not None:
        return config.client_secret.get_secret_value()
    path = require_file(config.certificate_path, "DLBOT_EXCHANGE_CERTIFICATE_PATH")
    assert path is not None  # the config validator guarantees one credential
    password = config.certificate_password
    return load_certificate_credential(path, password.get_secret_value() if password else None)


def load_certificate_credential(path: Path, password: str | None) -> dict[str, str]:
    """msal's certificate credential from a PEM (key + certificate) or a PFX/P12 file.

    Loaded here rather than by msal so that a wrong password, a missing key or an expired
    certificate is named before any request leaves the machine.
    """
    data = path.read_bytes()
    secret = password.encode() if password else None
    try:
        if path.suffix.lower() in (".pfx", ".p12"):
            key, cert, _chain = pkcs12.load_key_and_certificates(data, secret)
        else:
            key = load_pem_private_key(data, secret)
            cert = x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError) as exc:
        raise ExchangeConfigError(f"cannot read the certificate {str(path)!r}: {exc}") from exc
    if key is None or cert is None:
        raise ExchangeConfigError(f"{str(path)!r} must hold both the private key and certificate")
    expires = cert.not_valid_after_utc
    if expires <= datetime.now(UTC):
        raise ExchangeAuthError(
            f"the certificate {str(path)!r} expired on {expires:%Y-%m-%d}; upload a new one to "
            "the app registration and point DLBOT_EXCHANGE_CERTIFICATE_PATH at it",
            code="certificate_expired",
        )
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    # With the public certificate msal signs with PS256 and the SHA-256 thumbprint (x5t#S256).
    return {
        "private_key": private_pem.decode(),
        "public_certificate": cert.public_bytes(Encoding.PEM).decode(),
    }
