"""Publishing a new version of a snapshot kept in Redis (the list index, the people).

A sync writes the new version under its own key (expiring, so a sync that dies leaves nothing
behind), then switches the pointer to it in one transaction. The previous version stays readable
for a grace period, so a replica that started loading it just before the switch finishes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from redis.asyncio import Redis

# Long enough for a replica that began loading the old snapshot to finish reading it.
OLD_VERSION_GRACE_SECONDS: Final = 600


async def publish_version(
    redis: Redis,
    *,
    pointer_key: str,
    version_key: Callable[[str], str],
    pointer: dict[str, Any],
) -> None:
    """Make `pointer` (which names its "version") current, and let the version it replaces
    expire after the grace period."""
    version = str(pointer["version"])
    async with redis.pipeline(transaction=True) as pipe:
        pipe.persist(version_key(version))
        pipe.set(pointer_key, json.dumps(pointer), get=True)
        _, previous = await pipe.execute()
    if previous is None:
        return
    try:
        old = str(json.loads(previous)["version"])
    except (ValueError, KeyError, TypeError):
        return  # an unreadable old pointer names nothing to expire
    if old != version:
        await redis.expire(version_key(old), OLD_VERSION_GRACE_SECONDS)
