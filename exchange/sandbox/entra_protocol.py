"""What the modules of the Entra ID stand-in share: who Exchange Online is to Entra (its resource,
app id and scope), the issuer of our tokens, the shape of Entra's error answers, the origin a
request was addressed to, and JOSE's base64url.

Errors are shaped like Entra's ({error, error_description "AADSTSnnnn: ...", error_codes, timestamp,
trace_id, correlation_id}) because msal hands that dict straight to the caller, and the product
surfaces the AADSTS code to an admin.

Apart so that the token service (tokens.py), the client-credential checks
(client_credentials.py) and the HTTP endpoints (entra_endpoints.py) depend on this vocabulary
rather than on each other.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from aiohttp import web

EXCHANGE_RESOURCE = "https://outlook.office365.com"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"  # "Office 365 Exchange Online"
EXCHANGE_SCOPE = EXCHANGE_RESOURCE + "/.default"


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
        return web.json_response(body, status=self.status, headers=NO_CACHE)


NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def origin(request: web.Request) -> str:
    # From the Host header, so discovery works whichever loopback name the client used.
    return f"{request.scheme}://{request.host}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
