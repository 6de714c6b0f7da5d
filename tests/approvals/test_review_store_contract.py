"""The ReviewStore contract, run against every backend: in memory, and a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from approvals import reviews
from approvals.models import Person
from approvals.review_store import InMemoryReviewStore, RedisReviewStore, ReviewStore
from approvals.reviews import Choice, ReviewConflict
from tests.approvals import demo

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ReviewStore]:
    if request.param == "memory":
        yield InMemoryReviewStore()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisReviewStore(client)
    finally:
        await client.aclose()


def a_review(review_id: str = "rev12345") -> reviews.Review:
    return reviews.new_review(
        review_id=review_id,
        group=demo.FINANCE_EMEA,
        reviewers=(demo.approver(demo.MEGAN),),
        members=(demo.ALEX, demo.GRADY),
        now=NOW,
    )


async def test_a_review_is_created_once_and_becomes_its_lists_latest(store: ReviewStore) -> None:
    review = a_review()
    assert await store.create(review)
    assert not await store.create(review.model_copy(update={"all_members": True}))
    assert await store.get("rev12345") == review
    assert await store.latest(demo.FINANCE_EMEA.object_id) == review
    assert await store.latest(demo.SALES_TEAM.object_id) is None
    assert await store.get("nope1234") is None
    assert await store.get("not a valid id!") is None


async def test_a_change_is_stored_only_from_the_version_it_was_made_from(
    store: ReviewStore,
) -> None:
    review = a_review()
    await store.create(review)
    decided = reviews.decide(review, actor=demo.MEGAN, choices={0: Choice.KEEP}, now=NOW)
    await store.replace(decided, review.version)

    with pytest.raises(ReviewConflict):
        await store.replace(reviews.keep_all(review, actor=demo.MEGAN, now=NOW), review.version)
    with pytest.raises(ReviewConflict):
        await store.replace(a_review("other123"), 0)
    assert await store.get(review.id) == decided


async def test_members_the_bot_added_are_kept_per_list_until_they_leave(
    store: ReviewStore,
) -> None:
    await store.member_added(demo.FINANCE_EMEA, demo.GRADY)
    await store.member_added(demo.FINANCE_EMEA, demo.ALEX)
    await store.member_added(demo.FINANCE_EMEA, demo.ALEX)
    await store.member_added(demo.SALES_TEAM, demo.LEE)
    await store.member_left(demo.FINANCE_EMEA.object_id, demo.GRADY.object_id)
    await store.member_left(demo.FINANCE_EMEA.object_id, "never-there")

    assert await store.added(demo.FINANCE_EMEA.object_id) == [demo.ALEX]
    assert await store.added(demo.SALES_TEAM.object_id) == [demo.LEE]
    assert await store.added("no-such-list") == []


async def test_thousands_of_added_members_are_read_back_whole(store: ReviewStore) -> None:
    people = [Person(object_id=f"p{i:05}", display_name=f"P {i:05}") for i in range(5000)]
    for person in people:
        await store.member_added(demo.FINANCE_EMEA, person)

    assert await store.added(demo.FINANCE_EMEA.object_id) == people


async def test_a_list_is_scheduled_once_and_due_lists_come_earliest_first(
    store: ReviewStore,
) -> None:
    await store.schedule(demo.SALES_TEAM, NOW + timedelta(days=2))
    await store.schedule(demo.FINANCE_EMEA, NOW + timedelta(days=1))
    await store.schedule(demo.FINANCE_EMEA, NOW + timedelta(days=5))  # keeps its first time

    assert await store.due(NOW + timedelta(days=1)) == []
    assert await store.due(NOW + timedelta(days=3)) == [demo.FINANCE_EMEA, demo.SALES_TEAM]
    assert await store.due(NOW + timedelta(days=3), limit=1) == [demo.FINANCE_EMEA]


async def test_of_many_claims_on_a_due_list_exactly_one_wins(store: ReviewStore) -> None:
    await store.schedule(demo.FINANCE_EMEA, NOW)
    later = NOW + timedelta(days=90)

    won = await asyncio.gather(
        *(store.claim(demo.FINANCE_EMEA.object_id, now=NOW, next_at=later) for _ in range(8))
    )

    assert won.count(True) == 1
    assert await store.due(NOW + timedelta(days=89)) == []
    assert await store.due(later + timedelta(seconds=1)) == [demo.FINANCE_EMEA]
    assert not await store.claim(demo.SALES_TEAM.object_id, now=NOW, next_at=later)


async def test_unfinished_reviews_are_open_ones_and_those_with_removals_not_yet_asked_for(
    store: ReviewStore,
) -> None:
    kept = a_review("kept1234")
    removing = a_review("removing")
    still_open = a_review("open1234").model_copy(update={"started_at": NOW + timedelta(days=1)})
    for review in (kept, removing, still_open):
        await store.create(review)
    await store.replace(reviews.keep_all(kept, actor=demo.MEGAN, now=NOW), 0)
    done = reviews.finish(
        reviews.decide(removing, actor=demo.MEGAN, choices={1: Choice.REMOVE}, now=NOW),
        actor=demo.MEGAN,
        now=NOW,
    )
    await store.replace(done, 0)

    assert [r.id for r in await store.unfinished()] == ["removing", "open1234"]
    asked = reviews.removing(done, index=1, request_id="leave123")
    await store.replace(asked, done.version)
    assert [r.id for r in await store.unfinished()] == ["open1234"]
