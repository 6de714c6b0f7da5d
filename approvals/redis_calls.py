"""What the Redis backends share (requests, grants, reviews, the audit stream): a typing shim,
reply decoding, and the Lua of a versioned JSON document.

A document is one hash {version, json}. It is created once (CREATE_DOCUMENT) and changed only
by compare-and-set on its version (COMPARE_AND_SET_DOCUMENT), so a change made from a stale
copy fails instead of overwriting a newer one, however many processes race.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar, cast

T = TypeVar("T")


async def resolved(result: Awaitable[T] | T) -> T:
    """Await a redis.asyncio command: redis-py types each command for its sync and asyncio
    clients at once (`Awaitable[T] | T`), but on redis.asyncio it always returns an awaitable."""
    return await cast(Awaitable[T], result)


def text(value: Any) -> str:
    """A Redis reply as text (bytes from a client without decode_responses)."""
    return value.decode() if isinstance(value, bytes) else str(value)


# KEYS: document hash. ARGV: json. Stores a new document unless the key exists; 1 when stored.
CREATE_DOCUMENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'version', '0', 'json', ARGV[1])
return 1
"""

# KEYS: document hash. ARGV: expected version, new version, new json.
# Returns 1 when stored, 0 when the version moved on, -1 when there is no such document.
COMPARE_AND_SET_DOCUMENT = """
local version = redis.call('HGET', KEYS[1], 'version')
if not version then
  return -1
end
if version ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
return 1
"""
