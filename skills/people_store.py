"""The people snapshot in Redis: who is who, so a turn does not ask Exchange who sent it.

Keys (one hash tag, so they share a Redis Cluster slot):

    {dlbot:people}:current      JSON {"version", "saved_at", "count", "format"}
    {dlbot:people}:v:<version>  HASH object id (lower case) -> JSON person record

A sync (refresh_people) writes a new version a page of Get-User at a time, with pipelined
HSETs (memory holds one page whatever the tenant's size), then switches the pointer with one
SET; the old version expires after a grace period. A read is one HGET against one or two
Exchange calls (skills.exchange_directory.person): the pointer is read again only when the copy
this process holds is older than POINTER_FRESH_SECONDS. That is safe because a version never
changes once published and stays readable for the grace period after it is replaced: a reader
one sync behind for a second or two reads a complete, correct snapshot, and someone it lacks is
asked of Exchange.

CachedPersonDirectory answers `person()` from the snapshot and falls back to Exchange for
someone the last sync did not see (a new hire since), or when Redis fails.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from approvals.models import Person
from skills.snapshot_versions import OLD_VERSION_GRACE_SECONDS, publish_version

log = logging.getLogger(__name__)

FORMAT: Final = 1
PREFIX: Final = "{dlbot:people}"
PEOPLE_PER_ROUND_TRIP: Final = 1000  # HSET fields per pipeline: about 250 kB
# How long a process reads people through the version it last saw before asking for the
# pointer again (far below OLD_VERSION_GRACE_SECONDS, so that version is still there).
POINTER_FRESH_SECONDS: Final = 2.0
# Accounts a person signs in to Teams with (the same as approvals counts as people).
PERSON_TYPES: Final = frozenset({"UserMailbox", "MailUser", "GuestMailUser", "User"})


class PeopleSnapshotError(Exception):
    """The stored people snapshot cannot be read (another format, or damaged)."""


@dataclass(frozen=True)
class PersonRecord:
    """One Get-User row as the snapshot keeps it."""

    object_id: str  # ExternalDirectoryObjectId: the aadObjectId Teams sends
    display_name: str
    address: str = ""  # primary SMTP address (WindowsEmailAddress); "" without mail
    upn: str = ""
    disabled: bool = False
    manager: str = ""  # the manager's name, as Get-User gives it
    recipient_type: str = ""  # RecipientTypeDetails: UserMailbox, MailUser, SharedMailbox ...

    @property
    def is_person(self) -> bool:
        """Someone who signs in to Teams (not a shared, room or equipment mailbox)."""
        return self.recipient_type in PERSON_TYPES

    def person(self) -> Person:
        return Person(
            object_id=self.object_id, display_name=self.display_name, address=self.address
        )


class PeopleSource(Protocol):
    def all_people(self) -> AsyncIterator[list[PersonRecord]]:
        """Every user, a page at a time (Get-User)."""
        ...


class PersonLookup(Protocol):
    async def person(self, object_id: str) -> Person | None: ...


class PersonSnapshotStore:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._current = f"{prefix}:current"
        self._clock = clock
        # The live version as last read, and when: (version, clock()).
        self._pointer: tuple[str, float] | None = None

    def _version_key(self, version: str) -> str:
        return f"{self._prefix}:v:{version}"

    async def save_pages(self, pages: AsyncIterator[list[PersonRecord]]) -> int:
        """Store every page as the new snapshot, atomically for readers; returns the count.

        If reading the pages fails, nothing is published and the half-written version expires
        by itself."""
        version = uuid.uuid4().hex
        key = self._version_key(version)
        await self._redis.delete(key)
        count = 0
        async for page in pages:
            for start in range(0, len(page), PEOPLE_PER_ROUND_TRIP):
                batch = page[start : start + PEOPLE_PER_ROUND_TRIP]
                mapping = {
                    p.object_id.casefold(): json.dumps(_to_json(p)) for p in batch if p.object_id
                }
                if not mapping:
                    continue
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hset(key, mapping=mapping)
                    pipe.expire(key, OLD_VERSION_GRACE_SECONDS)
                    await pipe.execute()
                count += len(mapping)
        await publish_version(
            self._redis,
            pointer_key=self._current,
            version_key=self._version_key,
            pointer={
                "version": version,
                "saved_at": datetime.now(UTC).isoformat(),
                "count": count,
                "format": FORMAT,
            },
        )
        self._pointer = (version, self._clock())  # this process reads its own sync at once
        return count

    async def get(self, object_id: str) -> PersonRecord | None:
        """The person of the live snapshot; None before any sync or when the sync missed them."""
        version = await self._live_version()
        if version is None:
            return None
        raw = await self._redis.hget(self._version_key(version), object_id.casefold())  # type: ignore[misc]
        return None if raw is None else _from_json(json.loads(raw))

    async def _live_version(self) -> str | None:
        now = self._clock()
        if self._pointer is not None and now - self._pointer[1] < POINTER_FRESH_SECONDS:
            return self._pointer[0]
        raw_pointer = await self._redis.get(self._current)
        if raw_pointer is None:
            self._pointer = None
            return None
        version = str(_parse_pointer(raw_pointer)["version"])
        self._pointer = (version, now)
        return version

    async def count(self) -> int | None:
        """How many people the live snapshot holds; None before any sync."""
        raw_pointer = await self._redis.get(self._current)
        return None if raw_pointer is None else int(_parse_pointer(raw_pointer)["count"])


async def refresh_people(
    source: PeopleSource,
    store: PersonSnapshotStore,
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Page every user out of the directory (Exchange's Get-User) into the people snapshot.

    `progress` is called with the size of each page as it is read. Returns the number stored.
    """

    async def pages() -> AsyncIterator[list[PersonRecord]]:
        async for page in source.all_people():
            if progress is not None:
                progress(len(page))
            yield page

    count = await store.save_pages(pages())
    log.info("people sync: %d people", count)
    return count


