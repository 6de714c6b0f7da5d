"""The RequestStore on Redis: one hash per request, changed only by compare-and-set scripts.

Works on a single Redis and on Redis Cluster: every script touches keys of one hash tag only
(see approvals.keys). A request and its requester's index keys are in different slots, so
`create` writes in an order that leaves nothing wrong behind a crash:

1. the request hash is written under its fresh random id (nothing points at it yet);
2. one script on the requester's slot claims the open-request key (SET unless another live id
   holds it) and lists the id in the requester's sorted set, atomically;
3. a loser deletes its unclaimed hash and returns the request holding the claim.

A claim left pointing at a missing or final request (a crash between a request's final
compare-and-set and the release of its claim) is taken over by the next create: the repair is a
compare-and-set on the claim itself, so two repairers cannot both win.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis.asyncio as redis

from approvals import keys
from approvals.errors import ConcurrentUpdate, RequestNotFound
from approvals.models import ApprovalRequest, RequestKind
from approvals.redis_calls import resolved

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

# KEYS: request hash. ARGV: expected version, new version, new json.
# Returns 1 when stored, 0 when the version moved on, -1 when there is no such request.
_COMPARE_AND_SET = """
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

# A claim can only be found stale again if requests keep going final in between; a few rounds
# are plenty, and running out means something is badly wrong rather than busy.
_CLAIM_ROUNDS = 5


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisRequestStore:
    """RequestStore on a redis.asyncio.Redis (decode_responses either way); the caller owns
    and closes the client."""

    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client
        self._claim = redis_client.register_script(_CLAIM)
        self._release = redis_client.register_script(_RELEASE)
        self._compare_and_set = redis_client.register_script(_COMPARE_AND_SET)

    async def create(self, request: ApprovalRequest) -> tuple[ApprovalRequest, bool]:
        if not request.is_open:
            raise ValueError(f"only an open request can be created, not a {request.status} one")
        requester = request.requester.object_id
        claim_keys = [
            keys.open_request(requester, request.group.object_id, request.kind),
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
        stale = ""
        for _ in range(_CLAIM_ROUNDS):
            holder = _text(await self._claim(keys=claim_keys, args=[request.id, stale]))
            if holder == request.id:
                return request, True
            existing = await self.get(holder)
            if existing is not None and existing.is_open:
                await self._redis.delete(request_key)
                return existing, False
            stale = holder
        await self._redis.delete(request_key)
        raise ConcurrentUpdate(request.id, request.version)

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
        if not new.is_open:
            claim = keys.open_request(new.requester.object_id, new.group.object_id, new.kind)
            await self._release(keys=[claim], args=[new.id])
        return new

    async def open_request(
        self, requester_id: str, list_id: str, kind: RequestKind
    ) -> ApprovalRequest | None:
        holder = await self._redis.get(keys.open_request(requester_id, list_id, kind))
        if holder is None:
            return None
        found = await self.get(_text(holder))
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
                pipe.hget(keys.request(_text(request_id)), "json")
            documents = await pipe.execute()
        return [
            ApprovalRequest.model_validate_json(document)
            for document in documents
            if document is not None
        ]


if TYPE_CHECKING:  # mypy proves the Redis store satisfies the port
    from approvals.store import RequestStore

    def _conforms(redis_client: redis.Redis) -> RequestStore:
        return RedisRequestStore(redis_client)
