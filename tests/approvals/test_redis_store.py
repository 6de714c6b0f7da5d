"""What only the Redis store has to get right: its layout, and repairs after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as redis

from approvals import keys, state
from approvals.models import ApprovalRequest, RequestKind
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


def ask() -> ApprovalRequest:
    return state.new_request(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA, now=T0
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


def _finding() -> tuple[str, str, RequestKind]:
    return (demo.ALEX.object_id, demo.FINANCE_EMEA.object_id, RequestKind.JOIN)
