"""dlbot as `dlbot serve` runs it, on loopback, for the reliability and security suites.

A World is the real product (bot.services.running: Redis, saq, the Exchange client, DlBot and
the aiohttp app) in this process, the sandbox tenant, and a RecordingConnector standing in for
Teams' Bot Connector, so every card and message the bot sends is recorded. Activities are posted
over real HTTP, forged ones as easily as honest ones.

Spawned is the same product as a real `dlbot serve --no-worker` or `dlbot worker` process, for
the tests that kill one. RedisProcess is a redis-server of the test's own (AOF on), for the
tests that stop or restart it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import SecretStr

from approvals.models import ApprovalRequest, Person
from bot.run import serving, working
from bot.services import Dlbot, running
from bot.settings import Settings
from exchange.sandbox.server import ThreadedSandbox
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET
from tests.playground.doubles import TENANT_ID, RecordingConnector, serve, teams_activity

ADD = "Add-DistributionGroupMember"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def world_settings(redis_url: str, sandbox: ThreadedSandbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "allowed_tenants": TENANT_ID,
        "exchange_base_url": sandbox.base_url,
        "exchange_authority": sandbox.base_url,
        "exchange_tenant": sandbox.tenant_id,
        "exchange_client_id": DEMO_APP_ID,
        "exchange_client_secret": SecretStr(DEMO_SECRET),
        "exchange_ca_file": sandbox.ca_file,
        # Retries as the module makes them, minus the waiting: the suites must stay short.
        "exchange_retry_backoff_seconds": 0.01,
        "fallback_approvers": "adelev@contoso.com",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 20.0) -> T:
    """Poll `check` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {check.__qualname__}")
        await asyncio.sleep(0.05)


def personal(who: Person) -> str:
    return f"a:personal-{who.object_id}"


@dataclass
class World:
    dlbot: Dlbot
    url: str
    connector: RecordingConnector
    connector_url: str
    sandbox: ThreadedSandbox
    session: aiohttp.ClientSession

    def activity(self, who: Person, **fields: Any) -> dict[str, Any]:
        fields.setdefault("conversation_id", personal(who))
        activity = teams_activity(
            self.connector_url, object_id=who.object_id, user_id=f"29:{who.object_id}", **fields
        )
        activity["from"]["name"] = who.display_name
        return activity

    async def post(
        self, body: Any, *, headers: dict[str, str] | None = None, url: str | None = None
    ) -> tuple[int, Any]:
        """POST an activity (any JSON) to /api/messages: the status and the parsed answer."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(
            f"{url or self.url}/api/messages",
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        ) as response:
            raw = await response.read()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode(errors="replace")
        return response.status, answer

    async def say(self, who: Person, text: str) -> tuple[int, list[str]]:
        """`who` types `text`: the status and what the bot answered in that chat."""
        seen = len(self.connector.sent())
        status, _ = await self.post(self.activity(who, text=text))
        return status, replies(self.connector.sent()[seen:])

    async def click(
        self,
        who: Person,
        verb: Any,
        data: Any,
        *,
        conversation_id: str | None = None,
        headers: dict[str, str] | None = None,
        url: str | None = None,
    ) -> tuple[int, Any]:
        """`who` clicks an Action.Execute button whose verb and data are given (forged or not)."""
        activity = self.activity(
            who,
            type="invoke",
            name="adaptiveCard/action",
            text=None,
            value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
            conversation_id=conversation_id or personal(who),
        )
        return await self.post(activity, headers=headers, url=url)

    async def install(self, *people: Person) -> None:
        """Each person opens a chat with the bot, as installing the app does: the bot can
        then reach them (their conversation reference is stored)."""
        for who in people:
            status, _ = await self.say(who, "hi")
            assert status == 201

    async def cards_out(self, request_id: str, count: int) -> ApprovalRequest:
        async def posted() -> ApprovalRequest | None:
            request = await self.dlbot.approvals.get(request_id)
            return request if len(request.cards) >= count else None

        return await eventually(posted)

    def writes(self, cmdlet: str = ADD) -> int:
        """Successful calls of `cmdlet` the sandbox answered."""
        return len([r for r in self.sandbox.requests if r.cmdlet == cmdlet and r.status == 200])

    def members(self, group: str) -> list[str]:
        snapshot = self.sandbox.server.tenant.group_snapshot(group)
        return [m["primary_smtp_address"] for m in snapshot["members"]]


def replies(sent: list[dict[str, Any]]) -> list[str]:
    """The words of messages the bot sent: text and any card, as one string each."""
    return [
        (body.get("text") or "")
        + (json.dumps(body["attachments"]) if body.get("attachments") else "")
        for body in sent
    ]


@contextlib.asynccontextmanager
async def world(
    settings: Settings, sandbox: ThreadedSandbox, *, worker: bool
) -> AsyncIterator[World]:
    """The product on loopback; `worker` also runs a saq worker in this process."""
    connector = RecordingConnector()
    async with (
        serve(connector.app()) as connector_url,
        running(settings) as dlbot,
        serving(dlbot, "127.0.0.1", 0) as runner,
        aiohttp.ClientSession() as session,
    ):
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        the_world = World(dlbot, url, connector, connector_url, sandbox, session)
        if worker:
            async with working(dlbot):
                yield the_world
        else:
            yield the_world


# Real processes ---------------------------------------------------------------------------------


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a `dlbot` process exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLBOT_")}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"DLBOT_{name.upper()}"] = str(value)
    return env


class Spawned:
    """`dlbot <args>` as a real process, started and waited for (its ready line on stdout)."""

    def __init__(self, settings: Settings, args: list[str], ready: str, cwd: Path) -> None:
        self._command = [sys.executable, "-m", "bot.cli", *args]
        self._env = settings_env(settings)
        self._ready = ready
        self._cwd = cwd
        self.process: subprocess.Popen[str] | None = None

    def start(self, within: float = 60.0) -> Spawned:
        self.process = subprocess.Popen(
            self._command,
            env=self._env,
            cwd=self._cwd,  # a directory without a .env: only the settings given apply
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if self._ready in line:
                return self
            if not line and self.process.poll() is not None:
                break
        self.kill()
        raise AssertionError(f"{' '.join(self._command)} did not start")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as a crash or an OOM kill ends a process."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def spawned(settings: Settings, args: list[str], ready: str, cwd: Path) -> Any:
    process = Spawned(settings, args, ready, cwd).start()
    try:
        yield process
    finally:
        process.kill()


def spawn_bot(settings: Settings, port: int, cwd: Path, *, with_worker: bool = False) -> Any:
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    return spawned(settings, args if with_worker else [*args, "--no-worker"], "listening", cwd)


def spawn_worker(settings: Settings, cwd: Path) -> Any:
    return spawned(settings, ["worker"], "worker is running", cwd)


class RedisProcess:
    """A redis-server of the test's own on a fixed port, append-only on, to stop and restart."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed: run the suite with ./dev test"
        self._binary = binary
        self._directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--dir", str(self._directory), "--appendonly", "yes", "--appendfsync", "always"]
            + ["--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
