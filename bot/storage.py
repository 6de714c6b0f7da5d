"""botbuilder Storage over Redis: conversation and user state, shared by every bot process.

Semantics follow the SDK's blob and Cosmos storages (and its storage test suite):
- read(keys) returns {key: item} for the keys that exist, each item carrying its current
  "e_tag" (dict key, or attribute of a StoreItem object); unknown keys are simply absent.
- write(changes) with no e_tag, e_tag None or "*" overwrites; with any other e_tag it writes
  only if that is still the item's e_tag, else raises ETagConflict (a deleted item is stale
  too); e_tag "" is refused. Each key is checked and written atomically (one Lua script), so
  two processes can never both win; a batch is not a transaction (blob storage isn't either).
  The caller's objects are not modified: writing the same object twice conflicts, as in the SDK.
- delete(keys) ignores keys that do not exist.

Items are stored as JSON with type tags (bot/state_codec.py): dialog state holds the SDK's
Python objects (DialogState, DialogInstance, PromptOptions, the prompt's Activity) that plain
JSON cannot round-trip. The codec stores what the SDK's own storages store with jsonpickle, at a
fraction of its CPU per turn, and leaves anything it does not know to jsonpickle; a document
says which wrote it (`_CODEC_PREFIX`), so documents jsonpickle wrote are read as before.
jsonpickle decodes with safe=True (no eval); Redis is trusted infrastructure, like the SDK's
blob container.

A turn's reads of its conversation state are served by what the turn lock read in the round
trip that took the lock (`preloaded`, bot/app.py): the lock was ours when it was read, and only
turns holding that lock write conversation state, so it is what Redis would return until the
turn itself writes or deletes it, which drops it. (botbuilder reads an empty state again at
every property access, so a conversation's first turn read it twice from Redis.)
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jsonpickle  # type: ignore[import-untyped]  # botbuilder-core depends on it
from botbuilder.core import Storage
from redis.asyncio import Redis

from bot import state_codec

# JSON never starts with a letter, so this tells the codec's documents from jsonpickle's.
_CODEC_PREFIX = "c1:"

_WRITE = """
-- KEYS[1] the item; ARGV: expected e_tag ("" = unconditional), new e_tag, document, ttl ms
if ARGV[1] ~= "" and redis.call("HGET", KEYS[1], "e_tag") ~= ARGV[1] then
  return 0
end
redis.call("HSET", KEYS[1], "e_tag", ARGV[2], "doc", ARGV[3])
if tonumber(ARGV[4]) > 0 then
  redis.call("PEXPIRE", KEYS[1], ARGV[4])
else
  redis.call("PERSIST", KEYS[1])
end
return 1
"""


# What one item is in Redis: a hash of these two fields.
FIELDS = ("e_tag", "doc")


def conversation_state_key(channel_id: str, conversation_id: str) -> str:
    """The key botbuilder's ConversationState stores a conversation's state under."""
    return f"{channel_id}/conversations/{conversation_id}"


@dataclass
class _Preloaded:
    storage: RedisStorage
    key: str
    row: list[Any] | None  # None once written or deleted: then Redis is asked again


# The item a turn read when it took its conversation's lock (bot/app.py, bot/turn_lock.py).
_PRELOADED: ContextVar[_Preloaded | None] = ContextVar("dlbot_preloaded_item", default=None)


class ETagConflict(Exception):
    """The item changed (or vanished) since it was read: its e_tag is stale."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"e_tag conflict on storage key {key!r}: the item changed since it was read"
        )
        self.key = key


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _e_tag_of(item: Any) -> Any:
    if isinstance(item, Mapping):
        return item.get("e_tag")
    return getattr(item, "e_tag", None)


def _without_e_tag(item: Any) -> Any:
    # The e_tag lives beside the document, never inside it (it would be stale on the next read).
    if isinstance(item, Mapping):
        return {key: value for key, value in item.items() if key != "e_tag"}
    if hasattr(item, "__dict__") and "e_tag" in vars(item):
        stripped = copy.copy(item)
        del stripped.e_tag
        return stripped
    return item


