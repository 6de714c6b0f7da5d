"""The Prometheus figures beyond the edge's own counters (bot/health.py), in two kinds.

Per process (every replica counts its own; Prometheus adds the `instance` label and sums):
    dlbot_exchange_calls_total{cmdlet, outcome}, dlbot_exchange_call_seconds_{sum,count}{cmdlet},
    dlbot_exchange_retries_total{cmdlet, reason}: ExchangeCallMetrics, the Exchange client's
    CallObserver.

Shared (kept in Redis, so every replica's /metrics shows the same numbers, and a restart loses
nothing):
    dlbot_requests_open{kind, state}               open requests now (pending, approved)
    dlbot_requests_total{kind, event}              requests submitted and ended, by how
    dlbot_time_to_decision_seconds{kind, decision} histogram: asked -> an approver decided
    dlbot_time_to_execution_seconds{kind, outcome} histogram: approved -> the change made or failed
    dlbot_queue_jobs{state}                        saq jobs queued, running, incomplete (with
                                                   scheduled timers)
    dlbot_audit_events                             length of the audit stream
The event-driven ones are recorded by RecordingAudit, which sits in front of the audit log: the
workflow writes exactly one audit event per transition, so counting those counts transitions
once, whichever process made them.

Every label value is drawn from a fixed set (cmdlets dlbot runs, exchange.errors class names,
request kinds and states); anything else becomes "other".
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis
from saq import Queue

from approvals import keys
from approvals.audit import AuditAction, AuditEvent, AuditLog
from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from approvals.redis_calls import resolved
from approvals.store import RequestStore
from exchange import errors as exchange_errors

log = logging.getLogger(__name__)

KNOWN_CMDLETS = frozenset(
    {
        "Get-DistributionGroup",
        "Get-DistributionGroupMember",
        "Get-Recipient",
        "Get-User",
        "Get-AcceptedDomain",
        "Add-DistributionGroupMember",
        "Remove-DistributionGroupMember",
        "New-DistributionGroup",
    }
)


def _error_names() -> frozenset[str]:
    names: set[str] = set()
    pending: list[type[BaseException]] = [exchange_errors.ExchangeError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return frozenset(names)


KNOWN_OUTCOMES = frozenset({"ok", "aborted"}) | _error_names()
KNOWN_RETRY_REASONS = frozenset({"transport", "http_429", "http_500", "http_503", "http_504"})
KINDS = frozenset(kind.value for kind in RequestKind)

# Redis keys of the shared figures: one hash tag, so a transaction may touch them all (Cluster).
METRICS_PREFIX = f"{keys.PREFIX}:{{metrics}}"
REQUESTS_TOTAL = f"{METRICS_PREFIX}:requests_total"
TIME_TO_DECISION = f"{METRICS_PREFIX}:time_to_decision"
TIME_TO_EXECUTION = f"{METRICS_PREFIX}:time_to_execution"

# Owners answer in minutes to days (reminder at 2, expiry at 7); Exchange in seconds to the
# half hour the execute job keeps retrying.
DECISION_BUCKETS: tuple[float, ...] = (
    60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400,
)  # fmt: skip
EXECUTION_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 300, 900, 1800, 3600)

# Audit events that end (or start) a request, as the label of dlbot_requests_total.
_COUNTED_EVENTS = {
    AuditAction.SUBMITTED.value: "submitted",
    AuditAction.EXECUTED.value: "completed",
    AuditAction.FAILED.value: "failed",
    AuditAction.DENIED.value: "denied",
    AuditAction.CANCELLED.value: "cancelled",
    "expired": "expired",
}
OPEN_STATES = (RequestStatus.PENDING.value, RequestStatus.APPROVED.value)
QUEUE_STATES = ("queued", "active", "incomplete")

# Open requests read per round trip when counting them by state.
_OPEN_PAGE = 500


def bounded(value: str | None, known: frozenset[str]) -> str:
    if not value:
        return "none"
    return value if value in known else "other"


def escape(label: str) -> str:
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    return ",".join(f'{name}="{escape(value)}"' for name, value in pairs)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class ExchangeCallMetrics:
    """Exchange calls of this process, by cmdlet and outcome; the client's CallObserver."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.retries: Counter[tuple[str, str]] = Counter()
        self.seconds: dict[str, float] = {}
        self.finished: Counter[str] = Counter()

    def call_finished(self, cmdlet: str, outcome: str, seconds: float) -> None:
        name = bounded(cmdlet, KNOWN_CMDLETS)
        self.calls[(name, bounded(outcome, KNOWN_OUTCOMES))] += 1
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.finished[name] += 1

    def call_retried(self, cmdlet: str, reason: str) -> None:
        self.retries[(bounded(cmdlet, KNOWN_CMDLETS), bounded(reason, KNOWN_RETRY_REASONS))] += 1

    def render(self) -> str:
        lines = [
            "# HELP dlbot_exchange_calls_total Exchange cmdlet calls of this process, by outcome.",
            "# TYPE dlbot_exchange_calls_total counter",
        ]
        for (cmdlet, outcome), count in sorted(self.calls.items()):
            labels = _labels((("cmdlet", cmdlet), ("outcome", outcome)))
            lines.append(f"dlbot_exchange_calls_total{{{labels}}} {count}")
        lines += [
            "# HELP dlbot_exchange_call_seconds Time spent in Exchange calls, retries included.",
            "# TYPE dlbot_exchange_call_seconds summary",
        ]
        for cmdlet in sorted(self.finished):
            labels = _labels((("cmdlet", cmdlet),))
            lines.append(f"dlbot_exchange_call_seconds_sum{{{labels}}} {self.seconds[cmdlet]!r}")
            lines.append(f"dlbot_exchange_call_seconds_count{{{labels}}} {self.finished[cmdlet]}")
        lines += [
            "# HELP dlbot_exchange_retries_total Exchange attempts repeated, by reason.",
            "# TYPE dlbot_exchange_retries_total counter",
        ]
        for (cmdlet, reason), count in sorted(self.retries.items()):
            labels = _labels((("cmdlet", cmdlet), ("reason", reason)))
            lines.append(f"dlbot_exchange_retries_total{{{labels}}} {count}")
        return "\n".join(lines) + "\n"


