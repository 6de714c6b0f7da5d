"""The RequestStore on Redis: one hash per request, changed only by compare-and-set scripts.

Works on a single Redis and on Redis Cluster: every script touches keys of one hash tag only
(see approvals.keys). A request and its requester's index keys are in different slots, so
`create` writes in an order that leaves nothing wrong behind a crash:

1. the request hash is written under its fresh random id (nothing points at it yet);
2. the id goes into the index of open requests (before the claim: a request that won its claim
   but is missing from the index could never be found again if its job were lost), and into
   the index of all requests (for the same reason: an admin must be able to list it);
3. one script on the requester's slot claims the open-request key (SET unless another live id
   holds it) and lists the id in the requester's sorted set, atomically;
4. a loser deletes its unclaimed hash and its index entries and returns the request holding
   the claim.

A claim left pointing at a missing or final request (a crash between a request's final
compare-and-set and the release of its claim) is taken over by the next create: the repair is a
compare-and-set on the claim itself, so two repairers cannot both win.

The index of open requests is updated after each compare-and-set, in its own slot; a crash in
between leaves an entry behind or out of date, which open_requests notices (it reads every
request it lists) and repairs: an entry for a request gone, final, or never claimed (step 4 or
step 3 did not happen) is dropped, and one behind its request is moved up to it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

import redis.asyncio as redis

from approvals import keys
from approvals.errors import ConcurrentUpdate, RequestNotFound
from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from approvals.redis_calls import COMPARE_AND_SET_DOCUMENT, resolved, text

# KEYS: open claim, requester's sorted set, its sequence. ARGV: new id, stale id or "".
# Returns the id holding the claim afterwards (the new id when it won).
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then
  return current
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
return ARGV[1]
"""

# KEYS: open claim. ARGV: id. Deletes the claim only if this request still holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: open index (sorted set), indexed versions (hash). ARGV: id, version, updated_at as epoch
# seconds. Lists the request at this version unless the index already has this version or a
# later one (updates of one request may arrive out of order). Returns 1 when it did.
_INDEX_PUT = """
local known = redis.call('HGET', KEYS[2], ARGV[1])
if known and tonumber(known) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""

# KEYS: as _INDEX_PUT. ARGV: id. The request is final (or was never really created).
_INDEX_DROP = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
"""

# KEYS: as _INDEX_PUT. ARGV: id, version. Unlists the request until a later version is indexed,
# unless one already is; a request not in the index (final) stays out of it.
_SET_ASIDE = """
local known = redis.call('HGET', KEYS[2], ARGV[1])
if not known or tonumber(known) > tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return redis.call('ZREM', KEYS[1], ARGV[1])
"""

_INDEX_KEYS = [keys.OPEN_REQUESTS, keys.OPEN_VERSIONS]

# How many index entries open_requests reads per round trip.
_INDEX_PAGE = 100

# A claim can only be found stale again if requests keep going final in between; a few rounds
# are plenty, and running out means something is badly wrong rather than busy.
_CLAIM_ROUNDS = 5


