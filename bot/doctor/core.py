"""What every doctor check shares: results, the context checks read and fill in, the runner.

A check is an async function of a DoctorContext returning a CheckResult. Checks run in order; a
check whose prerequisites failed (or were skipped) is skipped with the reason, never run on top of
a configuration already known to be broken. Everything a check touches outside the process (the
Exchange client, the Redis client) comes from factories in the context, so tests run the checks
against the sandbox tenant and a real Redis, and can hand in a client of their own.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from bot.settings import Settings
from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig

if TYPE_CHECKING:
    from bot.doctor.probes import RoleProbes


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, with a caveat the admin should know; does not change the exit code
    FAIL = "FAIL"
    SKIP = "skip"  # not run because a check it depends on failed


@dataclass(frozen=True)
class CheckResult:
    status: Status
    summary: str  # what was checked and what was found, one line
    fix: str = ""  # for FAIL and warn: what to do, in one or two sentences
    name: str = ""  # the check's id, filled in by the runner
    title: str = ""  # the check's words, filled in by the runner

    @property
    def passed(self) -> bool:
        return self.status in (Status.OK, Status.WARN)


def ok(summary: str) -> CheckResult:
    return CheckResult(Status.OK, summary)


def warn(summary: str, fix: str) -> CheckResult:
    return CheckResult(Status.WARN, summary, fix)


def fail(summary: str, fix: str) -> CheckResult:
    return CheckResult(Status.FAIL, summary, fix)


def skip(summary: str) -> CheckResult:
    return CheckResult(Status.SKIP, summary)


ExchangeClientFactory = Callable[[ExchangeConfig], ExchangeClient]
# redis.asyncio.Redis, or anything with its ping/info/config_get/aclose.
RedisClientFactory = Callable[[str], Any]


@dataclass
class DoctorContext:
    """The settings under test, the factories for outside connections, and what checks found."""

    settings: Settings
    exchange_client: ExchangeClientFactory
    redis_client: RedisClientFactory
    # Closes whatever checks opened (the Exchange client) once every check has run.
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    exchange_config: ExchangeConfig | None = None
    client: ExchangeClient | None = None
    probes: RoleProbes | None = None


@dataclass(frozen=True)
class Check:
    name: str
    title: str
    run: Callable[[DoctorContext], Awaitable[CheckResult]]
    needs: tuple[str, ...] = ()  # checks that must pass (ok or warn) before this one runs


async def run_checks(context: DoctorContext, checks: Sequence[Check]) -> list[CheckResult]:
    """Every check in order, each skipped when one it needs did not pass; never raises."""
    results: dict[str, CheckResult] = {}
    redact = Redactor.for_settings(context.settings)
    async with context.stack:
        for check in checks:
            blocked = [results[n] for n in check.needs if n in results and not results[n].passed]
            if blocked:
                first = blocked[0]
                verb = "failed" if first.status is Status.FAIL else "was skipped"
                result = skip(f"not checked, because the {first.title} check {verb}")
            else:
                try:
                    result = await check.run(context)
                except Exception as exc:  # a broken check must not hide the others' answers
                    result = fail(
                        f"the check stopped unexpectedly: {type(exc).__name__}: "
                        f"{one_line(str(exc))}",
                        "Run dlbot doctor again; if this line stays, report it with the line.",
                    )
            result = replace(
                result,
                name=check.name,
                title=check.title,
                summary=redact(result.summary),
                fix=redact(result.fix),
            )
            results[check.name] = result
    return list(results.values())


def exit_code(results: Iterable[CheckResult]) -> int:
    """0 when every check passed (ok or warn), 1 otherwise."""
    return 0 if all(result.passed for result in results) else 1


_LABEL_WIDTH = 6


def render(results: Sequence[CheckResult]) -> str:
    """One line per check, the fix indented under a failure or warning, a closing count."""
    lines: list[str] = []
    for result in results:
        lines.append(f"{result.status.value:<{_LABEL_WIDTH}}{result.title}: {result.summary}")
        if result.fix:
            lines.append(f"{'':<{_LABEL_WIDTH}}fix: {result.fix}")
    counts = {status: sum(r.status is status for r in results) for status in Status}
    tally = ", ".join(
        f"{counts[status]} {label}"
        for status, label in (
            (Status.OK, "ok"),
            (Status.WARN, "warn"),
            (Status.FAIL, "FAIL"),
            (Status.SKIP, "skipped"),
        )
        if counts[status]
    )
    verdict = (
        "ready to deploy"
        if exit_code(results) == 0
        else "fix the FAIL lines and run dlbot doctor again"
    )
    lines.append(f"dlbot doctor: {tally}: {verdict}")
    return "\n".join(lines) + "\n"


# --- text that must never carry a secret --------------------------------------------------------


class Redactor:
    """Replaces every configured secret value with *** in text that is about to be shown.

    The checks never put a secret into their words; this is the second line of defence for text
    that comes from elsewhere (an error message from Entra ID, Exchange or Redis).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        values = [
            secret.get_secret_value()
            for secret in (
                settings.bot_app_password,
                settings.exchange_client_secret,
                settings.exchange_certificate_password,
            )
            if secret is not None
        ]
        password = redis_password(settings.redis_url)
        if password:
            values += [password, unquote(password)]
        return cls(values)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def redis_password(url: str) -> str:
    """The password in a Redis URL as written (percent-encoded), or ""."""
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def one_line(text: str, limit: int = 240) -> str:
    """Text from elsewhere, flattened to one line and cut to a readable length."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