class RedisHistogram:
    """A Prometheus histogram whose counts live in one Redis hash, shared by all processes.

    Fields: "<label values>|<bucket upper bound or +Inf>" (not cumulative: each observation
    adds to one bucket; render() accumulates), "<label values>|sum", "<label values>|count".
    """

    def __init__(
        self, redis: Redis, key: str, name: str, help_text: str, label_names: Sequence[str],
        buckets: Sequence[float],
    ) -> None:  # fmt: skip
        self._redis = redis
        self._key = key
        self.name = name
        self._help = help_text
        self._label_names = tuple(label_names)
        self._buckets = tuple(sorted(buckets))

    def _bucket(self, seconds: float) -> str:
        for bound in self._buckets:
            if seconds <= bound:
                return _number(bound)
        return "+Inf"

    async def observe(self, label_values: Sequence[str], seconds: float) -> None:
        seconds = max(seconds, 0.0)
        series = ";".join(label_values)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(self._key, f"{series}|{self._bucket(seconds)}", 1)
            pipe.hincrbyfloat(self._key, f"{series}|sum", seconds)
            pipe.hincrby(self._key, f"{series}|count", 1)
            await pipe.execute()

    async def render(self) -> str:
        raw = await resolved(self._redis.hgetall(self._key))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        by_series: dict[str, dict[str, str]] = {}
        for field, value in fields.items():
            series, _, part = field.rpartition("|")
            by_series.setdefault(series, {})[part] = value
        lines = [f"# HELP {self.name} {self._help}", f"# TYPE {self.name} histogram"]
        for series, parts in sorted(by_series.items()):
            values = series.split(";")
            if len(values) != len(self._label_names):
                continue  # written by another version of dlbot with other labels
            labels = list(zip(self._label_names, values, strict=True))
            running = 0
            for bound in [*map(_number, self._buckets), "+Inf"]:
                running += int(parts.get(bound, "0"))
                bucket = _labels([*labels, ("le", bound)])
                lines.append(f"{self.name}_bucket{{{bucket}}} {running}")
            plain = _labels(labels)
            total = float(parts.get("sum", "0"))
            lines.append(f"{self.name}_sum{{{plain}}} {_number(total)}")
            lines.append(f"{self.name}_count{{{plain}}} {int(parts.get('count', '0'))}")
        return "\n".join(lines) + "\n"


