"""Running dlbot: `dlbot serve` (the bot, and by default a worker) and `dlbot worker`.

Both stop cleanly on SIGINT/SIGTERM: the worker finishes or hands back its jobs (saq re-queues
what it could not finish), the web server drains, connections close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from aiohttp import web

from bot.app import create_app
from bot.embedded_redis import EmbeddedRedis
from bot.health import health_routes
from bot.services import Dlbot, running
from bot.settings import Settings

log = logging.getLogger(__name__)

LOCAL_REDIS_DIR = Path(".dlbot/redis")
SHUTDOWN_GRACE_SECONDS = 5.0


async def until_stopped() -> None:
    """Wait for SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def with_redis(settings: Settings) -> Iterator[Settings]:
    """The settings, with a local redis-server started for them when none is configured."""
    if settings.redis_url:
        yield settings
        return
    with EmbeddedRedis(LOCAL_REDIS_DIR) as url:
        log.warning("DLBOT_REDIS_URL is not set: using a local redis-server at %s", url)
        yield settings.model_copy(update={"redis_url": url})


@contextlib.asynccontextmanager
async def serving(dlbot: Dlbot, host: str, port: int) -> AsyncIterator[web.AppRunner]:
    app = create_app(dlbot.settings, dlbot.bot, dlbot.edge)
    # A turn still running at shutdown gets a few seconds, not aiohttp's default minute: Teams
    # retries an unanswered activity, and stopping must not wait on a client that went away.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield runner
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def working(dlbot: Dlbot) -> AsyncIterator[None]:
    worker = dlbot.worker()
    task = asyncio.create_task(worker.start(), name="dlbot-worker")
    try:
        yield
    finally:
        await worker.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def serve(settings: Settings, *, host: str, port: int, with_worker: bool) -> None:
    async with running(settings) as dlbot, serving(dlbot, host, port):
        print(f"dlbot is listening on http://{host}:{port}/api/messages", flush=True)
        if with_worker:
            async with working(dlbot):
                await until_stopped()
        else:
            await until_stopped()


@contextlib.asynccontextmanager
async def serving_metrics(dlbot: Dlbot, host: str, port: int) -> AsyncIterator[None]:
    """A worker's own /metrics, /healthz and /readyz (`dlbot worker --metrics-port`): its
    Exchange calls are counted in its process, which no bot replica can report."""
    app = web.Application()
    app.router.add_routes(health_routes(dlbot.edge.readiness_checks, dlbot.edge.metrics))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()


async def work(
    settings: Settings, *, metrics_host: str = "127.0.0.1", metrics_port: int = 0
) -> None:
    async with running(settings) as dlbot, working(dlbot), contextlib.AsyncExitStack() as stack:
        if metrics_port:
            await stack.enter_async_context(serving_metrics(dlbot, metrics_host, metrics_port))
            url = f"http://{metrics_host}:{metrics_port}/metrics"
            print(f"dlbot worker metrics on {url}", flush=True)
        print("dlbot worker is running", flush=True)
        await until_stopped()
