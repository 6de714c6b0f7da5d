"""Stand-ins for Microsoft's services around the bot, on loopback, for the edge's own tests.

- RecordingConnector: the Bot Connector REST API the bot calls (send, reply, update, create a
  conversation), recording every request; it can be told to refuse like Teams does (403/404).
- TokenIssuer: the Bot Connector's OpenID metadata + signing keys, and a signer of the JWTs the
  channel puts on activities, so tests prove what /api/messages accepts and refuses.

The Agents Playground (harness.py) plays Teams' client and connector for round trips; these
doubles cover what it cannot: signed requests and refusals.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

# Running an aiohttp app on loopback -------------------------------------------------------------


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on a free loopback port (its cleanup contexts too); yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# The Bot Connector --------------------------------------------------------------------------------


@dataclass
class ConnectorRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class RecordingConnector:
    requests: list[ConnectorRequest] = field(default_factory=list)
    refuse_create: int | None = None  # answer POST /v3/conversations with this status
    refuse_conversations: dict[str, int] = field(default_factory=dict)  # conversation -> status
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        return app

    def sent(self) -> list[dict[str, Any]]:
        """Activities the bot posted (sends and replies), in order."""
        return [r.body for r in self.requests if r.method == "POST" and "/activities" in r.path]

    async def _record(self, request: web.Request) -> Any:
        body = await request.json()
        self.requests.append(
            ConnectorRequest(request.method, request.path, dict(request.headers), body)
        )
        return body

    @staticmethod
    def _error(status: int) -> web.Response:
        code = {403: "BotNotInConversationRoster", 404: "ConversationNotFound"}.get(status, "Error")
        return web.json_response(
            {"error": {"code": code, "message": f"refused by the test ({status})"}}, status=status
        )

    async def _create(self, request: web.Request) -> web.Response:
        await self._record(request)
        if self.refuse_create is not None:
            return self._error(self.refuse_create)
        return web.json_response({"id": f"a:created-{next(self._ids)}"}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        await self._record(request)
        refused = self.refuse_conversations.get(request.match_info["conversation"])
        if refused is not None:
            return self._error(refused)
        return web.json_response({"id": f"activity-{next(self._ids)}"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        await self._record(request)
        refused = self.refuse_conversations.get(request.match_info["conversation"])
        if refused is not None:
            return self._error(refused)
        return web.json_response({"id": request.match_info["activity"]})


# The channel's token issuer ---------------------------------------------------------------------


class TokenIssuer:
    """OpenID metadata and JWKS on a loopback port, and the matching private key to sign with.

    A thread, not an aiohttp app: the SDK fetches the metadata with blocking `requests` from
    inside the event loop, so a server on that same loop would never answer.
    """

    issuer = "https://api.botframework.test"
    kid = "dlbot-test-key"

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]})
        self._jwks = {"keys": [jwk]}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                if self.path == "/v1/.well-known/openidconfiguration":
                    body = {
                        "issuer": issuer.issuer,
                        "jwks_uri": f"{issuer.base_url}/v1/keys",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/v1/keys":
                    body = issuer._jwks
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def metadata_url(self) -> str:
        # Unique per instance: the SDK caches metadata per URL for the whole process.
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    def __enter__(self) -> TokenIssuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def token(
        self,
        *,
        audience: str,
        service_url: str,
        issuer: str | None = None,
        lifetime: float = 3600,
        issued_ago: float = 0,
        forged: bool = False,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A channel token as the Bot Connector signs it; `forged` signs with a stranger's key
        under our key id, `issued_ago`/`lifetime` make expired ones."""
        now = time.time() - issued_ago
        payload = {
            "iss": issuer or self.issuer,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": int(now),
            "iat": int(now),
            "exp": int(now + lifetime),
            **claims,
        }
        key = self._stranger if forged else self._key
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid or self.kid})


# Activities as Teams sends them -------------------------------------------------------------

TENANT_ID = "9eac73f7-edc8-43b2-b610-30825ba9d199"  # the sandbox tenant
ALEX_OBJECT_ID = "9e986098-d981-4a25-9a89-5bf689ff5e3c"


def teams_activity(
    service_url: str,
    *,
    type: str = "message",
    text: str | None = "hello",
    conversation_id: str = "a:personal-alexw",
    conversation_type: str = "personal",
    tenant_id: str = TENANT_ID,
    object_id: str = ALEX_OBJECT_ID,
    user_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An activity shaped like Teams' (and the Playground's), as JSON."""
    activity: dict[str, Any] = {
        "type": type,
        "id": f"activity-{time.monotonic_ns()}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {
            "id": user_id or f"29:{object_id}",
            "name": "Alex Wilber",
            "aadObjectId": object_id,
        },
        "recipient": {"id": "28:dlbot-test", "name": "dlbot"},
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": tenant_id,
        },
        "channelData": {"tenant": {"id": tenant_id}},
        "locale": "en-US",
    }
    if text is not None:
        activity["text"] = text
    activity.update(fields)
    return activity
