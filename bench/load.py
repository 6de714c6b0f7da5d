"""The load generator's parts: a Bot Connector stub, bot processes, CPU readings, timed phases.

Everything stays on loopback. A bot under test is its own process, so its CPU is read from
/proc/<pid>/stat (user + system time of all its threads) before and after a phase; the load
generator and the connector stub share another process (this one), so their work never counts
as the bot's.

A phase posts a bounded number of activities (and stops at a time limit whatever happens),
`concurrency` in flight, each a Teams-shaped activity whose serviceUrl is the stub, and records
each POST's latency (the bot answers the POST once its turn, replies included, is done).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
TENANT_ID = "00000000-0000-4000-8000-00000000b001"  # what the echo bots are sent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


# The Bot Connector stub ----------------------------------------------------------------------


@dataclass
class ConnectorStub:
    """Answers what a bot calls on the Bot Connector (send, reply, update, create) at once, and
    remembers per conversation what it was told and on which TCP connections."""

    texts: dict[str, list[str]] = field(default_factory=dict)
    attachments: dict[str, int] = field(default_factory=dict)
    peers: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # by path prefix
    calls: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{bot}/v3/conversations", self._create)
        app.router.add_post("/{bot}/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post(
            "/{bot}/v3/conversations/{conversation}/activities/{activity}", self._send
        )
        app.router.add_put(
            "/{bot}/v3/conversations/{conversation}/activities/{activity}", self._update
        )
        return app

    def _note(self, request: web.Request) -> None:
        self.calls += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.setdefault(request.match_info["bot"], set()).add(tuple(peer[:2]))

    async def _create(self, request: web.Request) -> web.Response:
        self._note(request)
        await request.read()
        return web.json_response({"id": f"a:created-{uuid.uuid4().hex}"}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        self._note(request)
        body = await request.json()
        conversation = request.match_info["conversation"]
        if body.get("text"):
            self.texts.setdefault(conversation, []).append(body["text"])
        if body.get("attachments"):
            self.attachments[conversation] = self.attachments.get(conversation, 0) + 1
        return web.json_response({"id": f"activity-{self.calls}"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        self._note(request)
        await request.read()
        return web.json_response({"id": request.match_info["activity"]})

    def connections(self, bot: str) -> int:
        return len(self.peers.get(bot, ()))


@asynccontextmanager
async def serving(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


# Bots under test -------------------------------------------------------------------------------


@dataclass
class BotProcess:
    name: str
    url: str  # .../api/messages
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)


async def start_bot(
    name: str,
    argv: Sequence[str],
    port: int,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ready_within: float = 180.0,
) -> BotProcess:
    """Start a bot process and wait until its /api/messages answers (any status)."""
    log = log_dir / f"{name}.log"
    process = _spawn([sys.executable, *argv], log, {**os.environ, **(env or {})}, cwd or ROOT)
    bot = BotProcess(name, f"http://127.0.0.1:{port}/api/messages", process, log)
    deadline = time.monotonic() + ready_within
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
            try:
                async with session.get(bot.url) as response:
                    await response.read()
                    return bot
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                bot.stop()
                raise RuntimeError(f"{name} did not start within {ready_within} s; see {log}")
            await asyncio.sleep(0.2)


# Activities ------------------------------------------------------------------------------------


def activity(
    service_url: str,
    *,
    conversation: str,
    object_id: str,
    text: str | None = None,
    tenant_id: str = TENANT_ID,
    **fields: Any,
) -> dict[str, Any]:
    """A message (or, with type/name/value, any activity) shaped like Teams sends it."""
    body: dict[str, Any] = {
        "type": "message",
        "id": f"f:{uuid.uuid4().hex}",
        "timestamp": "2026-11-25T03:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": f"29:{object_id}", "name": "Bench User", "aadObjectId": object_id},
        "recipient": {"id": "28:bench-bot", "name": "bot"},
        "conversation": {
            "id": conversation,
            "conversationType": "personal",
            "tenantId": tenant_id,
        },
        "channelData": {"tenant": {"id": tenant_id}},
        "locale": "en-US",
        "textFormat": "plain",
    }
    if text is not None:
        body["text"] = text
    body.update(fields)
    return body


# Phases ----------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    turns: int
    failures: int
    wall: float
    bot_cpu: float
    latencies: list[float]
    other_cpu: float = 0.0  # e.g. redis-server's, when asked for

    @property
    def turns_per_second(self) -> float:
        return self.turns / self.wall if self.wall else 0.0

    @property
    def cpu_ms_per_turn(self) -> float:
        return 1000 * self.bot_cpu / self.turns if self.turns else 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Totals:
    """A target's phases summed over the rounds of a run."""

    phases: list[PhaseResult] = field(default_factory=list)

    def add(self, phase: PhaseResult) -> None:
        self.phases.append(phase)

    @property
    def turns(self) -> int:
        return sum(p.turns for p in self.phases)

    @property
    def failures(self) -> int:
        return sum(p.failures for p in self.phases)

    @property
    def turns_per_second(self) -> float:
        wall = sum(p.wall for p in self.phases)
        return self.turns / wall if wall else 0.0

    @property
    def cpu_ms_per_turn(self) -> float:
        return 1000 * sum(p.bot_cpu for p in self.phases) / self.turns if self.turns else 0.0

    @property
    def other_cpu_ms_per_turn(self) -> float:
        return 1000 * sum(p.other_cpu for p in self.phases) / self.turns if self.turns else 0.0

    def latency_ms(self, fraction: float) -> float:
        return 1000 * percentile([v for p in self.phases for v in p.latencies], fraction)


Script = Callable[[int], list[bytes]]
"""Given a worker's n-th job, the activity bodies to post one after another (one conversation)."""


async def run_phase(
    session: aiohttp.ClientSession,
    bot: BotProcess,
    jobs: Sequence[list[bytes]],
    *,
    concurrency: int,
    time_limit: float,
    measured: Callable[[int], bool] = lambda step: True,
    other_pid: int | None = None,
) -> PhaseResult:
    """Post every job's bodies in order (the jobs `concurrency` at a time) and time each POST.

    `measured(step)` says which steps of a job count as turns of this phase (the others set a
    conversation up); CPU is the bot's over the whole phase, divided by the measured turns
    only when every step is measured, so set-up steps should be cheap or avoided."""
    queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []
    failures = 0
    turns = 0
    deadline = time.monotonic() + time_limit
    headers = {"Content-Type": "application/json"}

    async def worker() -> None:
        nonlocal failures, turns
        while time.monotonic() < deadline:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            for step, body in enumerate(job):
                started = time.perf_counter()
                try:
                    async with session.post(bot.url, data=body, headers=headers) as response:
                        await response.read()
                        ok = response.status < 300
                except aiohttp.ClientError:
                    ok = False
                elapsed = time.perf_counter() - started
                if measured(step):
                    turns += 1
                    latencies.append(elapsed)
                    failures += 0 if ok else 1
                if not ok:
                    break

    cpu_before = bot.cpu()
    other_before = cpu_seconds(other_pid) if other_pid else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return PhaseResult(
        turns=turns,
        failures=failures,
        wall=wall,
        bot_cpu=bot.cpu() - cpu_before,
        latencies=latencies,
        other_cpu=(cpu_seconds(other_pid) - other_before) if other_pid else 0.0,
    )


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
