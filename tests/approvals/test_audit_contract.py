"""The AuditLog contract, run against both backends: in memory, and a real Redis stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from approvals import keys, state
from approvals.audit import AuditAction, AuditEvent, AuditLog, InMemoryAudit, RedisStreamAudit
from approvals.models import RequestKind
from tests.approvals import demo

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
REQUEST = state.new_request(
    kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA, now=T0
)


@pytest.fixture(params=["memory", "redis"])
async def audit(request: pytest.FixtureRequest) -> AsyncIterator[AuditLog]:
    if request.param == "memory":
        yield InMemoryAudit()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisStreamAudit(client)
    finally:
        await client.aclose()


def event(n: int, action: AuditAction = AuditAction.SUBMITTED) -> AuditEvent:
    return AuditEvent.of(
        action, REQUEST, at=T0 + timedelta(seconds=n), actor_id=demo.ALEX.object_id, detail=str(n)
    )


async def test_an_empty_trail_reads_as_nothing(audit: AuditLog) -> None:
    assert await audit.read() == []


async def test_every_field_of_an_event_reads_back_unchanged(audit: AuditLog) -> None:
    written = AuditEvent.of(
        AuditAction.EXECUTED,
        REQUEST,
        at=T0,
        actor_id=demo.MEGAN.object_id,
        cmdlet="Add-DistributionGroupMember",
        result="added",
        exchange_request_id="5f1c8d0e-0000-4000-8000-000000000001",
        detail="Zoë's « reason » | with pipes\nand lines",
    )
    await audit.append(written)
    assert await audit.read() == [written]
    assert (written.list_id, written.list_address, written.kind) == (
        demo.FINANCE_EMEA.object_id,
        "finance-emea@contoso.com",
        "join",
    )


async def test_events_read_back_in_the_order_they_were_appended(audit: AuditLog) -> None:
    # Appended out of time order (two replicas with skewed clocks): the trail keeps append order.
    for n in (3, 1, 2):
        await audit.append(event(n))
    assert [e.detail for e in await audit.read()] == ["3", "1", "2"]


async def test_since_keeps_the_events_at_or_after_that_time(audit: AuditLog) -> None:
    for n in range(5):
        await audit.append(event(n))
    since = await audit.read(since=T0 + timedelta(seconds=3))
    assert [e.detail for e in since] == ["3", "4"]


async def test_a_long_trail_is_read_back_whole(audit: AuditLog) -> None:
    for n in range(2500):
        await audit.append(event(n))
    assert [e.detail for e in await audit.read()] == [str(n) for n in range(2500)]


async def test_the_redis_trail_is_one_stream_that_is_never_trimmed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        audit = RedisStreamAudit(client)
        for n in range(1200):
            await audit.append(event(n))
        assert await client.xlen(keys.AUDIT_STREAM) == 1200
        [(_, fields)] = await client.xrange(keys.AUDIT_STREAM, count=1)
        assert fields["event"] == "submitted" and fields["request_id"] == REQUEST.id
    finally:
        await client.aclose()
