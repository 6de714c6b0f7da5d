"""What only the Redis store has to get right: its layout, and repairs after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from approvals import keys, state
from approvals.models import ApprovalRequest, CardRef, Person, RequestKind
from approvals.redis_calls import resolved
from approvals.redis_store import RedisRequestStore
from tests.approvals import demo

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CLAIM = keys.open_request(demo.ALEX.object_id, demo.FINANCE_EMEA.object_id, RequestKind.JOIN)


@pytest.fixture
async def connection(redis_url: str) -> AsyncIterator[redis.Redis]:
    opened = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield opened
    finally:
        await opened.aclose()


def ask(requester: Person = demo.ALEX, at: datetime = T0) -> ApprovalRequest:
    return state.new_request(
        kind=RequestKind.JOIN, requester=requester, group=demo.FINANCE_EMEA, now=at
    )


async def test_a_request_is_one_hash_holding_its_version_and_json(connection: redis.Redis) -> None:
    request, _ = await RedisRequestStore(connection).create(ask())
    stored = await resolved(connection.hgetall(keys.request(request.id)))
    assert stored["version"] == "0"
    assert ApprovalRequest.model_validate_json(stored["json"]) == request


async def test_a_claim_pointing_at_a_vanished_request_is_taken_over(
    connection: redis.Redis,
) -> None:
    await connection.set(CLAIM, "VanishedRequest0")
    store = RedisRequestStore(connection)

    request, created = await store.create(ask())

    assert created
    assert await connection.get(CLAIM) == request.id


async def test_a_claim_left_on_a_final_request_is_ignored_and_taken_over(
    connection: redis.Redis,
) -> None:
    store = RedisRequestStore(connection)
    first, _ = await store.create(ask())
    await store.replace(state.expire(first, now=T0), 0)
    # A crash between the final compare-and-set and the release leaves the claim behind.
    await connection.set(CLAIM, first.id)

    assert await store.open_request(*_finding()) is None
    second, created = await store.create(ask())

    assert created and second.id != first.id
    assert await connection.get(CLAIM) == second.id


async def test_losers_of_a_race_leave_no_request_behind(connection: redis.Redis) -> None:
    store = RedisRequestStore(connection)
    await asyncio.gather(*(store.create(ask()) for _ in range(20)))
    assert len([key async for key in connection.scan_iter(match="dlbot:req:*")]) == 1


async def test_a_client_that_does_not_decode_responses_works_the_same(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    try:
        store = RedisRequestStore(raw)
        request, _ = await store.create(ask())
        assert await store.open_request(*_finding()) == request
        assert await store.requests_of(demo.ALEX.object_id) == [request]
    finally:
        await raw.aclose()


# The index of open requests, and its repair after a crash ------------------------------------

LATER = T0 + timedelta(hours=1)


async def test_an_open_request_is_indexed_by_its_last_change_and_a_final_one_is_not(
    connection: redis.Redis,
) -> None:
    store = RedisRequestStore(connection)
    request, _ = await store.create(ask())
    assert await connection.zscore(keys.OPEN_REQUESTS, request.id) == T0.timestamp()

    await store.replace(state.expire(request, now=T0), 0)

    assert await connection.zcard(keys.OPEN_REQUESTS) == 0
    assert await resolved(connection.hlen(keys.OPEN_VERSIONS)) == 0


async def test_the_index_entry_of_a_request_that_went_final_is_dropped_when_read(
    connection: redis.Redis,
) -> None:
    store = RedisRequestStore(connection)
    request, _ = await store.create(ask())
    await store.replace(state.expire(request, now=T0), 0)
    # A crash between the final compare-and-set and the index update leaves the entry behind.
    await _index(connection, request.id, version=0, at=T0)

    assert await store.open_requests(LATER, limit=10) == []
    assert await connection.zcard(keys.OPEN_REQUESTS) == 0


async def test_the_index_entry_of_a_vanished_request_is_dropped_when_read(
    connection: redis.Redis,
) -> None:
    await _index(connection, "VanishedRequest0", version=0, at=T0)

    assert await RedisRequestStore(connection).open_requests(LATER, limit=10) == []
    assert await connection.zcard(keys.OPEN_REQUESTS) == 0


async def test_a_request_that_never_got_its_claim_is_not_listed_as_open(
    connection: redis.Redis,
) -> None:
    store = RedisRequestStore(connection)
    winner, _ = await store.create(ask())
    # A loser of the race (or a create) that died after indexing its request, before cleaning up.
    loser = ask(at=T0 - timedelta(seconds=1))
    await resolved(
        connection.hset(
            keys.request(loser.id), mapping={"version": "0", "json": loser.model_dump_json()}
        )
    )
    await _index(connection, loser.id, version=0, at=loser.updated_at)

    assert await store.open_requests(LATER, limit=10) == [winner]
    assert await connection.zrange(keys.OPEN_REQUESTS, 0, -1) == [winner.id]


async def test_an_index_entry_behind_its_request_lists_the_request_by_its_last_change(
    connection: redis.Redis,
) -> None:
    store = RedisRequestStore(connection)
    request, _ = await store.create(ask())
    card = CardRef(approver_id=demo.MEGAN.object_id, conversation_id="c", activity_id="1")
    carded = await store.replace(state.add_card(request, card, now=T0 + timedelta(minutes=5)), 0)
    # A crash between the compare-and-set and the index update leaves the entry at version 0.
    await _index(connection, request.id, version=0, at=T0)

    assert await store.open_requests(T0 + timedelta(minutes=1), limit=10) == []
    assert await store.open_requests(T0 + timedelta(minutes=6), limit=10) == [carded]


async def test_open_requests_reads_past_a_page_of_dropped_entries(
    connection: redis.Redis,
) -> None:
    for n in range(150):
        await _index(connection, f"Vanished{n:04}", version=0, at=T0 - timedelta(seconds=1))
    request, _ = await RedisRequestStore(connection).create(ask())

    assert await RedisRequestStore(connection).open_requests(LATER, limit=10) == [request]


async def test_open_requests_reads_more_than_a_page_of_open_requests(
    connection: redis.Redis,
) -> None:
    store = RedisRequestStore(connection)
    made = [
        (await store.create(ask(requester=demo.person(f"p{n:03}", "P", ""), at=T0)))[0].id
        for n in range(150)
    ]

    listed = await store.open_requests(LATER, limit=500)

    assert [r.id for r in listed] == sorted(made)


async def _index(connection: redis.Redis, request_id: str, *, version: int, at: datetime) -> None:
    await connection.zadd(keys.OPEN_REQUESTS, {request_id: at.timestamp()})
    await resolved(connection.hset(keys.OPEN_VERSIONS, request_id, str(version)))


def _finding() -> tuple[str, str, RequestKind]:
    return (demo.ALEX.object_id, demo.FINANCE_EMEA.object_id, RequestKind.JOIN)


async def test_recent_skips_and_survives_an_entry_whose_request_is_gone(
    redis_url: str,
) -> None:
    # A create that died after indexing its id but before its claim leaves an entry behind;
    # so does a request hash deleted by hand. Neither is listed, and neither breaks the list.
    client = redis.Redis.from_url(redis_url)
    try:
        store = RedisRequestStore(client)
        kept = state.new_request(
            kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA, now=T0
        )
        await store.create(kept)
        unclaimed = state.new_request(
            kind=RequestKind.JOIN, requester=demo.GRADY, group=demo.FINANCE_EMEA, now=T0
        )
        await client.hset(
            keys.request(unclaimed.id),
            mapping={"version": "0", "json": unclaimed.model_dump_json()},
        )
        await client.zadd(keys.ALL_REQUESTS, {unclaimed.id: 1.0, "AAAAAAAAAAAAAAAA": 2.0})

        assert [r.id for r in await store.recent(10)] == [kept.id]
    finally:
        await client.aclose()
