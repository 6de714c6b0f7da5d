"""`dlbot doctor`: checks a deployment's configuration against the tenant it points at.

Seven checks, in order, one line each ("ok", "warn", "FAIL" or "skip" and what was checked),
a failure followed by its fix:

    bot-credentials     DLBOT_BOT_APP_ID a GUID, DLBOT_BOT_APP_PASSWORD set, tenants allowed
    messaging-endpoint  DLBOT_PUBLIC_URL public https; prints <public_url>/api/messages
    exchange-settings   settings.exchange() and the files it names
    exchange-token      a token from Entra ID, carrying Exchange.ManageAsApp
    exchange-role       every cmdlet dlbot uses is granted (probed without changing anything)
    group-manager-bypass BypassSecurityGroupManagerCheck works (from the membership probes)
    redis               reachable, Redis 6+, persistent (AOF; CONFIG refused: a warning)

Exit 0 when every check passes (ok or warn), 1 otherwise. No secret is ever printed: the checks
never quote one, and every line is passed through a redactor of the configured secret values.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from bot.doctor.core import (
    Check,
    CheckResult,
    DoctorContext,
    ExchangeClientFactory,
    RedisClientFactory,
    Status,
    exit_code,
    render,
    run_checks,
)
from bot.doctor.deployment import check_bot_credentials, check_messaging_endpoint
from bot.doctor.exchange_checks import (
    check_exchange_role,
    check_exchange_settings,
    check_exchange_token,
    check_group_manager_bypass,
)
from bot.doctor.redis_check import check_redis, connect_redis
from bot.settings import Settings
from exchange.client import ExchangeClient

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "DoctorContext",
    "Status",
    "diagnose",
    "exit_code",
    "render",
    "run_doctor",
]

CHECKS: tuple[Check, ...] = (
    Check("bot-credentials", "bot credentials", check_bot_credentials),
    Check("messaging-endpoint", "messaging endpoint", check_messaging_endpoint),
    Check("exchange-settings", "Exchange settings", check_exchange_settings),
    Check("exchange-token", "Exchange token", check_exchange_token, needs=("exchange-settings",)),
    Check("exchange-role", "Exchange role", check_exchange_role, needs=("exchange-token",)),
    Check(
        "group-manager-bypass",
        "group manager bypass",
        check_group_manager_bypass,
        needs=("exchange-token",),
    ),
    Check("redis", "Redis", check_redis),
)


async def diagnose(
    settings: Settings,
    *,
    exchange_client: ExchangeClientFactory = ExchangeClient,
    redis_client: RedisClientFactory = connect_redis,
    checks: tuple[Check, ...] = CHECKS,
) -> list[CheckResult]:
    """Every check's result, in order. Closes every client it opened."""
    context = DoctorContext(settings, exchange_client=exchange_client, redis_client=redis_client)
    with _quiet_exchange_warnings():
        return await run_checks(context, checks)


async def run_doctor(
    settings: Settings,
    *,
    out: TextIO | None = None,
    exchange_client: ExchangeClientFactory = ExchangeClient,
    redis_client: RedisClientFactory = connect_redis,
) -> int:
    """`dlbot doctor`: print the report, return the exit code."""
    results = await diagnose(settings, exchange_client=exchange_client, redis_client=redis_client)
    stream = out if out is not None else sys.stdout
    stream.write(render(results))
    stream.flush()
    return exit_code(results)


@contextmanager
def _quiet_exchange_warnings() -> Iterator[None]:
    # The probes provoke Exchange's warnings on purpose (ResultSize 1 cuts lists short); the
    # report says what matters, so the client's log lines would only be noise on stderr.
    logger = logging.getLogger("exchange")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
