"""The directory snapshot in Redis, so every bot replica searches the same lists without
calling Exchange, and the sync that fills it.

Keys (one hash tag, so they share a Redis Cluster slot):

    {dlbot:directory}:current      JSON {"version", "changes_from", "saved_at", "format"}
    {dlbot:directory}:v:<version>  LIST of chunks, each a JSON array of list records: what a
                                   sync read from Exchange
    {dlbot:directory}:changes      STREAM of single-list changes made between syncs (a list
                                   the bot created); a snapshot is its version plus every
                                   change after `changes_from`

A save writes the new version in pipelined chunks (bounded memory whatever the size), then
switches the pointer with one SET: readers see the old snapshot or the new one, never half.
The old version expires after a grace period, so a replica still reading it finishes. A
replica follows changes by reading the stream from the last id it applied.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from redis.asyncio import Redis

from skills.find_dl import ListIndex
from skills.ports import DirectoryList, ListDirectory, ListKind, Restriction
from skills.snapshot_versions import OLD_VERSION_GRACE_SECONDS, publish_version

log = logging.getLogger(__name__)

FORMAT: Final = 1
PREFIX: Final = "{dlbot:directory}"
CHUNK_SIZE: Final = 500  # lists per LIST element: about 250 kB of JSON
CHUNKS_PER_ROUND_TRIP: Final = 20
CHANGES_PER_READ: Final = 1000
# Changes are kept this long after a newer sync covers them, for a save racing another.
CHANGES_KEPT_SECONDS: Final = 3600
NO_CHANGES: Final = "0-0"  # the stream id before any change


class SnapshotError(Exception):
    """The stored snapshot cannot be read (another format, or damaged)."""


@dataclass(frozen=True)
class SnapshotCursor:
    """Where a replica stands: which snapshot, and the id of the last change it applied."""

    version: str
    last_change: str


@dataclass(frozen=True)
class Snapshot:
    lists: list[DirectoryList]
    cursor: SnapshotCursor
    saved_at: datetime


@dataclass(frozen=True)
class Changes:
    upserted: list[DirectoryList]
    removed: list[str]  # object ids
    cursor: SnapshotCursor


class ListSnapshotStore:
    def __init__(self, redis: Redis, *, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._current = f"{prefix}:current"
        self._changes = f"{prefix}:changes"

    def _version_key(self, version: str) -> str:
        return f"{self._prefix}:v:{version}"

    # Writing ----------------------------------------------------------------------------------

    async def mark(self) -> str:
        """The id of the latest change: take it before reading the directory, and give it to
        save(), so a change made while the sync ran is kept on top of what it read."""
        last = await self._redis.xrevrange(self._changes, count=1)
        return _text(last[0][0]) if last else NO_CHANGES

    async def save(
        self, lists: Iterable[DirectoryList], *, since: str | None = None
    ) -> SnapshotCursor:
        """Store `lists` as the new snapshot, atomically: readers see the old one or this one.

        `since` is a mark() taken before `lists` were read; without it, changes made between
        reading the lists and this call are lost until the next sync.
        """
        changes_from = since if since is not None else await self.mark()
        version = uuid.uuid4().hex
        await self._write_chunks(self._version_key(version), lists)
        return await self._publish(version, changes_from)

    async def save_pages(
        self, pages: AsyncIterable[list[DirectoryList]], *, since: str | None = None
    ) -> tuple[SnapshotCursor, int]:
        """Like save(), but writes each page as it arrives: memory holds one page and one
        pipeline of chunks, whatever the directory's size. Returns the cursor and the count.

        If reading the pages fails, nothing is published and the half-written version expires
        by itself."""
        changes_from = since if since is not None else await self.mark()
        version = uuid.uuid4().hex
        key = self._version_key(version)
        count = 0
        await self._redis.delete(key)
        pending: list[DirectoryList] = []
        async for page in pages:
            pending.extend(page)
            count += len(page)
            if len(pending) >= CHUNK_SIZE * CHUNKS_PER_ROUND_TRIP:
                await self._append_chunks(key, pending)
                pending = []
        await self._append_chunks(key, pending)
        return await self._publish(version, changes_from), count

    async def _append_chunks(self, key: str, lists: list[DirectoryList]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for chunk in _chunked(lists, CHUNK_SIZE):
                pipe.rpush(key, json.dumps([_to_json(item) for item in chunk]))
            pipe.expire(key, OLD_VERSION_GRACE_SECONDS)
            await pipe.execute()

    async def _publish(self, version: str, changes_from: str) -> SnapshotCursor:
        await publish_version(
            self._redis,
            pointer_key=self._current,
            version_key=self._version_key,
            pointer={
                "version": version,
                "changes_from": changes_from,
                "saved_at": datetime.now(UTC).isoformat(),
                "format": FORMAT,
            },
        )
        await self._trim_changes(changes_from)
        last = await self._last_change_after(changes_from)
        return SnapshotCursor(version, last)

    async def _write_chunks(self, key: str, lists: Iterable[DirectoryList]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            # Until the pointer names it, the version expires by itself if this save dies.
            pipe.delete(key)
            queued = 1
            for chunk in _chunked(lists, CHUNK_SIZE):
                pipe.rpush(key, json.dumps([_to_json(item) for item in chunk]))
                pipe.expire(key, OLD_VERSION_GRACE_SECONDS)
                queued += 1
                if queued >= CHUNKS_PER_ROUND_TRIP:
                    await pipe.execute()
                    queued = 0
            await pipe.execute()

    async def _trim_changes(self, changes_from: str) -> None:
        # Keep what the live snapshot needs, and an hour more for a save racing this one.
        hour_ago = f"{int(time.time() * 1000) - CHANGES_KEPT_SECONDS * 1000}-0"
        keep_from = min(changes_from, hour_ago, key=_stream_order)
        await self._redis.xtrim(self._changes, minid=keep_from, approximate=False)

    async def upsert(self, item: DirectoryList) -> None:
        """Add or replace one list in the live snapshot (a list the bot just created)."""
        await self._redis.xadd(self._changes, {"upsert": json.dumps(_to_json(item))})

    async def remove(self, object_id: str) -> None:
        await self._redis.xadd(self._changes, {"remove": object_id})

    # Reading ----------------------------------------------------------------------------------

    async def load(self) -> list[DirectoryList]:
        """Every list of the live snapshot ([] before the first sync)."""
        snapshot = await self.load_snapshot()
        return snapshot.lists if snapshot else []

    async def load_snapshot(self) -> Snapshot | None:
        pointer = await self._pointer()
        if pointer is None:
            return None
        lists: dict[str, DirectoryList] = {}
        async for chunk in self._chunks(pointer["version"]):
            for item in chunk:
                lists[item.object_id] = item
        last = pointer["changes_from"]
        async for change_id, upserted, removed in self._changes_after(last):
            last = change_id
            if upserted is not None:
                lists[upserted.object_id] = upserted
            if removed is not None:
                lists.pop(removed, None)
        saved_at = datetime.fromisoformat(pointer["saved_at"])
        return Snapshot(list(lists.values()), SnapshotCursor(pointer["version"], last), saved_at)

    async def changes_since(self, cursor: SnapshotCursor) -> Changes | None:
        """What changed since the replica's cursor; None when a newer sync replaced its
        snapshot (the replica must then load the new one whole)."""
        pointer = await self._pointer()
        if pointer is None or pointer["version"] != cursor.version:
            return None
        upserts: dict[str, DirectoryList] = {}
        removed: list[str] = []
        last = cursor.last_change
        async for change_id, upserted, gone in self._changes_after(last):
            last = change_id
            if upserted is not None:
                upserts[upserted.object_id] = upserted
            if gone is not None:
                upserts.pop(gone, None)
                removed.append(gone)
        return Changes(list(upserts.values()), removed, SnapshotCursor(cursor.version, last))

    async def _chunks(self, version: str) -> AsyncIterator[list[DirectoryList]]:
        key = self._version_key(version)
        start = 0
        while True:
            stop = start + CHUNKS_PER_ROUND_TRIP - 1
            raw_chunks = await self._redis.lrange(key, start, stop)  # type: ignore[misc]
            for raw in raw_chunks:
                records = json.loads(raw)
                if not isinstance(records, list):
                    raise SnapshotError(f"a chunk of {key} is not a JSON array")
                yield [_from_json(record) for record in records]
            if len(raw_chunks) < CHUNKS_PER_ROUND_TRIP:
                return
            start = stop + 1

    async def _changes_after(
        self, after: str
    ) -> AsyncIterator[tuple[str, DirectoryList | None, str | None]]:
        while True:
            rows = await self._redis.xrange(self._changes, min=f"({after}", count=CHANGES_PER_READ)
            for raw_id, fields in rows:
                after = _text(raw_id)
                values = {_text(k): _text(v) for k, v in fields.items()}
                if "upsert" in values:
                    yield after, _from_json(json.loads(values["upsert"])), None
                elif "remove" in values:
                    yield after, None, values["remove"]
            if len(rows) < CHANGES_PER_READ:
                return

    async def _last_change_after(self, changes_from: str) -> str:
        last = changes_from
        async for change_id, _, _ in self._changes_after(changes_from):
            last = change_id
        return last

    async def _pointer(self) -> dict[str, str] | None:
        raw = await self._redis.get(self._current)
        return None if raw is None else _parse_pointer(raw)


# Filling the index -----------------------------------------------------------------------------


async def refresh_index(
    directory: ListDirectory, store: ListSnapshotStore, index: ListIndex
) -> int:
    """Page every list out of the directory (Exchange) into the snapshot and the local index.

    The other replicas pick the new snapshot up with follow_index. Returns the number of lists.
    """
    mark = await store.mark()
    lists: list[DirectoryList] = []
    async for page in directory.all_lists():
        lists.extend(page)
    cursor = await store.save(lists, since=mark)
    await index.rebuild(lists)
    # Lists another replica created while Exchange was being read are in the snapshot as
    # changes after the mark; the local index needs them too.
    await follow_index(store, index, SnapshotCursor(cursor.version, mark))
    log.info("directory sync: %d lists", len(lists))
    return len(lists)


async def sync_lists(
    directory: ListDirectory,
    store: ListSnapshotStore,
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Page every list out of the directory into the snapshot only, one page in memory at a
    time: for `dlbot sync` and the workers' periodic sync, which search nothing themselves.
    Every replica (this one too) loads the new snapshot through follow_index within seconds.

    `progress` is called with the size of each page as it is read. Returns the number of lists.
    """

    async def pages() -> AsyncIterator[list[DirectoryList]]:
        async for page in directory.all_lists():
            if progress is not None:
                progress(len(page))
            yield page

    _, count = await store.save_pages(pages(), since=await store.mark())
    log.info("directory sync: %d lists", count)
    return count


