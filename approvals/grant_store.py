"""Where membership grants live: in memory (tests) and in Redis, behind one port.

On Redis each grant is a hash {version, json} under its own hash tag (its id), changed only by a
compare-and-set script, like a request. The member's pointers (their latest grant per list, and
all their grants) share the member's tag, and the index by end time of the grants whose end job
must still run (active or ending: Grant.awaits_end) has a slot of its own; both are written after
the grant itself, so a crash in between leaves a pointer missing or an index entry stale, never
a wrong grant: readers check the grant itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as redis

from approvals import keys
from approvals.grants import Grant, GrantConflict
from approvals.redis_calls import (
    COMPARE_AND_SET_DOCUMENT,
    CREATE_DOCUMENT,
    resolved,
    text,
)


class GrantStore(Protocol):
    async def create(self, grant: Grant) -> bool:
        """Store a new grant; False when one with its id exists already (kept as it is)."""
        ...

    async def get(self, grant_id: str) -> Grant | None: ...

    async def replace(self, new: Grant, expected_version: int) -> Grant:
        """Store `new` if the stored grant is still at `expected_version` (GrantConflict)."""
        ...

    async def current(self, member_id: str, list_id: str) -> Grant | None:
        """The member's latest grant on the list, whatever its status."""
        ...

    async def of_member(self, member_id: str, limit: int = 20) -> list[Grant]:
        """The member's grants, newest first."""
        ...

    async def due(self, before: datetime, limit: int = 100, offset: int = 0) -> list[Grant]:
        """Grants awaiting their end job whose end is before `before` (the sweeper's), earliest
        end first, from the `offset`-th on: the sweeper reads them a page at a time."""
        ...


class InMemoryGrantStore:
    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}
        self._current: dict[tuple[str, str], str] = {}

    async def create(self, grant: Grant) -> bool:
        if grant.id in self._grants:
            return False
        self._grants[grant.id] = grant
        self._current[(grant.member.object_id, grant.group.object_id)] = grant.id
        return True

    async def get(self, grant_id: str) -> Grant | None:
        return self._grants.get(grant_id)

    async def replace(self, new: Grant, expected_version: int) -> Grant:
        stored = self._grants.get(new.id)
        if stored is None or stored.version != expected_version:
            raise GrantConflict(new.id)
        self._grants[new.id] = new
        return new

    async def current(self, member_id: str, list_id: str) -> Grant | None:
        grant_id = self._current.get((member_id, list_id))
        return None if grant_id is None else self._grants.get(grant_id)

    async def of_member(self, member_id: str, limit: int = 20) -> list[Grant]:
        mine = [g for g in self._grants.values() if g.member.object_id == member_id]
        return sorted(mine, key=lambda g: g.started_at, reverse=True)[:limit]

    async def due(self, before: datetime, limit: int = 100, offset: int = 0) -> list[Grant]:
        found = [g for g in self._grants.values() if g.awaits_end and g.ends_at < before]
        return sorted(found, key=lambda g: (g.ends_at, g.id))[offset : offset + limit]


class RedisGrantStore:
    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client
        self._create = redis_client.register_script(CREATE_DOCUMENT)
        self._compare_and_set = redis_client.register_script(COMPARE_AND_SET_DOCUMENT)

    async def create(self, grant: Grant) -> bool:
        if grant.version != 0:
            raise ValueError("a new grant starts at version 0")
        stored = await self._create(keys=[keys.grant(grant.id)], args=[grant.model_dump_json()])
        if stored != 1:
            return False
        member = grant.member.object_id
        await self._redis.set(keys.grant_of(member, grant.group.object_id), grant.id)
        await self._redis.zadd(keys.grants_of(member), {grant.id: grant.started_at.timestamp()})
        await self._index(grant)
        return True

    async def get(self, grant_id: str) -> Grant | None:
        if not keys.is_request_id(grant_id):
            return None
        raw = await resolved(self._redis.hget(keys.grant(grant_id), "json"))
        return None if raw is None else Grant.model_validate_json(raw)

    async def replace(self, new: Grant, expected_version: int) -> Grant:
        if not keys.is_request_id(new.id):
            raise GrantConflict(new.id)
        result = await self._compare_and_set(
            keys=[keys.grant(new.id)],
            args=[str(expected_version), str(new.version), new.model_dump_json()],
        )
        if result != 1:
            raise GrantConflict(new.id)
        await self._index(new)
        return new

    async def _index(self, grant: Grant) -> None:
        if grant.awaits_end:
            await self._redis.zadd(keys.ACTIVE_GRANTS, {grant.id: grant.ends_at.timestamp()})
        else:
            await self._redis.zrem(keys.ACTIVE_GRANTS, grant.id)

    async def current(self, member_id: str, list_id: str) -> Grant | None:
        holder = await self._redis.get(keys.grant_of(member_id, list_id))
        return None if holder is None else await self.get(text(holder))

    async def of_member(self, member_id: str, limit: int = 20) -> list[Grant]:
        if limit <= 0:
            return []
        ids = await self._redis.zrevrange(keys.grants_of(member_id), 0, limit - 1)
        found = [await self.get(text(grant_id)) for grant_id in ids]
        return [grant for grant in found if grant is not None]

    async def due(self, before: datetime, limit: int = 100, offset: int = 0) -> list[Grant]:
        if limit <= 0:
            return []
        ids = await self._redis.zrangebyscore(
            keys.ACTIVE_GRANTS, "-inf", f"({before.timestamp()!r}", start=offset, num=limit
        )
        found: list[Grant] = []
        for raw in ids:
            grant = await self.get(text(raw))
            if grant is None or not grant.awaits_end:
                await self._redis.zrem(keys.ACTIVE_GRANTS, text(raw))  # stale after a crash
            elif grant.ends_at < before:
                found.append(grant)
        return found


if TYPE_CHECKING:

    def _conforms(client: redis.Redis) -> tuple[GrantStore, GrantStore]:
        return RedisGrantStore(client), InMemoryGrantStore()
