"""The ledger of requests whose cards may owe a redraw, in memory and on the real redis-server:
entries come back oldest first once old enough, and dropping or moving one is skipped when a
newer change noted it again meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from approvals.redraws import InMemoryRedrawLedger, RedisRedrawLedger, RedrawLedger

T0 = datetime(2026, 3, 2, 9, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def ledger(request: pytest.FixtureRequest) -> AsyncIterator[RedrawLedger]:
    if request.param == "memory":
        yield InMemoryRedrawLedger()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisRedrawLedger(client)
    finally:
        await client.aclose()


async def test_entries_noted_before_the_cutoff_come_back_oldest_first(
    ledger: RedrawLedger,
) -> None:
    await ledger.owe("b", T0 + timedelta(seconds=5))
    await ledger.owe("a", T0)
    await ledger.owe("c", T0 + timedelta(minutes=1))

    assert await ledger.due(T0 + timedelta(seconds=30), 10) == [
        ("a", T0),
        ("b", T0 + timedelta(seconds=5)),
    ]
    assert await ledger.due(T0 + timedelta(seconds=30), 1) == [("a", T0)]


async def test_settling_drops_an_entry_unless_it_was_noted_again_meanwhile(
    ledger: RedrawLedger,
) -> None:
    await ledger.owe("a", T0)
    await ledger.owe("b", T0)
    [(_, seen), _] = await ledger.due(T0 + timedelta(minutes=1), 10)
    await ledger.owe("b", T0 + timedelta(seconds=1))  # a newer change of b

    await ledger.settle("a", seen)
    await ledger.settle("b", seen)

    assert await ledger.due(T0 + timedelta(minutes=1), 10) == [("b", T0 + timedelta(seconds=1))]


async def test_postponing_moves_an_entry_past_the_cutoff_unless_it_was_noted_again(
    ledger: RedrawLedger,
) -> None:
    later = T0 + timedelta(minutes=10)
    await ledger.owe("a", T0)
    await ledger.owe("b", T0)
    await ledger.owe("b", T0 + timedelta(seconds=1))

    await ledger.postpone("a", T0, later)
    await ledger.postpone("b", T0, later)

    assert await ledger.due(T0 + timedelta(minutes=1), 10) == [("b", T0 + timedelta(seconds=1))]
    assert await ledger.due(later + timedelta(seconds=1), 10) == [
        ("b", T0 + timedelta(seconds=1)),
        ("a", later),
    ]