class WorkflowMetrics:
    """The shared figures: recorded from audit events, read from Redis and the queue."""

    def __init__(self, redis: Redis, store: RequestStore, queue: Queue | None = None) -> None:
        self._redis = redis
        self._store = store
        self._queue = queue
        self.time_to_decision = RedisHistogram(
            redis,
            TIME_TO_DECISION,
            "dlbot_time_to_decision_seconds",
            "From a request being asked to an approver's decision.",
            ("kind", "decision"),
            DECISION_BUCKETS,
        )
        self.time_to_execution = RedisHistogram(
            redis,
            TIME_TO_EXECUTION,
            "dlbot_time_to_execution_seconds",
            "From a request being approved to its change made (or failed for good) in Exchange.",
            ("kind", "outcome"),
            EXECUTION_BUCKETS,
        )

    async def record(self, event: AuditEvent) -> None:
        """Count one audit event (called once per event, after it is appended)."""
        kind = bounded(event.kind, KINDS)
        counted = _COUNTED_EVENTS.get(event.event)
        if counted is not None:
            await resolved(self._redis.hincrby(REQUESTS_TOTAL, f"{kind};{counted}", 1))
        decision = _decision(event)
        execution = {AuditAction.EXECUTED.value: "completed", AuditAction.FAILED.value: "failed"}
        if decision is None and event.event not in execution:
            return
        request = await self._store.get(event.request_id)
        if request is None:
            return
        if decision is not None:
            await self.time_to_decision.observe(
                (kind, decision), _seconds(request.created_at, event.at)
            )
            return
        if request.status.value not in execution.values():
            return  # the change ran after an admin cancelled the request: not an execution
        await self.time_to_execution.observe(
            (kind, execution[event.event]), _seconds(_approved_at(request), event.at)
        )

    async def open_by_state(self) -> Counter[tuple[str, str]]:
        """Open requests now by (kind, state), read from the open-request index."""
        counts: Counter[tuple[str, str]] = Counter()
        cursor = 0
        while True:
            cursor, page = await resolved(
                self._redis.hscan(keys.OPEN_VERSIONS, cursor, count=_OPEN_PAGE)
            )
            ids = [_text(request_id) for request_id in page]
            readable = [i for i in ids if keys.is_request_id(i)]
            if readable:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for request_id in readable:
                        pipe.hget(keys.request(request_id), "json")
                    documents = await pipe.execute()
                for document in documents:
                    if document is None:
                        continue
                    fields = json.loads(document)
                    state = fields.get("status", "")
                    if state in OPEN_STATES:
                        counts[(bounded(fields.get("kind"), KINDS), state)] += 1
            if cursor == 0:
                return counts

    async def render(self) -> str:
        lines = [
            "# HELP dlbot_requests_open Open requests now, by state.",
            "# TYPE dlbot_requests_open gauge",
        ]
        opened = await self.open_by_state()
        for kind in sorted(KINDS):
            for state in OPEN_STATES:
                labels = _labels((("kind", kind), ("state", state)))
                lines.append(f"dlbot_requests_open{{{labels}}} {opened[(kind, state)]}")
        lines += [
            "# HELP dlbot_requests_total Requests submitted, and ended by each way of ending.",
            "# TYPE dlbot_requests_total counter",
        ]
        totals = await resolved(self._redis.hgetall(REQUESTS_TOTAL))
        for field, value in sorted((_text(k), _text(v)) for k, v in totals.items()):
            kind, _, event = field.partition(";")
            labels = _labels((("kind", kind), ("event", event)))
            lines.append(f"dlbot_requests_total{{{labels}}} {int(value)}")
        text = "\n".join(lines) + "\n"
        text += await self.time_to_decision.render()
        text += await self.time_to_execution.render()
        text += await self._queue_and_audit()
        return text

    async def _queue_and_audit(self) -> str:
        lines: list[str] = []
        if self._queue is not None:
            lines += [
                "# HELP dlbot_queue_jobs Jobs in the saq queue: waiting, running, and all not "
                "finished (scheduled timers included).",
                "# TYPE dlbot_queue_jobs gauge",
            ]
            for state in QUEUE_STATES:
                count = await self._queue.count(state)  # type: ignore[arg-type]
                lines.append(f'dlbot_queue_jobs{{state="{state}"}} {count}')
        audit_length = await resolved(self._redis.xlen(keys.AUDIT_STREAM))
        lines += [
            "# HELP dlbot_audit_events Events in the audit stream (pruned only by retention).",
            "# TYPE dlbot_audit_events gauge",
            f"dlbot_audit_events {audit_length}",
        ]
        return "\n".join(lines) + "\n"


class RecordingAudit:
    """An AuditLog that counts each event into WorkflowMetrics after appending it.

    A failure to count is logged and swallowed: a metric must never undo or repeat a step."""

    def __init__(self, inner: AuditLog, metrics: WorkflowMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def append(self, event: AuditEvent) -> None:
        await self._inner.append(event)
        try:
            await self._metrics.record(event)
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            log.warning("could not count audit event %s: %r", event.event, exc)

    async def read(self, since: datetime | None = None) -> list[AuditEvent]:
        return await self._inner.read(since)


def _decision(event: AuditEvent) -> str | None:
    """ "approved"/"denied" when the event is an approver's decision; auto-approval has no actor."""
    if event.event == AuditAction.APPROVED.value and event.actor_id:
        return "approved"
    if event.event == AuditAction.DENIED.value:
        return "denied"
    return None


def _approved_at(request: ApprovalRequest) -> datetime:
    if request.decision is not None:
        return request.decision.at
    return request.created_at  # approved when asked (open list, requester owns it)


def _seconds(start: datetime, end: datetime) -> float:
    seconds = (end - start).total_seconds()
    return seconds if math.isfinite(seconds) else 0.0


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
