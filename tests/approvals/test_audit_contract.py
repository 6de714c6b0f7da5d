"""The AuditLog contract, retention included, run against both backends: in memory, and a real
Redis stream. Redis-only crash and concurrency cases: test_audit_retention_redis.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as redis

from approvals import keys, state
from approvals.audit import (
    ArchiveExists,
    AuditAction,
    AuditEvent,
    InMemoryAudit,
    PrunableAuditLog,
    RedisStreamAudit,
    StillOpen,
    archive_line,
)
from approvals.models import RequestKind
from tests.approvals import demo

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
REQUEST = state.new_request(
    kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA, now=T0
)


@pytest.fixture(params=["memory", "redis"])
async def audit(request: pytest.FixtureRequest) -> AsyncIterator[PrunableAuditLog]:
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


async def test_an_empty_trail_reads_as_nothing(audit: PrunableAuditLog) -> None:
    assert await audit.read() == []


async def test_every_field_of_an_event_reads_back_unchanged(audit: PrunableAuditLog) -> None:
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


async def test_events_read_back_in_the_order_they_were_appended(audit: PrunableAuditLog) -> None:
    # Appended out of time order (two replicas with skewed clocks): the trail keeps append order.
    for n in (3, 1, 2):
        await audit.append(event(n))
    assert [e.detail for e in await audit.read()] == ["3", "1", "2"]


async def test_since_keeps_the_events_at_or_after_that_time(audit: PrunableAuditLog) -> None:
    for n in range(5):
        await audit.append(event(n))
    since = await audit.read(since=T0 + timedelta(seconds=3))
    assert [e.detail for e in since] == ["3", "4"]


async def test_a_long_trail_is_read_back_whole(audit: PrunableAuditLog) -> None:
    for n in range(2500):
        await audit.append(event(n))
    assert [e.detail for e in await audit.read()] == [str(n) for n in range(2500)]


async def test_the_redis_trail_is_one_stream_that_appending_never_trims(redis_url: str) -> None:
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


# Retention ---------------------------------------------------------------------------------------

CUT = T0 + timedelta(days=30)  # the cut-off of the prunes below


def at(request_id: str, when: datetime, action: AuditAction = AuditAction.SUBMITTED) -> AuditEvent:
    return AuditEvent(at=when, event=action.value, request_id=request_id, detail=request_id)


def open_ones(*request_ids: str) -> StillOpen:
    async def still_open(candidates: Collection[str]) -> Collection[str]:
        return [c for c in candidates if c in request_ids]

    return still_open


NONE_OPEN = open_ones()
OLD, NEW = T0, CUT + timedelta(days=1)


def archived(path: Path) -> list[AuditEvent]:
    return [AuditEvent.model_validate_json(line) for line in path.read_text("utf-8").splitlines()]


def nothing_in(directory: Path) -> bool:
    return not any(directory.iterdir())


def trail(events: list[AuditEvent]) -> list[str]:
    return [e.detail for e in events if e.event != AuditAction.PRUNED]


async def test_prune_removes_what_is_older_than_the_cut_off_and_keeps_what_is_newer(
    audit: PrunableAuditLog,
) -> None:
    for event in (at("gone", OLD), at("stays", NEW), at("gone2", OLD)):
        await audit.append(event)

    result = await audit.prune(CUT, still_open=NONE_OPEN)

    assert (result.removed, result.kept, result.archive) == (2, 0, None)
    assert trail(await audit.read()) == ["stays"]


async def test_the_archive_holds_exactly_the_removed_entries_in_trail_order_as_export_lines(
    audit: PrunableAuditLog, tmp_path: Path
) -> None:
    removed = [at("a", OLD), at("b", OLD + timedelta(hours=1)), at("c", OLD - timedelta(days=9))]
    for event in (removed[0], at("new", NEW), *removed[1:]):
        await audit.append(event)
    target = tmp_path / "archive" / "audit-2025.jsonl"  # its directory is made as needed

    result = await audit.prune(CUT, still_open=NONE_OPEN, archive=target)

    assert result.archive == target and result.removed == 3
    assert target.read_text("utf-8") == "".join(archive_line(e) for e in removed)
    assert archived(target) == removed
    assert target.stat().st_mode & 0o777 == 0o600  # people's names and reasons: owner only


async def test_events_of_an_open_request_stay_however_old_they_are(
    audit: PrunableAuditLog,
) -> None:
    for event in (at("waiting", OLD), at("done", OLD), at("waiting", OLD, AuditAction.CARDS_SENT)):
        await audit.append(event)

    result = await audit.prune(CUT, still_open=open_ones("waiting"))

    assert (result.removed, result.kept) == (1, 2)
    assert trail(await audit.read()) == ["waiting", "waiting"]


async def test_a_requests_events_leave_together_once_its_newest_is_older_than_the_cut_off(
    audit: PrunableAuditLog,
) -> None:
    # Asked long ago, finished after the cut-off: its whole trail stays, the old part included.
    await audit.append(at("slow", OLD))
    await audit.append(at("slow", NEW, AuditAction.EXECUTED))

    kept = await audit.prune(CUT, still_open=NONE_OPEN)
    later = await audit.prune(NEW + timedelta(days=1), still_open=NONE_OPEN)

    assert (kept.removed, kept.kept) == (0, 1)
    assert later.removed == 2 and trail(await audit.read()) == []


async def test_every_prune_is_an_audit_event_of_its_own_saying_what_went_where(
    audit: PrunableAuditLog, tmp_path: Path
) -> None:
    await audit.append(at("gone", OLD))
    target = tmp_path / "a.jsonl"

    await audit.prune(
        CUT, still_open=NONE_OPEN, archive=target, actor_id="admin", by="dlbot audit prune"
    )

    [pruned] = [e for e in await audit.read() if e.event == AuditAction.PRUNED]
    assert (pruned.request_id, pruned.actor_id, pruned.result) == ("", "admin", "1")
    assert pruned.detail == (
        f"retention: removed 1 entry older than {CUT.isoformat()}, archived to {target} "
        "(dlbot audit prune)"
    )


async def test_without_an_archive_the_prune_event_says_the_entries_were_not_archived(
    audit: PrunableAuditLog,
) -> None:
    await audit.append(at("gone", OLD))

    await audit.prune(CUT, still_open=NONE_OPEN)

    [pruned] = await audit.read()
    assert pruned.detail.endswith(", not archived")


async def test_a_dry_run_counts_what_would_leave_and_changes_nothing(
    audit: PrunableAuditLog, tmp_path: Path
) -> None:
    events = [at("gone", OLD), at("open", OLD), at("new", NEW)]
    for event in events:
        await audit.append(event)

    result = await audit.prune(
        CUT, still_open=open_ones("open"), archive=tmp_path / "a.jsonl", dry_run=True
    )

    assert (result.dry_run, result.removed, result.kept, result.archive) == (True, 1, 1, None)
    assert await audit.read() == events
    assert nothing_in(tmp_path)


async def test_with_nothing_to_remove_there_is_no_archive_and_no_event(
    audit: PrunableAuditLog, tmp_path: Path
) -> None:
    await audit.append(at("new", NEW))

    result = await audit.prune(CUT, still_open=NONE_OPEN, archive=tmp_path / "a.jsonl")

    assert (result.removed, result.archive) == (0, None)
    assert trail(await audit.read()) == ["new"] and len(await audit.read()) == 1
    assert nothing_in(tmp_path)


async def test_an_existing_archive_is_never_overwritten_and_nothing_is_removed(
    audit: PrunableAuditLog, tmp_path: Path
) -> None:
    await audit.append(at("gone", OLD))
    target = tmp_path / "a.jsonl"
    target.write_text("an earlier archive\n", encoding="utf-8")

    with pytest.raises(ArchiveExists):
        await audit.prune(CUT, still_open=NONE_OPEN, archive=target)

    assert target.read_text("utf-8") == "an earlier archive\n"
    assert trail(await audit.read()) == ["gone"]


async def test_old_prune_events_leave_with_a_later_prune_and_are_archived_like_the_rest(
    audit: PrunableAuditLog, tmp_path: Path
) -> None:
    # Prune events have no request; each leaves on its own once older than the cut-off.
    await audit.append(at("gone", OLD))
    await audit.prune(CUT, still_open=NONE_OPEN)
    [first] = await audit.read()
    await audit.append(at("later", first.at + timedelta(days=5)))

    result = await audit.prune(
        first.at + timedelta(days=1), still_open=NONE_OPEN, archive=tmp_path / "a.jsonl"
    )

    assert result.removed == 1 and archived(tmp_path / "a.jsonl") == [first]
    assert [e.event for e in await audit.read()] == ["submitted", "pruned"]


async def test_only_the_requests_asked_about_are_checked_for_being_open(
    audit: PrunableAuditLog,
) -> None:
    # Requests with newer events stay anyway: the store is asked only about the others.
    for event in (at("old", OLD), at("old-and-new", OLD), at("old-and-new", NEW), at("", OLD)):
        await audit.append(event)
    asked: list[str] = []

    async def still_open(candidates: Collection[str]) -> Collection[str]:
        asked.extend(candidates)
        return []

    await audit.prune(CUT, still_open=still_open)

    assert asked == ["old"]


async def test_an_entry_appended_while_a_prune_chooses_stays_even_when_old(
    audit: PrunableAuditLog, tmp_path: Path
) -> None:
    # A replica whose clock is days behind appends while the prune asks the store: only what
    # was chosen, and archived, leaves.
    await audit.append(at("gone", OLD))

    async def still_open(candidates: Collection[str]) -> Collection[str]:
        await audit.append(at("late", OLD))
        return []

    result = await audit.prune(CUT, still_open=still_open, archive=tmp_path / "a.jsonl")

    assert result.removed == 1 and trail(archived(tmp_path / "a.jsonl")) == ["gone"]
    assert trail(await audit.read()) == ["late"]


async def test_a_naive_cut_off_is_taken_as_utc(audit: PrunableAuditLog) -> None:
    await audit.append(at("gone", CUT - timedelta(minutes=1)))
    await audit.append(at("stays", CUT))

    result = await audit.prune(CUT.replace(tzinfo=None), still_open=NONE_OPEN)

    assert result.removed == 1 and trail(await audit.read()) == ["stays"]


def test_an_archive_line_is_the_events_json_on_one_line() -> None:
    line = archive_line(event(1))
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line)["detail"] == "1"
