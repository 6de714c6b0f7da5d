"""Where owner access reviews live, with the two things they are made from: the members the bot
added to each list, and when each list is next due for review. In memory (tests) and in Redis,
behind one port.

On Redis a review is a hash {version, json} under its own hash tag, changed only by a
compare-and-set script, like a request. A list's keys (its latest review, the members the bot
added) share the list's tag. The schedule (list id -> next review time) and the lists it names
share one slot, so claiming a due list is one script: of any number of workers running the
daily cron, exactly one gets to start that list's review. Pointers are written after the review
itself, so a crash in between leaves a pointer stale, never a wrong review. The index of
unfinished reviews (the sweeper's) is kept the same way: readers check each review and drop the
entries of finished ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as redis

from approvals import keys
from approvals.models import ListRef, Person
from approvals.redis_calls import (
    COMPARE_AND_SET_DOCUMENT,
    CREATE_DOCUMENT,
    resolved,
    text,
)
from approvals.reviews import Review, ReviewConflict


class ReviewStore(Protocol):
    async def create(self, review: Review) -> bool:
        """Store a new review and make it its list's latest; False when its id exists."""
        ...

    async def get(self, review_id: str) -> Review | None: ...

    async def replace(self, new: Review, expected_version: int) -> Review:
        """Store `new` if the stored review is still at `expected_version` (ReviewConflict)."""
        ...

    async def latest(self, list_id: str) -> Review | None: ...

    async def unfinished(self, limit: int = 100) -> list[Review]:
        """Reviews still open, or complete with removals not yet asked for, oldest first (the
        sweeper's: their next job may have been lost)."""
        ...

    async def member_added(self, group: ListRef, member: Person) -> None:
        """The bot made `member` a member of `group`."""
        ...

    async def member_left(self, list_id: str, member_id: str) -> None: ...

    async def added(self, list_id: str) -> list[Person]:
        """The members the bot added to the list (and who have not left through it since)."""
        ...

    async def schedule(self, group: ListRef, at: datetime) -> None:
        """Review `group` at `at`, unless it is scheduled already (its time is kept)."""
        ...

    async def due(self, before: datetime, limit: int = 100) -> list[ListRef]:
        """Lists whose review time is before `before`, earliest first."""
        ...

    async def claim(self, list_id: str, *, now: datetime, next_at: datetime) -> bool:
        """Move a due list's review time to `next_at`; True for exactly one caller while it
        is due (the one that starts the review)."""
        ...


class InMemoryReviewStore:
    def __init__(self) -> None:
        self._reviews: dict[str, Review] = {}
        self._latest: dict[str, str] = {}
        self._added: dict[str, dict[str, Person]] = {}
        self._due: dict[str, tuple[datetime, ListRef]] = {}

    async def create(self, review: Review) -> bool:
        if review.id in self._reviews:
            return False
        self._reviews[review.id] = review
        self._latest[review.group.object_id] = review.id
        return True

    async def get(self, review_id: str) -> Review | None:
        return self._reviews.get(review_id)

    async def replace(self, new: Review, expected_version: int) -> Review:
        stored = self._reviews.get(new.id)
        if stored is None or stored.version != expected_version:
            raise ReviewConflict(new.id)
        self._reviews[new.id] = new
        return new

    async def latest(self, list_id: str) -> Review | None:
        review_id = self._latest.get(list_id)
        return None if review_id is None else self._reviews.get(review_id)

    async def unfinished(self, limit: int = 100) -> list[Review]:
        found = [r for r in self._reviews.values() if _unfinished(r)]
        return sorted(found, key=lambda r: r.started_at)[:limit]

    async def member_added(self, group: ListRef, member: Person) -> None:
        self._added.setdefault(group.object_id, {})[member.object_id] = member

    async def member_left(self, list_id: str, member_id: str) -> None:
        self._added.get(list_id, {}).pop(member_id, None)

    async def added(self, list_id: str) -> list[Person]:
        return sorted(self._added.get(list_id, {}).values(), key=_by_name)

    async def schedule(self, group: ListRef, at: datetime) -> None:
        self._due.setdefault(group.object_id, (at, group))

    async def due(self, before: datetime, limit: int = 100) -> list[ListRef]:
        found = sorted((at, group.object_id, group) for at, group in self._due.values())
        return [group for at, _, group in found if at < before][:limit]

    async def claim(self, list_id: str, *, now: datetime, next_at: datetime) -> bool:
        scheduled = self._due.get(list_id)
        if scheduled is None or scheduled[0] > now:
            return False
        self._due[list_id] = (next_at, scheduled[1])
        return True