def _with_e_tag(item: Any, e_tag: str) -> Any:
    if isinstance(item, dict):
        item["e_tag"] = e_tag
    elif hasattr(item, "__dict__"):
        item.e_tag = e_tag
    return item


def _encoded(item: Any) -> str:
    try:
        return _CODEC_PREFIX + state_codec.encode(item)
    except state_codec.Unsupported:
        return str(jsonpickle.encode(item, keys=True))


def _decoded(document: str) -> Any:
    if document.startswith(_CODEC_PREFIX):
        return state_codec.decode(document[len(_CODEC_PREFIX) :])
    return jsonpickle.decode(document, keys=True, safe=True)


class RedisStorage(Storage):  # type: ignore[misc]  # botbuilder ships no types
    def __init__(
        self, redis: Redis, *, namespace: str = "dlbot:state:", ttl_seconds: float | None = None
    ) -> None:
        """`ttl_seconds`: forget an item this long after its last write (None: keep it)."""
        super().__init__()
        self._redis = redis
        self._namespace = namespace
        self._ttl_ms = int(ttl_seconds * 1000) if ttl_seconds else 0
        self._write_script = redis.register_script(_WRITE)

    def _key(self, key: str) -> str:
        return self._namespace + key

    def fields_of(self, key: str) -> tuple[str, tuple[str, ...]]:
        """The Redis hash and fields that hold `key`: what TurnLock.hold may read for a turn."""
        return self._key(key), FIELDS

    @contextmanager
    def preloaded(self, key: str, row: list[Any] | None) -> Iterator[None]:
        """Within the block (a turn holding the conversation's lock), reads of `key` take
        `row`, its fields as read under the lock, instead of asking Redis again, until a write
        or delete of `key` drops it. `row` None preloads nothing."""
        if row is None:
            yield
            return
        token = _PRELOADED.set(_Preloaded(self, key, list(row)))
        try:
            yield
        finally:
            _PRELOADED.reset(token)

    def _preloaded_row(self, key: str) -> list[Any] | None:
        preloaded = _PRELOADED.get()
        if preloaded is None or preloaded.storage is not self or preloaded.key != key:
            return None
        return preloaded.row

    def _forget_preloaded(self, keys: Iterable[str]) -> None:
        preloaded = _PRELOADED.get()
        if preloaded is not None and preloaded.storage is self and preloaded.key in keys:
            preloaded.row = None

    async def read(self, keys: Iterable[str] | None) -> dict[str, Any]:
        if keys is None:
            raise ValueError("Keys are required when reading")
        wanted = list(keys)
        if not wanted:
            return {}
        rows: dict[str, list[Any]] = {}
        for key in wanted:
            row = self._preloaded_row(key)
            if row is not None:
                rows[key] = row
        asked = [key for key in wanted if key not in rows]
        if asked:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in asked:
                    pipe.hmget(self._key(key), list(FIELDS))
                rows.update(zip(asked, await pipe.execute(), strict=True))
        items: dict[str, Any] = {}
        for key in wanted:
            e_tag, doc = rows[key]
            if doc is None:
                continue
            items[key] = _with_e_tag(_decoded(_text(doc)), _text(e_tag))
        return items

    async def write(self, changes: Mapping[str, Any] | None) -> None:
        if changes is None:
            raise ValueError("Changes are required when writing")
        if not changes:
            return
        self._forget_preloaded(changes)
        for key, item in changes.items():
            expected = _e_tag_of(item)
            if expected == "":
                raise ValueError(f"storage write of {key!r}: e_tag is empty (use None or '*')")
            if expected in (None, "*"):
                expected = ""
            document = _encoded(_without_e_tag(item))
            written = await self._write_script(
                keys=[self._key(key)],
                args=[str(expected), uuid.uuid4().hex, document, self._ttl_ms],
            )
            if not written:
                raise ETagConflict(key)

    async def delete(self, keys: Iterable[str] | None) -> None:
        if keys is None:
            raise ValueError("Keys are required when deleting")
        wanted = list(keys)
        if not wanted:
            return
        self._forget_preloaded(wanted)
        # One DEL per key: keys of different hash slots cannot share a command on Redis Cluster.
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in wanted:
                pipe.delete(self._key(key))
            await pipe.execute()
