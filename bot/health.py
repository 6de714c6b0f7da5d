"""Liveness, readiness and Prometheus metrics for the bot process.

GET /healthz says the process serves HTTP; GET /readyz runs the readiness checks (Redis, and
whatever else is registered, e.g. Exchange) and answers 503 naming the ones that failed;
GET /metrics exposes the counters below in Prometheus' text format, then the Exchange calls of
this process and every collector registered (bot/metrics.py: the shared workflow figures kept in
Redis); docs/operations.md says what each means.

The counters are written by hand (a few lines) rather than with prometheus-client: dlbot needs
labelled counters and a few histograms whose counts live in Redis (shared by every replica),
which prometheus-client's in-process registry does not model. Label values that come from
outside (activity types, invoke names) are mapped onto a fixed set, so a caller cannot grow the
series without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot.metrics import ExchangeCallMetrics

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[Any]]
Collector = Callable[[], Awaitable[str]]
"""Returns more Prometheus text; raises when its source is unavailable."""
"""Returns when the dependency is usable; raises (anything) when it is not."""

READINESS_TIMEOUT_SECONDS = 3.0
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

KNOWN_ACTIVITY_TYPES = frozenset(
    {
        "message",
        "conversationUpdate",
        "installationUpdate",
        "invoke",
        "messageReaction",
        "messageUpdate",
        "messageDelete",
        "event",
        "typing",
        "endOfConversation",
    }
)
KNOWN_INVOKE_NAMES = frozenset(
    {
        "adaptiveCard/action",
        "message/submitAction",
        "task/fetch",
        "task/submit",
        "composeExtension/query",
        "signin/verifyState",
        "signin/tokenExchange",
        "fileConsent/invoke",
    }
)
KNOWN_INVOKE_BODY_TYPES = frozenset(
    {
        "application/vnd.microsoft.card.adaptive",
        "application/vnd.microsoft.activity.message",
        "application/vnd.microsoft.error",
    }
)


def _bounded(value: str | None, known: frozenset[str]) -> str:
    if not value:
        return "none"
    return value if value in known else "other"


def _escape(label: str) -> str:
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """The process's counters. Cheap to update from any coroutine (single-threaded loop)."""

    def __init__(self) -> None:
        self._activities: Counter[str] = Counter()
        self._invokes: Counter[tuple[str, str, str]] = Counter()
        self._refused: Counter[str] = Counter()
        self._turn_errors = 0
        self.exchange = ExchangeCallMetrics()
        # name -> collector; read at scrape time, so ones registered later are honoured.
        self.collectors: dict[str, Collector] = {}

    def activity_received(self, activity_type: str | None) -> None:
        self._activities[_bounded(activity_type, KNOWN_ACTIVITY_TYPES)] += 1

    def invoke_answered(self, name: str | None, status: int, body_type: str | None) -> None:
        key = (
            _bounded(name, KNOWN_INVOKE_NAMES),
            str(status),
            _bounded(body_type, KNOWN_INVOKE_BODY_TYPES),
        )
        self._invokes[key] += 1

    def request_refused(self, reason: str) -> None:
        """`reason` is one of the handler's own words (unauthenticated, tenant, ...)."""
        self._refused[reason] += 1

    def turn_failed(self) -> None:
        self._turn_errors += 1

    def refused(self, reason: str) -> int:
        return self._refused[reason]

    @property
    def turn_errors(self) -> int:
        return self._turn_errors

    def render(self) -> str:
        lines = [
            "# HELP dlbot_activities_received_total Activities received on /api/messages.",
            "# TYPE dlbot_activities_received_total counter",
        ]
        for activity_type, count in sorted(self._activities.items()):
            lines.append(
                f'dlbot_activities_received_total{{type="{_escape(activity_type)}"}} {count}'
            )
        lines += [
            "# HELP dlbot_invoke_responses_total Invoke activities answered, by result.",
            "# TYPE dlbot_invoke_responses_total counter",
        ]
        for (name, status, body_type), count in sorted(self._invokes.items()):
            lines.append(
                f'dlbot_invoke_responses_total{{name="{_escape(name)}",status="{status}",'
                f'type="{_escape(body_type)}"}} {count}'
            )
        lines += [
            "# HELP dlbot_requests_refused_total Requests to /api/messages refused before a turn.",
            "# TYPE dlbot_requests_refused_total counter",
        ]
        for reason, count in sorted(self._refused.items()):
            lines.append(f'dlbot_requests_refused_total{{reason="{_escape(reason)}"}} {count}')
        lines += [
            "# HELP dlbot_turn_errors_total Turns that ended in an unhandled error.",
            "# TYPE dlbot_turn_errors_total counter",
            f"dlbot_turn_errors_total {self._turn_errors}",
        ]
        return "\n".join(lines) + "\n"

    async def render_all(self) -> str:
        """Everything: this process's counters, then each collector's text. A collector that
        fails (Redis down) leaves its figures out and says so in dlbot_metrics_collector_up."""
        parts = [self.render(), self.exchange.render()]
        up: dict[str, int] = {}
        for name, collect in self.collectors.items():
            try:
                async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                    parts.append(await collect())
                up[name] = 1
            except Exception as exc:  # noqa: BLE001 - a scrape must answer whatever failed
                log.warning("metrics collector %s failed: %s", name, type(exc).__name__)
                up[name] = 0
        parts.append(
            "# HELP dlbot_metrics_collector_up Whether a source of metrics answered this scrape.\n"
            "# TYPE dlbot_metrics_collector_up gauge\n"
        )
        parts += [
            f'dlbot_metrics_collector_up{{collector="{_escape(name)}"}} {value}\n'
            for name, value in sorted(up.items())
        ]
        return "".join(parts)


def passing_for(check: ReadinessCheck, *, seconds: float) -> ReadinessCheck:
    """`check`, not run again for `seconds` after it passed; a failure is never remembered, so
    the first probe after a dependency comes back sees it back."""
    passed_at: float | None = None

    async def cached() -> None:
        nonlocal passed_at
        now = time.monotonic()
        if passed_at is not None and now - passed_at < seconds:
            return
        await check()
        passed_at = time.monotonic()

    return cached


async def run_checks(checks: Mapping[str, ReadinessCheck]) -> dict[str, str]:
    """Every check at once, each bounded in time: name -> "ok" or the kind of failure."""

    async def one(name: str, check: ReadinessCheck) -> str:
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await check()
        except TimeoutError:
            log.warning("readiness check %s timed out", name)
            return "timeout"
        except Exception as exc:  # a check may fail any way it likes; report, don't crash
            log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            # Only the exception's kind: its message may name hosts or worse.
            return f"error: {type(exc).__name__}"
        return "ok"

    names = list(checks)
    results = await asyncio.gather(*(one(name, checks[name]) for name in names))
    return dict(zip(names, results, strict=True))


def health_routes(checks: Mapping[str, ReadinessCheck], metrics: Metrics) -> list[web.RouteDef]:
    """GET /healthz, /readyz, /metrics. `checks` is read at request time, so checks registered
    after the app is built (the lead's Exchange check) are honoured."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        results = await run_checks(checks)
        failed = sorted(name for name, result in results.items() if result != "ok")
        if failed:
            return web.json_response(
                {"status": "unavailable", "failed": failed, "checks": results}, status=503
            )
        return web.json_response({"status": "ready", "checks": results})

    async def metrics_text(request: web.Request) -> web.Response:
        return web.Response(
            body=(await metrics.render_all()).encode(),
            headers={"Content-Type": PROMETHEUS_CONTENT_TYPE},
        )

    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics_text),
    ]
