"""The GrantStore contract, run against every backend: in memory, and a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from approvals import grants
from approvals.grant_store import GrantStore, InMemoryGrantStore, RedisGrantStore
from approvals.grants import GrantConflict, GrantStatus
from tests.approvals import demo

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[GrantStore]:
    if request.param == "memory":
        yield InMemoryGrantStore()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisGrantStore(client)
    finally:
        await client.aclose()


def a_grant(grant_id: str = "req1", days: int = 30) -> grants.Grant:
    return grants.new_grant(
        grant_id=grant_id, member=demo.ALEX, group=demo.FINANCE_EMEA, days=days, now=NOW
    )


async def test_a_grant_is_created_once_and_read_back_by_id_and_by_member_and_list(
    store: GrantStore,
) -> None:
    grant = a_grant()
    assert await store.create(grant)
    assert not await store.create(grant.model_copy(update={"days": 5}))
    assert await store.get("req1") == grant
    assert await store.current(demo.ALEX.object_id, demo.FINANCE_EMEA.object_id) == grant
    assert await store.current(demo.LEE.object_id, demo.FINANCE_EMEA.object_id) is None
    assert await store.get("nope") is None
    assert await store.get("not a valid id!") is None


async def test_a_change_is_stored_only_from_the_version_it_was_made_from(
    store: GrantStore,
) -> None:
    grant = a_grant()
    await store.create(grant)
    prompted = grants.prompt(grant, days_before=7, generation=0)
    assert await store.replace(prompted, 0) == prompted
    with pytest.raises(GrantConflict):
        await store.replace(grants.prompt(grant, days_before=1, generation=0), 0)
    with pytest.raises(GrantConflict):
        await store.replace(a_grant("ghost"), 0)
    assert await store.get(grant.id) == prompted


async def test_a_members_grants_come_newest_first(store: GrantStore) -> None:
    first = a_grant("req1")
    second = grants.new_grant(
        grant_id="req2", member=demo.ALEX, group=demo.SALES_TEAM, days=5, now=NOW + timedelta(1)
    )
    await store.create(first)
    await store.create(second)
    assert [g.id for g in await store.of_member(demo.ALEX.object_id)] == ["req2", "req1"]
    assert [g.id for g in await store.of_member(demo.ALEX.object_id, 1)] == ["req2"]
    assert await store.of_member(demo.LEE.object_id) == []


async def test_due_lists_grants_past_their_end_until_they_are_settled(store: GrantStore) -> None:
    short = a_grant("req1", days=1)
    long = grants.new_grant(
        grant_id="req2", member=demo.ALEX, group=demo.SALES_TEAM, days=30, now=NOW
    )
    await store.create(short)
    await store.create(long)
    later = NOW + timedelta(days=2)
    assert [g.id for g in await store.due(later)] == ["req1"]
    ending = await store.replace(grants.claim_end(short, generation=0, now=later), 0)
    assert [g.id for g in await store.due(later)] == ["req1"]  # claimed, removal not asked yet
    asked = await store.replace(grants.ending_by(ending, request_id="leave1"), 1)
    assert [g.id for g in await store.due(later)] == ["req1"]  # removal asked, not final yet
    ended = await store.replace(grants.ended(asked, now=later), 2)
    assert ended.status is GrantStatus.ENDED
    assert await store.due(NOW + timedelta(days=40)) == [long]


async def test_a_kept_grant_is_no_longer_due(store: GrantStore) -> None:
    grant = a_grant("req1", days=1)
    await store.create(grant)
    later = NOW + timedelta(days=2)
    ending = await store.replace(grants.claim_end(grant, generation=0, now=later), 0)
    asked = await store.replace(grants.ending_by(ending, request_id="leave1"), 1)
    await store.replace(grants.kept(asked, request_id="leave1", now=later), 2)
    assert await store.due(NOW + timedelta(days=400)) == []


async def test_due_grants_are_read_a_page_at_a_time_earliest_end_first(store: GrantStore) -> None:
    for n in (3, 1, 5, 2, 4):
        await store.create(a_grant(f"req{n}", days=n))
    later = NOW + timedelta(days=10)
    pages = [[g.id for g in await store.due(later, limit=2, offset=o)] for o in (0, 2, 4, 6)]
    assert pages == [["req1", "req2"], ["req3", "req4"], ["req5"], []]