class CachedPersonDirectory:
    """`person()` of skills.ports.ListDirectory over the people snapshot, Exchange on a miss.

    A hit costs no Exchange call (the live read costs one, two for someone without a
    mailbox). A miss (not synced yet, or Redis failing) asks `live`, so a new hire is never
    turned away for being newer than the last sync.
    """

    def __init__(self, store: PersonSnapshotStore, live: PersonLookup) -> None:
        self._store = store
        self._live = live

    async def person(self, object_id: str) -> Person | None:
        try:
            record = await self._store.get(object_id)
        except (RedisError, PeopleSnapshotError) as exc:
            log.warning("people snapshot unreadable, asking Exchange: %s", exc)
            record = None
        if record is None:
            return await self._live.person(object_id)
        return record.person() if record.is_person else None


def _to_json(record: PersonRecord) -> dict[str, Any]:
    return {
        "object_id": record.object_id,
        "display_name": record.display_name,
        "address": record.address,
        "upn": record.upn,
        "disabled": record.disabled,
        "manager": record.manager,
        "recipient_type": record.recipient_type,
    }


def _from_json(data: Any) -> PersonRecord:
    try:
        return PersonRecord(
            object_id=str(data["object_id"]),
            display_name=str(data["display_name"]),
            address=str(data.get("address", "")),
            upn=str(data.get("upn", "")),
            disabled=bool(data.get("disabled", False)),
            manager=str(data.get("manager", "")),
            recipient_type=str(data.get("recipient_type", "")),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise PeopleSnapshotError(f"a stored person cannot be read: {exc!r}") from exc


def _parse_pointer(raw: bytes | str) -> dict[str, str]:
    try:
        pointer = json.loads(raw)
    except ValueError as exc:
        raise PeopleSnapshotError(f"damaged people snapshot pointer: {raw!r}") from exc
    if not isinstance(pointer, dict) or pointer.get("format") != FORMAT:
        raise PeopleSnapshotError(f"unknown people snapshot format: {raw!r}")
    return {
        "version": str(pointer["version"]),
        "count": str(pointer.get("count", 0)),
        "saved_at": str(pointer.get("saved_at", "")),
    }
