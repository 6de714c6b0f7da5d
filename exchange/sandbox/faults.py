"""Fault injection: the ways Exchange Online misbehaves, switchable per cmdlet at run time.

The point is to exercise a client's retry and error handling against the exact failure shapes
listed in the wire contract (section 3), deterministically: a fault fires `count` times (or until
cleared), optionally only with some probability drawn from a SEEDED generator, so a flaky-looking
scenario replays identically from one test run to the next.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast, get_args

FaultKind = Literal[
    "throttle",  # 429 + Retry-After, plain-text body
    "unavailable",  # 503
    "gateway_timeout",  # 504
    "transient_500",  # 500 naming ADTransientException: a client retries it
    "server_error_500",  # 500 naming a non-transient exception: a client must NOT retry it
    "latency",  # sleep latency_ms, then answer normally
    "drop",  # close the connection without answering, before executing
    "drop_after_execute",  # execute, then close without answering: the lost-response case
    "empty_403",  # 403, empty body, reason only in x-ms-diagnostics
    "plain_text",  # 200 with a text/plain, non-JSON body
    "gzip_mislabelled",  # the real JSON, advertised as Content-Encoding: gzip
    "unauthorized",  # 401 exactly as for an expired token
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

# Kinds after which the cmdlet has still been executed (the client cannot tell from the answer).
EXECUTING_KINDS = frozenset({"latency", "drop_after_execute", "gzip_mislabelled"})

_FIELDS = ("kind", "cmdlet", "count", "probability", "retry_after", "latency_ms")


@dataclass
class Fault:
    kind: FaultKind
    cmdlet: str = "*"  # a cmdlet name (case-insensitive) or "*" for every cmdlet
    count: int | None = None  # how many calls it affects; None = until cleared
    probability: float = 1.0  # chance per matching call, drawn from the plan's seeded RNG
    retry_after: str = "1"  # Retry-After for throttle/unavailable; decimals ("1.5") are real
    latency_ms: int = 0  # delay before answering (for every kind; "latency" needs it > 0)

    def __post_init__(self) -> None:
        # Validated here so a bad POST /_sandbox/faults gets a clear 400, not a later surprise.
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not isinstance(self.cmdlet, str) or not self.cmdlet:
            raise ValueError("cmdlet must be a cmdlet name or '*'")
        if self.count is not None and (
            isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1
        ):
            raise ValueError("count must be a positive integer or null (until cleared)")
        if isinstance(self.probability, bool) or not isinstance(self.probability, int | float):
            raise ValueError("probability must be a number between 0 and 1")
        if not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if not isinstance(self.retry_after, str) or not self.retry_after.strip():
            raise ValueError("retry_after must be a non-empty string such as '1' or '1.5'")
        if (
            isinstance(self.latency_ms, bool)
            or not isinstance(self.latency_ms, int)
            or not 0 <= self.latency_ms <= 600_000
        ):
            raise ValueError("latency_ms must be an integer between 0 and 600000")
        if self.kind == "latency" and self.latency_ms == 0:
            raise ValueError("a 'latency' fault needs latency_ms > 0")

    @classmethod
    def from_json(cls, data: object) -> Fault:
        if not isinstance(data, dict):
            raise ValueError('a fault is a JSON object such as {"kind": "throttle"}')
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        retry_after = data.get("retry_after", "1")
        if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
            retry_after = str(retry_after)  # forgiving: {"retry_after": 2} means "2"
        return cls(
            kind=cast(FaultKind, data["kind"]),
            cmdlet=data.get("cmdlet", "*"),
            count=data.get("count"),
            probability=data.get("probability", 1.0),
            retry_after=retry_after,
            latency_ms=data.get("latency_ms", 0),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, cmdlet: str) -> bool:
        return self.cmdlet == "*" or self.cmdlet.casefold() == cmdlet.casefold()


class FaultPlan:
    """An ordered list of faults. Thread-safe: ThreadedSandbox injects from another thread."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, cmdlet: str) -> Fault | None:
        """The fault to apply to this call, if any; spends one of its `count`.

        Faults are tried in the order they were injected; the first that matches the cmdlet and
        wins its probability draw applies (one fault per call). A fault whose count is spent is
        removed.
        """
        with self._lock:
            for fault in self._faults:
                if not fault.matches(cmdlet):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                return fault
            return None
