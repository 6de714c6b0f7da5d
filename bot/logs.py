"""Logging for every dlbot process: one JSON object per line (or readable lines for the demo).

    configure_logging(settings)                 # once, at start, by the `dlbot` command
    with correlation(activity.id): ...          # everything logged inside carries the id

Every logger, ours (stdlib `logging.getLogger(__name__)`) and the libraries' (msal, urllib3,
httpx, aiohttp, saq, botbuilder), goes through one structlog ProcessorFormatter on one handler,
so a line always has timestamp, level, logger and event, plus whatever was bound with
structlog.contextvars (correlation_id, request_id, job) and whatever was passed as `extra=`.

Secrets are never logged on purpose; `Redactor` is the last line of defence for the day someone
slips: it replaces the configured secret values (bot app password, Exchange client secret,
certificate password), bearer tokens, JWT-shaped strings, Authorization header values and
client_secret / client_assertion form values with "[REDACTED]" in every field of every line,
exception traces included.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

from bot.settings import Settings

REDACTED = "[REDACTED]"
CORRELATION_ID = "correlation_id"
# Activity ids come from outside: bounded, so a hostile one cannot bloat every line it touches.
MAX_CORRELATION_ID_LENGTH = 128

# Libraries are chatty below these levels and say nothing an operator of dlbot acts on; each is
# the least verbose level that still shows that library's problems.
LIBRARY_LEVELS: Mapping[str, int] = {
    "msal": logging.WARNING,
    "urllib3": logging.WARNING,
    "requests": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "asyncio": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "aiohttp": logging.INFO,
    "botbuilder": logging.WARNING,
    "msrest": logging.WARNING,
    "saq": logging.INFO,
}

# Shapes that are credentials whatever their value. JWTs are three base64url parts, the first
# two JSON objects, so they start with "eyJ" ('{"').
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), REDACTED),
    (
        re.compile(
            r"(?i)\b(authorization|client_secret|client_assertion|password)(['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,;}]+"
        ),
        r"\1\2" + REDACTED,
    ),
)


class Redactor:
    """A structlog processor scrubbing credentials from every string in the event dict."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, SecretStr):
            return REDACTED
        if isinstance(value, Mapping):
            return {key: self._value(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(item) for item in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        # Anything else is rendered by repr/str later: scrub that text now.
        return self.scrub(str(value))

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {key: self._value(value) for key, value in event_dict.items()}


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret's value: what must never appear in a log line."""
    secrets = (
        settings.bot_app_password,
        settings.exchange_client_secret,
        settings.exchange_certificate_password,
    )
    return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]


def _drop_color_message(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    # uvicorn-style duplicates some libraries add; the event already says it.
    event_dict.pop("color_message", None)
    return event_dict


def build_formatter(settings: Settings, *, console: bool) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter every handler of the process uses."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_color_message,
    ]
    redactor = Redactor(secret_values(settings))
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if console
        else structlog.processors.JSONRenderer()
    )
    # A trace becomes a string field before the redactor, so it is scrubbed like the rest (and
    # in JSON stays on the event's own line).
    final: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        redactor,
        renderer,
    ]
    return structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)


def configure_logging(
    settings: Settings,
    *,
    console: bool | None = None,
    level: int | str | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Route every logger of the process through one structlog formatter to `stream` (stderr).

    `console` defaults to DLBOT_LOG_FORMAT (auto: JSON); `level` to DLBOT_LOG_LEVEL. Returns the
    handler it installed (the root logger's only one), so a test can remove it again.
    """
    if console is None:
        console = settings.log_format == "console"
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(build_formatter(settings, console=console))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root_level = logging.getLevelName(level) if isinstance(level, str) else level
    root.setLevel(root_level if root_level is not None else settings.log_level)
    for name, library_level in LIBRARY_LEVELS.items():
        # A library is never louder than the process, nor quieter than its own problems.
        logging.getLogger(name).setLevel(max(library_level, root.level))
    # structlog's own loggers (if any module uses structlog.get_logger) share the handler.
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler


def new_correlation_id(candidate: str | None = None) -> str:
    """`candidate` (an activity id) if usable, else a new id."""
    if candidate and len(candidate) <= MAX_CORRELATION_ID_LENGTH and candidate.isprintable():
        return candidate
    return uuid.uuid4().hex


def bind_correlation(correlation_id: str) -> None:
    """Bind the id in the current context: this task and every task or thread it starts."""
    structlog.contextvars.bind_contextvars(**{CORRELATION_ID: correlation_id})


def current_correlation_id() -> str:
    value = structlog.contextvars.get_contextvars().get(CORRELATION_ID, "")
    return value if isinstance(value, str) else ""


@contextlib.contextmanager
def correlation(correlation_id: str, **more: Any) -> Iterator[str]:
    """Bind the id (and `more`) for the block; the previous bindings come back after it."""
    with structlog.contextvars.bound_contextvars(**{CORRELATION_ID: correlation_id}, **more):
        yield correlation_id


@web.middleware
async def fresh_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Each HTTP request starts with nothing bound: aiohttp serves the requests of one
    keep-alive connection in one task, and an id bound for one must not tag the next."""
    structlog.contextvars.clear_contextvars()
    try:
        return await handler(request)
    finally:
        structlog.contextvars.clear_contextvars()