def _by_name(person: Person) -> tuple[str, str]:
    return (person.display_name.casefold(), person.object_id)


def _unfinished(review: Review) -> bool:
    # What the sweeper must still look at (a close not yet announced included).
    return review.unfinished


# KEYS: the schedule. ARGV: list id, now, next time (epoch seconds). Moves a due list on (1).
_CLAIM = """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) > tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


class RedisReviewStore:
    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client
        self._create = redis_client.register_script(CREATE_DOCUMENT)
        self._compare_and_set = redis_client.register_script(COMPARE_AND_SET_DOCUMENT)
        self._claim = redis_client.register_script(_CLAIM)

    async def create(self, review: Review) -> bool:
        if review.version != 0:
            raise ValueError("a new review starts at version 0")
        stored = await self._create(keys=[keys.review(review.id)], args=[review.model_dump_json()])
        if stored != 1:
            return False
        await self._redis.set(keys.list_review(review.group.object_id), review.id)
        await self._redis.zadd(keys.ACTIVE_REVIEWS, {review.id: review.started_at.timestamp()})
        return True

    async def get(self, review_id: str) -> Review | None:
        if not keys.is_request_id(review_id):
            return None
        raw = await resolved(self._redis.hget(keys.review(review_id), "json"))
        return None if raw is None else Review.model_validate_json(raw)

    async def replace(self, new: Review, expected_version: int) -> Review:
        if not keys.is_request_id(new.id):
            raise ReviewConflict(new.id)
        result = await self._compare_and_set(
            keys=[keys.review(new.id)],
            args=[str(expected_version), str(new.version), new.model_dump_json()],
        )
        if result != 1:
            raise ReviewConflict(new.id)
        if not _unfinished(new):
            await self._redis.zrem(keys.ACTIVE_REVIEWS, new.id)
        return new

    async def latest(self, list_id: str) -> Review | None:
        holder = await self._redis.get(keys.list_review(list_id))
        return None if holder is None else await self.get(text(holder))

    async def unfinished(self, limit: int = 100) -> list[Review]:
        if limit <= 0:
            return []
        ids = await self._redis.zrange(keys.ACTIVE_REVIEWS, 0, limit - 1)
        found: list[Review] = []
        for raw in ids:
            review = await self.get(text(raw))
            if review is None or not _unfinished(review):
                await self._redis.zrem(keys.ACTIVE_REVIEWS, text(raw))  # stale after a crash
            else:
                found.append(review)
        return found

    async def member_added(self, group: ListRef, member: Person) -> None:
        await resolved(
            self._redis.hset(
                keys.added_members(group.object_id), member.object_id, member.model_dump_json()
            )
        )

    async def member_left(self, list_id: str, member_id: str) -> None:
        await resolved(self._redis.hdel(keys.added_members(list_id), member_id))

    async def added(self, list_id: str) -> list[Person]:
        found: list[Person] = []
        # HSCAN rather than HGETALL: a list of tens of thousands must not block Redis.
        async for _, raw in self._redis.hscan_iter(keys.added_members(list_id), count=500):
            found.append(Person.model_validate_json(raw))
        return sorted(found, key=_by_name)

    async def schedule(self, group: ListRef, at: datetime) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.REVIEW_LISTS, group.object_id, group.model_dump_json())
            pipe.zadd(keys.REVIEWS_DUE, {group.object_id: at.timestamp()}, nx=True)
            await pipe.execute()

    async def due(self, before: datetime, limit: int = 100) -> list[ListRef]:
        ids = await self._redis.zrangebyscore(
            keys.REVIEWS_DUE, "-inf", f"({before.timestamp()!r}", start=0, num=limit
        )
        if not ids:
            return []
        raws = await resolved(self._redis.hmget(keys.REVIEW_LISTS, [text(i) for i in ids]))
        return [ListRef.model_validate_json(raw) for raw in raws if raw is not None]

    async def claim(self, list_id: str, *, now: datetime, next_at: datetime) -> bool:
        claimed = await self._claim(
            keys=[keys.REVIEWS_DUE], args=[list_id, repr(now.timestamp()), next_at.timestamp()]
        )
        return int(claimed) == 1


if TYPE_CHECKING:

    def _conforms(client: redis.Redis) -> tuple[ReviewStore, ReviewStore]:
        return RedisReviewStore(client), InMemoryReviewStore()
