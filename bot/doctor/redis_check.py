"""Check 7: Redis answers, is recent enough, and keeps what it is told across a restart."""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.doctor.core import CheckResult, DoctorContext, fail, ok, one_line, warn

REDIS_TIMEOUT_SECONDS = 5.0
MINIMUM_MAJOR_VERSION = 6

PORTAL_PERSISTENCE = (
    "In the Azure portal open the cache > Settings > Data persistence and check that AOF (or at "
    "least RDB) persistence is on; Basic and Standard caches have none, so use Premium or higher."
)
ENABLE_AOF = (
    "Turn on the append-only file: appendonly yes in redis.conf (or CONFIG SET appendonly yes, "
    "then CONFIG REWRITE); on Azure Cache for Redis, Premium tier > Data persistence > AOF."
)


def connect_redis(url: str) -> Redis:
    """The Redis client doctor uses by default: short timeouts, text replies."""
    return Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        decode_responses=True,
    )


def describe_redis_url(url: str) -> str:
    """host:port and database of a Redis URL, without its user name or password."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return f"unix socket {parts.path}"
        host = parts.hostname or "?"
        port = parts.port or 6379
    except ValueError:
        return "the URL in DLBOT_REDIS_URL"
    database = parts.path.strip("/") or "0"
    tls = ", TLS" if parts.scheme == "rediss" else ""
    return f"{host}:{port} db {database}{tls}"


async def check_redis(context: DoctorContext) -> CheckResult:
    url = context.settings.redis_url.strip()
    if not url:
        return fail(
            "DLBOT_REDIS_URL is not set: dlbot serve would start a local redis-server on this "
            "machine, but production needs a real Redis",
            "Set DLBOT_REDIS_URL to a Redis 6 or later with AOF persistence (Azure Cache for "
            "Redis: rediss://:<access key>@<name>.redis.cache.windows.net:6380/0).",
        )
    where = describe_redis_url(url)
    try:
        client = context.redis_client(url)
    except ValueError:
        # Not echoed: the URL may carry a password.
        return fail(
            "DLBOT_REDIS_URL is not a Redis URL",
            "Write it as redis://[:password@]host:6379/0, or rediss:// for TLS.",
        )
    try:
        return await _examine(client, where)
    finally:
        await client.aclose()


async def _examine(client: Any, where: str) -> CheckResult:
    try:
        await client.ping()
    except AuthenticationError:
        return fail(
            f"Redis at {where} refused the credentials (or wants some)",
            "Put the password (Azure: an access key) in DLBOT_REDIS_URL: "
            "redis://:<password>@host:6379/0, or rediss:// for TLS.",
        )
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        return fail(
            f"can't reach Redis at {where}: {_connection_reason(exc)}",
            "Start Redis or correct the host and port in DLBOT_REDIS_URL, and check a firewall "
            "lets this machine reach it (Azure Cache for Redis: port 6380 with rediss://).",
        )
    except RedisError as exc:
        return fail(
            f"Redis at {where} refused PING: {one_line(str(exc))}",
            "Give dlbot's Redis user access to all commands and keys (ACL), or use another "
            "database.",
        )
    version = await _version(client)
    found = f"Redis {version} at {where}" if version else f"Redis at {where}"
    major = _major(version)
    if major is not None and major < MINIMUM_MAJOR_VERSION:
        return fail(
            f"{found} answers, but dlbot needs Redis {MINIMUM_MAJOR_VERSION} or later",
            "Upgrade Redis, or point DLBOT_REDIS_URL at a newer one.",
        )
    try:
        appendonly = await _config(client, "appendonly")
        save = await _config(client, "save")
        policy = await _config(client, "maxmemory-policy")
    except ResponseError:
        # Azure Cache for Redis (and many managed services) disable CONFIG.
        return warn(
            f"{found} answers; persistence couldn't be checked: it refuses CONFIG",
            PORTAL_PERSISTENCE,
        )
    if appendonly.lower() != "yes" and not save.strip():
        return fail(
            f"{found} answers but persists nothing (appendonly no, no RDB save): pending "
            "requests and queued changes would be lost when it restarts",
            ENABLE_AOF,
        )
    cautions: list[str] = []
    fixes: list[str] = []
    if appendonly.lower() != "yes":
        cautions.append(
            f"it persists by RDB snapshots only (save {save.strip()}), so what changed since the "
            "last snapshot is lost if it crashes"
        )
        fixes.append(ENABLE_AOF)
    if policy.startswith("allkeys-"):
        cautions.append(
            f"maxmemory-policy {policy} may evict dlbot's requests and jobs when memory runs short"
        )
        fixes.append("Set maxmemory-policy noeviction (Azure: Advanced settings).")
    if cautions:
        return warn(f"{found} answers, but " + "; ".join(cautions), " ".join(fixes))
    return ok(f"{found} answers, append-only file on")


async def _version(client: Any) -> str:
    try:
        info = await client.info("server")
    except RedisError:
        return ""
    return _text(info.get("redis_version", "")) if isinstance(info, dict) else ""


def _major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


async def _config(client: Any, name: str) -> str:
    answer = await client.config_get(name)
    if not isinstance(answer, dict):
        return ""
    for key, value in answer.items():
        if _text(key).lower() == name:
            return _text(value)
    return ""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _connection_reason(exc: BaseException) -> str:
    for cause in _chain(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "its host name doesn't resolve"
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake failed (rediss:// needs a TLS port, redis:// a plain one)"
        if isinstance(cause, RedisTimeoutError | TimeoutError):
            return "no answer in time"
    return type(exc).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
