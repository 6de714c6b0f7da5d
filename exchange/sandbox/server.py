"""The sandbox's HTTPS server: Exchange Online's InvokeCommand endpoint, the Entra ID stand-in
(entra_endpoints.py), fault injection (faults.py) and the /_sandbox/ control endpoints.

This is a TEST DOUBLE of a remote service, used by demos and by the test suite. The product talks
to it only over HTTPS, exactly as it talks to outlook.office365.com; nothing here may ever become
a shortcut inside the product.

Wire behaviour follows ../../../shared/exchange-contract.md: response envelope and headers
(section 2), error bodies in both detail formats (section 3), paging with an absolute nextLink.
The directory itself (who is in which group, what each cmdlet does) lives behind `Tenant.execute`.

This module owns SandboxServer: its lifecycle (keys, TLS site, temporary state directory), the
attributes tests and the CLI read, and the aiohttp application with its error middleware. The
rest lives in one module per concern, re-exported here where it used to live:

    invoke.py      answering InvokeCommand: auth, body, faults, paging, $select, rate headers
    responses.py   body shapes: OData JSON, Exchange error envelopes, 401 challenge, status names
    control.py     the /_sandbox/ control endpoints
    state.py       SandboxSettings and LoggedRequest
    threaded.py    ThreadedSandbox, the same server on its own thread
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from .app_registration import AppRegistration
from .control import ControlApi
from .entra_endpoints import EntraEndpoints
from .faults import Fault, FaultPlan
from .invoke import RATE_LIMIT, Drop, InvokeCommand
from .responses import status_name
from .state import MAX_LOGGED_REQUESTS, MAX_PAGE_SIZE, ErrorFormat, LoggedRequest, SandboxSettings
from .tenant import Tenant
from .threaded import ThreadedSandbox
from .tls import SandboxKeys, ensure_keys
from .tokens import TokenService

__all__ = [
    "MAX_LOGGED_REQUESTS",
    "MAX_PAGE_SIZE",
    "RATE_LIMIT",
    "ErrorFormat",
    "LoggedRequest",
    "SandboxServer",
    "SandboxSettings",
    "ThreadedSandbox",
    "status_name",
]

log = logging.getLogger(__name__)


class SandboxServer:
    """The sandbox on the caller's event loop. `async with SandboxServer() as sb: ...`"""

    def __init__(
        self,
        tenant: Tenant | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        self.tenant = tenant if tenant is not None else Tenant.demo()
        self.host = host
        self._requested_port = port
        self._state_dir = state_dir
        self.settings = SandboxSettings()
        self.requests: list[LoggedRequest] = []
        self.faults = FaultPlan(self.settings.fault_seed)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._keys: SandboxKeys | None = None
        self._tokens: TokenService | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._invoke_command = InvokeCommand(self)  # keeps the rate window and error counter

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        if self._state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dlbot-sandbox-")
            self._state_dir = Path(self._tmp.name)
        try:
            await self._start(self._state_dir)
        except BaseException:
            await self.stop()  # e.g. the port is taken: leave no temporary directory behind
            raise

    async def _start(self, state_dir: Path) -> None:
        # Key generation and file I/O are blocking; keep them off the event loop.
        keys = await asyncio.to_thread(ensure_keys, state_dir)
        self._keys = keys
        self._tokens = TokenService(
            self.tenant, keys.signing, lifetime_seconds=lambda: self.settings.token_lifetime_seconds
        )
        demo = self.demo_app
        if demo is not None:
            self._tokens.register_certificate(demo.client_id, keys.client.cert)
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(
            runner,
            self.host,
            self._requested_port,
            ssl_context=keys.server_ssl_context(),
            backlog=512,  # a benchmark opens hundreds of connections at once
        )
        await site.start()
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._state_dir = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- what tests and the CLI read ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox is not running (use 'async with SandboxServer()')")
        return self._port

    @property
    def base_url(self) -> str:
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    @property
    def keys(self) -> SandboxKeys:
        if self._keys is None:
            raise RuntimeError("the sandbox is not running")
        return self._keys

    @property
    def ca_file(self) -> Path:
        return self.keys.ca_file

    @property
    def state_dir(self) -> Path:
        return self.keys.state_dir

    @property
    def tokens(self) -> TokenService:
        if self._tokens is None:
            raise RuntimeError("the sandbox is not running")
        return self._tokens

    @property
    def tokens_issued(self) -> int:
        return self._tokens.tokens_issued if self._tokens is not None else 0

    @property
    def demo_app(self) -> AppRegistration | None:
        """The app registration the CLI prints credentials for: the first with a secret."""
        apps = list(self.tenant.apps.values())
        with_secret = [a for a in apps if a.secrets]
        return (with_secret or apps)[0] if apps else None

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def revoke_tokens(self) -> None:
        self.tokens.revoke_all()

    def update_settings(self, data: dict[str, Any]) -> SandboxSettings:
        new = self.settings.updated(data)
        if new.fault_seed != self.settings.fault_seed:
            self.faults.reseed(new.fault_seed)
        # Mutate in place: TokenService and ThreadedSandbox hold this same object.
        for f in fields(new):
            setattr(self.settings, f.name, getattr(new, f.name))
        return self.settings

    # --- the application ---------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._error_middleware],
            # New-DistributionGroup may carry up to 10,000 members in one body.
            client_max_size=16 * 1024 * 1024,
        )
        self._invoke_command.add_routes(app)
        EntraEndpoints(self.tokens).add_routes(app)
        control = ControlApi(self)
        control.add_routes(app)
        return app

    @web.middleware
    async def _error_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """JSON for every error, a dropped connection for Drop, never a traceback page."""
        try:
            return await handler(request)
        except Drop:
            transport = request.transport
            if transport is not None:
                transport.abort()
            # Nothing reaches the client; aiohttp just needs a response object to finish with.
            return web.Response(status=499)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
            return web.json_response(
                {
                    "error": {
                        "code": status_name(exc.status),
                        "message": message or f"{exc.reason}: {request.method} {request.path}",
                    }
                },
                status=exc.status,
                headers=headers,
            )
        except Exception:
            log.exception("sandbox bug while answering %s %s", request.method, request.path)
            return web.json_response(
                {
                    "error": {
                        "code": "InternalServerError",
                        "message": "The sandbox failed to answer this request (see its log).",
                    }
                },
                status=500,
            )
