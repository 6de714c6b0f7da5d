"""Capture what a dlbot process logs, exactly as `dlbot serve` formats it, and scan it for leaks.

with captured_logs(settings) as logs:      # every logger at DEBUG, the product's formatter
    ...
logs.records()                             # each line parsed (each line must be JSON)
leaks(logs.lines(), secrets)               # lines holding a secret, a token, "Bearer "...
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.logs import LIBRARY_LEVELS, configure_logging
from bot.settings import Settings

# Credential shapes that must never reach a line, whatever their value.
_BEARER = re.compile(r"(?i)bearer\s+(?!\[REDACTED\])\S")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.")
_FORM = re.compile(r"(?i)(client_secret|client_assertion)=(?!\[REDACTED\])[^&\s\"']+")


def leaks(lines: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """Every line that shows a secret value, a bearer token, a JWT, or a client_secret /
    client_assertion form value."""
    values = [s for s in secrets if s]
    found = []
    for line in lines:
        if (
            any(value in line for value in values)
            or _BEARER.search(line)
            or _JWT.search(line)
            or _FORM.search(line)
        ):
            found.append(line)
    return found


@dataclass
class CapturedLogs:
    stream: io.StringIO = field(default_factory=io.StringIO)

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def mentioning(self, value: str) -> list[dict[str, Any]]:
        """Records with `value` as any field's whole value."""
        return [r for r in self.records() if value in (str(v) for v in r.values())]


@contextlib.contextmanager
def captured_logs(
    settings: Settings, *, every_logger_at_debug: bool = True
) -> Iterator[CapturedLogs]:
    """Install the product's logging (JSON) into a buffer; restore the previous setup after."""
    root = logging.getLogger()
    names = [*LIBRARY_LEVELS, "bot", "approvals", "exchange", "skills"]
    before = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in names})
    logs = CapturedLogs()
    handler = configure_logging(settings, console=False, level="DEBUG", stream=logs.stream)
    # configure_logging owns the root logger in a process; here pytest's handlers stay too.
    for old in before[0]:
        root.addHandler(old)
    if every_logger_at_debug:
        for name in names:
            logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield logs
    finally:
        root.removeHandler(handler)
        _, level, levels = before
        root.setLevel(level)
        for name, old_level in levels.items():
            logging.getLogger(name).setLevel(old_level)