class RedisRequestStore:
    """RequestStore on a redis.asyncio.Redis (decode_responses either way); the caller owns
    and closes the client."""

    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client
        self._claim = redis_client.register_script(_CLAIM)
        self._release = redis_client.register_script(_RELEASE)
        self._compare_and_set = redis_client.register_script(COMPARE_AND_SET_DOCUMENT)
        self._index_put_script = redis_client.register_script(_INDEX_PUT)
        self._index_drop_script = redis_client.register_script(_INDEX_DROP)
        self._set_aside_script = redis_client.register_script(_SET_ASIDE)

    async def create(self, request: ApprovalRequest) -> tuple[ApprovalRequest, bool]:
        if not request.is_open:
            raise ValueError(f"only an open request can be created, not a {request.status} one")
        requester = request.requester.object_id
        claim_keys = [
            keys.open_request(requester, request.list_key, request.kind),
            keys.requests_of(requester),
            keys.requests_sequence(requester),
        ]
        request_key = keys.request(request.id)
        await resolved(
            self._redis.hset(
                request_key,
                mapping={"version": str(request.version), "json": request.model_dump_json()},
            )
        )
        await self._index_put(request)
        await self._redis.zadd(keys.ALL_REQUESTS, {request.id: _score(request)})
        stale = ""
        for _ in range(_CLAIM_ROUNDS):
            holder = text(await self._claim(keys=claim_keys, args=[request.id, stale]))
            if holder == request.id:
                return request, True
            existing = await self.get(holder)
            if existing is not None and existing.is_open:
                await self._unstore(request.id)
                return existing, False
            stale = holder
        await self._unstore(request.id)
        raise ConcurrentUpdate(request.id, request.version)

    async def _unstore(self, request_id: str) -> None:
        """Undo steps 1 and 2 for a request that did not win its claim."""
        await self._redis.delete(keys.request(request_id))
        await self._index_drop(request_id)
        await self._redis.zrem(keys.ALL_REQUESTS, request_id)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        if not keys.is_request_id(request_id):
            return None
        raw = await resolved(self._redis.hget(keys.request(request_id), "json"))
        return None if raw is None else ApprovalRequest.model_validate_json(raw)

    async def replace(self, new: ApprovalRequest, expected_version: int) -> ApprovalRequest:
        if not keys.is_request_id(new.id):
            raise RequestNotFound(new.id)
        result = await self._compare_and_set(
            keys=[keys.request(new.id)],
            args=[str(expected_version), str(new.version), new.model_dump_json()],
        )
        if result == -1:
            raise RequestNotFound(new.id)
        if result == 0:
            raise ConcurrentUpdate(new.id, expected_version)
        if new.is_open:
            await self._index_put(new)
        else:
            await self._index_drop(new.id)
            await self._release(keys=[_claim_key(new)], args=[new.id])
        return new

    async def open_request(
        self, requester_id: str, list_id: str, kind: RequestKind
    ) -> ApprovalRequest | None:
        holder = await self._redis.get(keys.open_request(requester_id, list_id, kind))
        if holder is None:
            return None
        found = await self.get(text(holder))
        return found if found is not None and found.is_open else None

    async def requests_of(self, requester_id: str, limit: int = 20) -> list[ApprovalRequest]:
        if limit <= 0:
            return []
        ids = await self._redis.zrevrange(keys.requests_of(requester_id), 0, limit - 1)
        if not ids:
            return []
        # Not a transaction: the hashes live in different slots, which a cluster client
        # splits across nodes; each read stands alone anyway.
        async with self._redis.pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hget(keys.request(text(request_id)), "json")
            documents = await pipe.execute()
        return [
            ApprovalRequest.model_validate_json(document)
            for document in documents
            if document is not None
        ]

    async def open_requests(self, updated_before: datetime, limit: int) -> list[ApprovalRequest]:
        cutoff = updated_before.timestamp()
        found: list[ApprovalRequest] = []
        offset = 0  # entries before this one stay in the range and were dealt with
        while len(found) < limit:
            page = [
                text(entry)
                for entry in await self._redis.zrangebyscore(
                    keys.OPEN_REQUESTS, "-inf", f"({cutoff!r}", start=offset, num=_INDEX_PAGE
                )
            ]
            if not page:
                break
            for request_id, request in zip(page, await self._listed(page), strict=True):
                if request is None:
                    # Gone, final, or never claimed: the index outlived a crash.
                    await self._index_drop(request_id)
                elif request.updated_at >= updated_before:
                    # The index is behind its request (a crash after its compare-and-set).
                    if not await self._index_put(request):
                        offset += 1
                else:
                    found.append(request)
                    offset += 1
                if len(found) == limit:
                    break
            if len(page) < _INDEX_PAGE:
                break
        return found

    async def recent(
        self, limit: int, statuses: Collection[RequestStatus] | None = None
    ) -> list[ApprovalRequest]:
        found: list[ApprovalRequest] = []
        seen: set[str] = set()
        offset = 0
        while len(found) < limit:
            # Offsets, not scores: a request created meanwhile pushes the entries down, which
            # only means reading one twice (skipped as seen), never missing one.
            page = [
                text(entry)
                for entry in await self._redis.zrevrange(
                    keys.ALL_REQUESTS, offset, offset + _INDEX_PAGE - 1
                )
            ]
            if not page:
                break
            offset += len(page)
            for request_id, request in zip(page, await self._documents(page), strict=True):
                if request_id in seen:
                    continue
                seen.add(request_id)
                if request is None:
                    continue  # a create that lost its claim (or died) left the entry behind
                if statuses is None or request.status in statuses:
                    found.append(request)
                if len(found) == limit:
                    break
            if len(page) < _INDEX_PAGE:
                break
        return found

    async def _documents(self, ids: list[str]) -> list[ApprovalRequest | None]:
        """The request behind each entry of the index of all requests, or None where there is
        no such request or it is an open one that does not hold its requester's claim (a create
        in flight, or one that died before its claim: never a request anyone was told of)."""
        readable = [i for i in ids if keys.is_request_id(i)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for request_id in readable:
                pipe.hget(keys.request(request_id), "json")
            documents = await pipe.execute()
        stored = {
            request.id: request
            for request in map(ApprovalRequest.model_validate_json, filter(None, documents))
        }
        unclaimed = [r for r in stored.values() if r.is_open]
        async with self._redis.pipeline(transaction=False) as pipe:
            for request in unclaimed:
                pipe.get(_claim_key(request))
            holders = await pipe.execute()
        for request, holder in zip(unclaimed, holders, strict=True):
            if holder is None or text(holder) != request.id:
                del stored[request.id]
        return [stored.get(request_id) for request_id in ids]

    async def set_aside(self, request_id: str, version: int) -> None:
        await self._set_aside_script(keys=_INDEX_KEYS, args=[request_id, str(version)])

    async def _listed(self, ids: list[str]) -> list[ApprovalRequest | None]:
        """The request behind each index entry, or None where there is no live open request:
        none by that id, a final one, or one not holding its requester's claim."""
        readable = [i for i in ids if keys.is_request_id(i)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for request_id in readable:
                pipe.hget(keys.request(request_id), "json")
            documents = await pipe.execute()
        candidates = [
            request
            for request in map(ApprovalRequest.model_validate_json, filter(None, documents))
            if request.is_open
        ]
        async with self._redis.pipeline(transaction=False) as pipe:
            for request in candidates:
                pipe.get(_claim_key(request))
            holders = await pipe.execute()
        live = {
            request.id: request
            for request, holder in zip(candidates, holders, strict=True)
            if holder is not None and text(holder) == request.id
        }
        return [live.get(request_id) for request_id in ids]

    async def _index_put(self, request: ApprovalRequest) -> bool:
        listed = await self._index_put_script(
            keys=_INDEX_KEYS,
            args=[request.id, str(request.version), repr(request.updated_at.timestamp())],
        )
        return bool(listed)

    async def _index_drop(self, request_id: str) -> None:
        await self._index_drop_script(keys=_INDEX_KEYS, args=[request_id])


def _score(request: ApprovalRequest) -> float:
    return request.created_at.timestamp()


def _claim_key(request: ApprovalRequest) -> str:
    return keys.open_request(request.requester.object_id, request.list_key, request.kind)


if TYPE_CHECKING:  # mypy proves the Redis store satisfies the port
    from approvals.store import RequestStore

    def _conforms(redis_client: redis.Redis) -> RequestStore:
        return RedisRequestStore(redis_client)
