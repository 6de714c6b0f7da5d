"""Retention on the Redis stream: a prune interrupted at any step, or run twice at once, neither
loses nor duplicates an entry (approvals/audit.py, "a write-ahead plan"). A crash is the process
stopping between two of prune's own steps; the next prune runs on a fresh client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as redis
from redis.cluster import key_slot

from approvals import keys
from approvals.audit import (
    ArchiveMismatch,
    AuditAction,
    AuditEvent,
    RedisStreamAudit,
    plan_key,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CUT = T0 + timedelta(days=30)


async def none_open(candidates: Collection[str]) -> Collection[str]:
    return []


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    try:
        yield connection
    finally:
        await connection.aclose()


Fresh = Callable[[], RedisStreamAudit]


@pytest.fixture
async def fresh(redis_url: str) -> AsyncIterator[Fresh]:
    """The trail as the next process sees it: each call, a client of its own."""
    clients: list[redis.Redis] = []

    def open_one() -> RedisStreamAudit:
        clients.append(redis.Redis.from_url(redis_url))
        return RedisStreamAudit(clients[-1])

    try:
        yield open_one
    finally:
        for connection in clients:
            await connection.aclose()


async def seeded(client: redis.Redis, old: int = 5, new: int = 2) -> RedisStreamAudit:
    audit = RedisStreamAudit(client)
    for n in range(old):
        await audit.append(AuditEvent(at=T0, event="denied", request_id=f"old{n}", detail=str(n)))
    for n in range(new):
        await audit.append(
            AuditEvent(at=CUT + timedelta(days=1), event="denied", request_id=f"new{n}")
        )
    return audit


def lines(path: Path) -> list[AuditEvent]:
    return [AuditEvent.model_validate_json(line) for line in path.read_text("utf-8").splitlines()]


def requests_in(events: list[AuditEvent]) -> list[str]:
    return [e.request_id for e in events if e.event != AuditAction.PRUNED]


def prune_events(events: list[AuditEvent]) -> list[AuditEvent]:
    return [e for e in events if e.event == AuditAction.PRUNED]


def archives_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("*/*.jsonl"))


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


OLD_IDS = [f"old{n}" for n in range(5)]


async def test_a_crash_between_archive_and_trim_is_finished_by_the_next_run_without_duplicates(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    audit = await seeded(client)
    target = tmp_path / "first.jsonl"
    plan = await audit.begin_prune(CUT, still_open=none_open, archive=target)
    assert plan is not None
    assert await audit.write_archive(plan) == 5
    # ...and the process dies here: archived, not trimmed.
    assert requests_in(await audit.read()) == [*OLD_IDS, "new0", "new1"]

    rerun = fresh()
    result = await rerun.prune(CUT, still_open=none_open, archive=tmp_path / "second.jsonl")

    [finished] = result.finished
    assert (finished.removed, finished.archive) == (5, target)
    assert result.removed == 0  # nothing more was old: no second archive
    assert files_in(tmp_path) == ["first.jsonl"]
    assert requests_in(lines(target)) == OLD_IDS
    events = await rerun.read()
    assert requests_in(events) == ["new0", "new1"]
    assert [e.result for e in prune_events(events)] == ["5"]
    assert await rerun.pending_plan() is None


async def test_a_crash_between_plan_and_archive_is_archived_and_trimmed_by_the_next_run(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    audit = await seeded(client)
    target = tmp_path / "first.jsonl"
    assert await audit.begin_prune(CUT, still_open=none_open, archive=target) is not None
    # ...the process dies before writing anything.

    result = await fresh().prune(CUT, still_open=none_open)

    assert [(f.removed, f.archive) for f in result.finished] == [(5, target)]
    assert requests_in(lines(target)) == OLD_IDS
    assert requests_in(await audit.read()) == ["new0", "new1"]


async def test_running_the_interrupted_command_again_finishes_it_despite_its_archive_existing(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    # The admin's obvious move after a crash: the same command, the same --archive.
    audit = await seeded(client)
    target = tmp_path / "audit.jsonl"
    plan = await audit.begin_prune(CUT, still_open=none_open, archive=target)
    assert plan is not None
    await audit.write_archive(plan)

    result = await fresh().prune(CUT, still_open=none_open, archive=target)

    assert [f.removed for f in result.finished] == [5] and result.removed == 0
    assert requests_in(lines(target)) == OLD_IDS
    assert requests_in(await audit.read()) == ["new0", "new1"]


async def test_entries_grown_old_since_the_crash_go_to_the_new_archive_and_only_there(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    audit = await seeded(client)
    plan = await audit.begin_prune(CUT, still_open=none_open, archive=tmp_path / "1.jsonl")
    assert plan is not None
    await audit.write_archive(plan)

    later = CUT + timedelta(days=2)  # the next day's run: new0 and new1 are old by now
    result = await fresh().prune(later, still_open=none_open, archive=tmp_path / "2.jsonl")

    assert result.removed == 2 and [f.removed for f in result.finished] == [5]
    assert requests_in(lines(tmp_path / "1.jsonl")) == OLD_IDS
    assert requests_in(lines(tmp_path / "2.jsonl")) == ["new0", "new1"]
    # The first prune's event is newer than `later`'s cut-off, so it stays; so does the second's.
    assert [e.result for e in prune_events(await audit.read())] == ["5", "2"]


async def test_a_planned_archive_that_is_not_whole_stops_the_prune_before_anything_goes(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    audit = await seeded(client)
    target = tmp_path / "audit.jsonl"
    assert await audit.begin_prune(CUT, still_open=none_open, archive=target) is not None
    target.write_text("someone else's file\n", encoding="utf-8")

    with pytest.raises(ArchiveMismatch, match="move it aside"):
        await fresh().prune(CUT, still_open=none_open)

    assert len(requests_in(await audit.read())) == 7
    assert target.read_text("utf-8") == "someone else's file\n"


async def test_two_prunes_at_once_archive_and_remove_every_old_entry_exactly_once(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    await seeded(client, old=300, new=3)
    first, second = fresh(), fresh()

    results = await asyncio.gather(
        first.prune(CUT, still_open=none_open, archive=tmp_path / "a" / "1.jsonl"),
        second.prune(CUT, still_open=none_open, archive=tmp_path / "b" / "2.jsonl"),
    )

    archived = [e.request_id for path in archives_in(tmp_path) for e in lines(path)]
    assert sorted(archived) == sorted(f"old{n}" for n in range(300))  # once each
    events = await first.read()
    assert requests_in(events) == ["new0", "new1", "new2"]
    assert sum(int(e.result) for e in prune_events(events)) == 300
    assert sum(r.removed + sum(f.removed for f in r.finished) for r in results) >= 300


async def test_a_dry_run_reports_an_interrupted_prune_and_leaves_it_to_a_real_run(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    audit = await seeded(client)
    assert await audit.begin_prune(CUT, still_open=none_open) is not None

    later = CUT + timedelta(days=2)
    result = await fresh().prune(later, still_open=none_open, dry_run=True)

    assert [(f.removed, f.dry_run) for f in result.finished] == [(5, True)]
    assert result.removed == 2  # new0 and new1; the planned five are counted once, above
    assert await audit.pending_plan() is not None
    assert len(requests_in(await audit.read())) == 7


async def test_a_plan_another_process_finished_is_not_trimmed_twice(
    client: redis.Redis, fresh: Fresh
) -> None:
    audit = await seeded(client)
    plan = await audit.begin_prune(CUT, still_open=none_open)
    assert plan is not None
    assert await fresh().trim(plan) == 5

    assert await audit.trim(plan) == -1
    assert len(prune_events(await audit.read())) == 1


def test_the_plan_lives_in_the_streams_cluster_slot_so_one_script_can_change_both() -> None:
    assert key_slot(plan_key(keys.AUDIT_STREAM).encode()) == key_slot(keys.AUDIT_STREAM.encode())
    assert plan_key("x:{tag}:audit") == "x:{tag}:audit:retention-plan"


async def test_an_archive_that_cannot_be_written_removes_nothing_and_leaves_no_plan_behind(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    # Otherwise every later prune would retry that very file: a wrong directory, fixed in the
    # settings, would still stop retention for good.
    audit = await seeded(client)
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")

    with pytest.raises(OSError):
        await audit.prune(CUT, still_open=none_open, archive=blocked / "audit.jsonl")

    assert len(requests_in(await audit.read())) == 7
    assert await audit.pending_plan() is None
    result = await fresh().prune(CUT, still_open=none_open, archive=tmp_path / "ok.jsonl")
    assert (result.removed, result.finished) == (5, ())


async def test_an_entry_that_cannot_be_read_is_kept_by_a_prune(
    client: redis.Redis, tmp_path: Path
) -> None:
    audit = await seeded(client, old=2, new=0)
    await client.xadd(keys.AUDIT_STREAM, {"event": "from a newer dlbot", "request_id": "x"})

    result = await audit.prune(CUT, still_open=none_open, archive=tmp_path / "a.jsonl")

    assert result.removed == 2
    entries = await client.xrange(keys.AUDIT_STREAM)
    assert [fields.get(b"event") for _, fields in entries] == [b"from a newer dlbot", b"pruned"]


async def test_a_finisher_that_finds_the_entries_gone_leaves_the_other_ones_archive_alone(
    client: redis.Redis, fresh: Fresh, tmp_path: Path
) -> None:
    # Two processes finish one plan; the slower reads the stream after the faster trimmed it.
    audit = await seeded(client)
    target = tmp_path / "audit.jsonl"
    plan = await audit.begin_prune(CUT, still_open=none_open, archive=target)
    assert plan is not None
    faster = fresh()
    await faster.write_archive(plan)
    assert await faster.trim(plan) == 5

    assert await audit.write_archive(plan) == 0
    assert await audit.trim(plan) == -1
    assert requests_in(lines(target)) == OLD_IDS
