"""A typing shim shared by the Redis backends (the request store and the audit stream)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar, cast

T = TypeVar("T")


async def resolved(result: Awaitable[T] | T) -> T:
    """Await a redis.asyncio command: redis-py types each command for its sync and asyncio
    clients at once (`Awaitable[T] | T`), but on redis.asyncio it always returns an awaitable."""
    return await cast(Awaitable[T], result)
