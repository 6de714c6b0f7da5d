"""ThreadedSandbox: a SandboxServer on a private thread and event loop, as a sync context manager.

Benchmarks and synchronous tests need the caller's thread free to block on HTTP calls; this
wrapper owns that thread and loop and mirrors SandboxServer's attributes, nothing more.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .app_registration import AppRegistration
from .faults import Fault
from .state import LoggedRequest, SandboxSettings
from .tenant import Tenant
from .tls import SandboxKeys
from .tokens import TokenService


class ThreadedSandbox:
    """SandboxServer on a private thread and event loop, as a plain (sync) context manager.

    For benchmarks and synchronous tests: the caller's thread stays free to block on HTTP calls.
    """

    def __init__(
        self,
        tenant: Tenant | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        # server.py re-exports this class, so it imports SandboxServer only when first needed.
        from .server import SandboxServer

        self.server = SandboxServer(tenant, host=host, port=port, state_dir=state_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def __enter__(self) -> ThreadedSandbox:
        self._thread = threading.Thread(target=self._run, name="dlbot-sandbox", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # handed to the caller's thread by __enter__
                self._startup_error = exc
                return
            finally:
                self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    # The same attributes as SandboxServer.
    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def authority(self) -> str:
        return self.server.authority

    @property
    def tenant_id(self) -> str:
        return self.server.tenant_id

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    @property
    def tenant(self) -> Tenant:
        return self.server.tenant

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.server.requests

    @property
    def tokens_issued(self) -> int:
        return self.server.tokens_issued

    @property
    def settings(self) -> SandboxSettings:
        return self.server.settings

    @property
    def tokens(self) -> TokenService:
        return self.server.tokens

    @property
    def demo_app(self) -> AppRegistration | None:
        return self.server.demo_app

    @property
    def keys(self) -> SandboxKeys:
        return self.server.keys

    def inject(self, fault: Fault) -> None:
        self.server.inject(fault)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def revoke_tokens(self) -> None:
        self.server.revoke_tokens()

    def update_settings(self, data: dict[str, Any]) -> SandboxSettings:
        return self.server.update_settings(data)