async def restore_index(store: ListSnapshotStore, index: ListIndex) -> SnapshotCursor | None:
    """Load the stored snapshot into the index (a replica starting); None before any sync."""
    snapshot = await store.load_snapshot()
    if snapshot is None:
        return None
    await index.rebuild(snapshot.lists)
    return snapshot.cursor


async def follow_index(
    store: ListSnapshotStore, index: ListIndex, cursor: SnapshotCursor | None
) -> SnapshotCursor | None:
    """Bring the index up to date with the store, cheaply when little changed: a replica
    calls this every few seconds with the cursor it got last time."""
    changes = await store.changes_since(cursor) if cursor is not None else None
    if changes is None:
        return await restore_index(store, index)
    for object_id in changes.removed:
        index.remove(object_id)
    for item in changes.upserted:
        index.upsert(item)
    return changes.cursor


# The stored form of a list ---------------------------------------------------------------------


def _to_json(item: DirectoryList) -> dict[str, Any]:
    return {
        "object_id": item.object_id,
        "name": item.name,
        "display_name": item.display_name,
        "alias": item.alias,
        "address": item.address,
        "kind": item.kind.value,
        "join_restriction": item.join_restriction.value,
        "depart_restriction": item.depart_restriction.value,
        "owners": list(item.owners),
        "other_addresses": list(item.other_addresses),
        "description": item.description,
        "hidden": item.hidden,
        "dir_synced": item.dir_synced,
        "distinguished_name": item.distinguished_name,
    }


