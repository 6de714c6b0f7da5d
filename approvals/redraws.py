"""Which requests' cards may owe a redraw: the ledger the per-minute sweep reads, so a process
that died between a request's final change and queueing the redraw of its cards does not leave
Approve/Deny buttons showing on a decided request.

What owes a redraw is the request itself: the change that leaves its cards showing an older
status sets `cards_owed_since` in the same compare-and-set, and a complete redraw clears it. The
ledger only says where to look, so the sweep never reads every request ever made. It is written
just before that compare-and-set (it lives in a Redis Cluster slot of its own, which one script
cannot reach together with the request), so it can hold ids that owe nothing: a change that lost
its race, or a redraw done since. The sweep reads each entry's request and drops the entry when
nothing is owed; dropping is conditional on the entry's time, so an entry written again by a
newer change meanwhile stays. An entry still owed a day on is given up (service.REDRAW_GIVE_UP).

Every process that changes requests must be given the same ledger (bot/services.py and
bot/admin_command.py pass a RedisRedrawLedger); the one in memory serves a single process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as redis

from approvals import keys
from approvals.redis_calls import text


class RedrawLedger(Protocol):
    async def owe(self, request_id: str, since: datetime) -> None:
        """Note that the request's cards may owe a redraw since `since`: the last write wins,
        whether its time is later or earlier than the entry's (plain ZADD, no GT). settle and
        postpone rely on that: any note written meanwhile changes the entry's time, so they
        leave it alone. (With GT, a note from a process whose clock is behind would leave the
        time as it was, and a settle under way would drop an entry a newer change needs.)"""
        ...

    async def due(self, before: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Entries noted before `before`, oldest first, at most `limit`, with their times."""
        ...

    async def settle(self, request_id: str, since: datetime) -> None:
        """Drop the entry, unless it was noted again meanwhile (its time is no longer `since`)."""
        ...

    async def postpone(self, request_id: str, since: datetime, until: datetime) -> None:
        """Move the entry to `until`, unless it was noted again meanwhile."""
        ...


class InMemoryRedrawLedger:
    """The ledger in a dict, for one process (tests, demos)."""

    def __init__(self) -> None:
        self._since: dict[str, datetime] = {}

    async def owe(self, request_id: str, since: datetime) -> None:
        self._since[request_id] = since

    async def due(self, before: datetime, limit: int) -> list[tuple[str, datetime]]:
        listed = sorted((since, request_id) for request_id, since in self._since.items())
        return [(request_id, since) for since, request_id in listed if since < before][:limit]

    async def settle(self, request_id: str, since: datetime) -> None:
        if self._since.get(request_id) == since:
            del self._since[request_id]

    async def postpone(self, request_id: str, since: datetime, until: datetime) -> None:
        if self._since.get(request_id) == since:
            self._since[request_id] = until


# KEYS: ledger. ARGV: id, its time as read. Drops it unless noted again meanwhile.
_SETTLE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""

# KEYS: ledger. ARGV: id, its time as read, the new time. Moves it unless noted again meanwhile.
_POSTPONE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
end
return 0
"""


class RedisRedrawLedger:
    """The ledger as one sorted set (keys.OWED_REDRAWS) of request ids by epoch milliseconds."""

    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client
        self._settle = redis_client.register_script(_SETTLE)
        self._postpone = redis_client.register_script(_POSTPONE)

    async def owe(self, request_id: str, since: datetime) -> None:
        await self._redis.zadd(keys.OWED_REDRAWS, {request_id: _ms(since)})

    async def due(self, before: datetime, limit: int) -> list[tuple[str, datetime]]:
        entries = await self._redis.zrangebyscore(
            keys.OWED_REDRAWS, "-inf", f"({_ms(before)}", start=0, num=limit, withscores=True
        )
        return [(text(member), _at(score)) for member, score in entries]

    async def settle(self, request_id: str, since: datetime) -> None:
        await self._settle(keys=[keys.OWED_REDRAWS], args=[request_id, _ms(since)])

    async def postpone(self, request_id: str, since: datetime, until: datetime) -> None:
        await self._postpone(keys=[keys.OWED_REDRAWS], args=[request_id, _ms(since), _ms(until)])


# Whole milliseconds: a score read back and compared by the scripts must round-trip exactly.
def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _at(score: float) -> datetime:
    return datetime.fromtimestamp(round(score) / 1000, UTC)


if TYPE_CHECKING:  # mypy proves both ledgers satisfy the port

    def _conforms(redis_client: redis.Redis) -> tuple[RedrawLedger, RedrawLedger]:
        return InMemoryRedrawLedger(), RedisRedrawLedger(redis_client)