def _from_json(data: dict[str, Any]) -> DirectoryList:
    try:
        return DirectoryList(
            object_id=str(data["object_id"]),
            name=str(data["name"]),
            display_name=str(data["display_name"]),
            alias=str(data["alias"]),
            address=str(data["address"]),
            kind=ListKind(data["kind"]),
            join_restriction=Restriction(data["join_restriction"]),
            depart_restriction=Restriction(data["depart_restriction"]),
            owners=tuple(str(o) for o in data.get("owners", ())),
            other_addresses=tuple(str(a) for a in data.get("other_addresses", ())),
            description=str(data.get("description", "")),
            hidden=bool(data.get("hidden", False)),
            dir_synced=bool(data.get("dir_synced", False)),
            distinguished_name=str(data.get("distinguished_name", "")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise SnapshotError(f"a stored list cannot be read: {exc!r}") from exc


def _parse_pointer(raw: bytes | str) -> dict[str, str]:
    pointer = json.loads(raw)
    if not isinstance(pointer, dict) or pointer.get("format") != FORMAT:
        raise SnapshotError(f"unknown directory snapshot format: {raw!r}")
    return {
        "version": str(pointer["version"]),
        "changes_from": str(pointer.get("changes_from", NO_CHANGES)),
        "saved_at": str(pointer["saved_at"]),
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _chunked(items: Iterable[DirectoryList], size: int) -> Iterable[list[DirectoryList]]:
    chunk: list[DirectoryList] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
