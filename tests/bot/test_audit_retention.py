"""Audit retention on the real parts: `dlbot audit prune` and the daily worker job, against a real
redis-server with the approval workflow writing the trail. Time is moved with time_machine."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as redis
import time_machine
from saq import Queue, Worker

from approvals.audit import AuditAction, AuditEvent, RedisStreamAudit, archive_line
from approvals.grant_store import RedisGrantStore
from approvals.grants import Grant, GrantStatus
from approvals.models import RequestStatus
from approvals.redis_store import RedisRequestStore
from approvals.review_store import RedisReviewStore
from approvals.reviews import Review, ReviewStatus
from approvals.state import new_request_id
from bot.admin_command import EXIT_OK, EXIT_USAGE, run_audit, show_request, write_events
from bot.audit_retention import (
    ADMIN_PRUNE_ACTOR,
    EXIT_FAILED,
    PRUNE_CRON,
    PRUNE_FUNCTION,
    archive_file,
    retention_cut_off,
    retention_jobs,
    still_open_in,
)
from bot.jobs import QUEUE_NAME
from bot.settings import Settings
from tests.approvals import demo
from tests.bot.test_admin_command import workflow

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=60)
CUT = retention_cut_off(NOW, 30)


def settings(redis_url: str, **given: object) -> Settings:
    return Settings(_env_file=None, redis_url=redis_url, **given)  # type: ignore[arg-type]


def prune(**given: object) -> argparse.Namespace:
    defaults: dict[str, object] = {
        "before": CUT.date().isoformat(),
        "archive": None,
        "no_archive": False,
        "dry_run": False,
    }
    return argparse.Namespace(command="audit", audit_command="prune", **{**defaults, **given})


async def history(redis_url: str) -> tuple[str, str]:
    """Two months ago Alex asked twice: one request was approved and done, one still waits."""
    with time_machine.travel(LONG_AGO, tick=False):
        async with workflow(redis_url) as flow:
            done = await flow.ask()
            await flow.service.decide(done.id, demo.MEGAN, approve=True, reason="welcome")
            await flow.jobs.run_all(flow.service)
            waiting = await flow.ask(group=demo.PROJECT_ATLAS)
            assert (await flow.service.get(done.id)).status is RequestStatus.COMPLETED
            assert waiting.is_open
            return done.id, waiting.id


async def trail(redis_url: str) -> list[AuditEvent]:
    client = redis.Redis.from_url(redis_url)
    try:
        return await RedisStreamAudit(client).read()
    finally:
        await client.aclose()


async def append(redis_url: str, *events: AuditEvent) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        for event in events:
            await RedisStreamAudit(client).append(event)
    finally:
        await client.aclose()


async def dlbot(redis_url: str, cwd: Path, *arguments: str) -> tuple[int, str, str]:
    """`dlbot …` in a process of its own, as an admin runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *arguments,
        cwd=cwd,  # no .env there: only the environment counts
        env={**os.environ, "DLBOT_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def archived(path: Path) -> list[AuditEvent]:
    return [AuditEvent.model_validate_json(line) for line in path.read_text("utf-8").splitlines()]


def export_lines(events: list[AuditEvent]) -> str:
    out = io.StringIO()
    write_events(events, out, "jsonl")  # what `dlbot audit export --format jsonl` writes
    return out.getvalue()


# dlbot audit prune -------------------------------------------------------------------------------


async def test_dlbot_audit_prune_archives_and_removes_a_finished_requests_trail_and_says_so(
    redis_url: str, tmp_path: Path
) -> None:
    done, waiting = await history(redis_url)
    before = await trail(redis_url)
    target = tmp_path / "archive.jsonl"

    code, out, err = await dlbot(
        redis_url, tmp_path, "audit", "prune", "--before", CUT.date().isoformat(),
        "--archive", str(target),
    )  # fmt: skip

    assert (code, err) == (0, "")
    assert out == (
        f"removed 4 entries older than {CUT.isoformat()}, archived to {target} "
        "(2 older ones kept: their requests are open or have newer events)\n"
    )
    # The archive is the export of exactly those entries, line for line.
    assert target.read_text("utf-8") == export_lines([e for e in before if e.request_id == done])
    after = await trail(redis_url)
    assert [e.event for e in after if e.request_id == waiting] == ["submitted", "cards_sent"]
    assert not [e for e in after if e.request_id == done]
    [pruned] = [e for e in after if e.event == AuditAction.PRUNED]
    assert (pruned.actor_id, pruned.result) == (ADMIN_PRUNE_ACTOR, "4")
    assert pruned.detail == (
        f"retention: removed 4 entries older than {CUT.isoformat()}, archived to {target}"
    )

    again = await dlbot(
        redis_url, tmp_path, "audit", "prune", "--before", CUT.date().isoformat(),
        "--archive", str(target),
    )  # fmt: skip
    assert again[0] == 0 and again[1].startswith(f"nothing to remove older than {CUT.isoformat()}")


async def test_a_pruned_request_shows_with_no_trail_while_the_request_itself_stays(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    done, _ = await history(redis_url)

    code = await asyncio.to_thread(run_audit, settings(redis_url), prune(no_archive=True))

    assert code == EXIT_OK
    assert capsys.readouterr().out.endswith(
        ", not archived (2 older ones kept: their requests are open or have newer events)\n"
    )
    client = redis.Redis.from_url(redis_url)
    try:
        shown = io.StringIO()
        store, audit = RedisRequestStore(client), RedisStreamAudit(client)
        assert await show_request(store, audit, done, shown) == EXIT_OK
    finally:
        await client.aclose()
    assert re.search(r"^status +completed$", shown.getvalue(), re.M)
    assert shown.getvalue().endswith("audit trail (0 events)\n")


async def test_a_dry_run_says_what_would_go_and_changes_nothing(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await history(redis_url)
    before = await trail(redis_url)

    code = await asyncio.to_thread(run_audit, settings(redis_url), prune(dry_run=True))

    assert code == EXIT_OK
    assert capsys.readouterr().out.startswith(
        f"would remove 4 entries older than {CUT.isoformat()} (2 older ones kept"
    )
    assert await trail(redis_url) == before


async def test_without_somewhere_for_the_entries_the_prune_asks_and_removes_nothing(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await history(redis_url)
    before = await trail(redis_url)

    code = await asyncio.to_thread(run_audit, settings(redis_url), prune())

    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--archive FILE" in err and "--no-archive" in err
    assert await trail(redis_url) == before


async def test_the_archive_directory_setting_is_where_a_hand_run_prune_archives_by_default(
    redis_url: str, tmp_path: Path
) -> None:
    done, _ = await history(redis_url)
    archives = tmp_path / "archives"

    made = NOW.replace(hour=10, minute=30, second=0, microsecond=0)
    with time_machine.travel(made, tick=False):
        code = await asyncio.to_thread(
            run_audit,
            settings(redis_url, audit_archive_dir=archives),
            prune(before=(LONG_AGO + timedelta(days=1)).date().isoformat()),
        )

    assert code == EXIT_OK
    [written] = archives.iterdir()
    assert written.name == (
        f"dlbot-audit-before-{(LONG_AGO + timedelta(days=1)).date().isoformat()}"
        f"-{made:%Y%m%dT%H%M%SZ}.jsonl"
    )
    assert {e.request_id for e in archived(written)} == {done}


async def test_an_existing_archive_is_refused_with_exit_1_and_nothing_is_removed(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await history(redis_url)
    before = await trail(redis_url)
    target = tmp_path / "taken.jsonl"
    target.write_text("last year's\n", encoding="utf-8")

    code = await asyncio.to_thread(run_audit, settings(redis_url), prune(archive=target))

    assert code == EXIT_FAILED
    assert capsys.readouterr().err == (
        f"dlbot audit prune: the archive {target} already exists; archives are never overwritten\n"
    )
    assert await trail(redis_url) == before and target.read_text("utf-8") == "last year's\n"


@pytest.mark.parametrize(
    ("before", "says"),
    [("last tuesday", "is not an ISO date"), ("2999-01-01", "is in the future")],
)
def test_a_before_that_is_no_past_moment_is_one_clear_line_and_exit_2(
    redis_url: str, capsys: pytest.CaptureFixture[str], before: str, says: str
) -> None:
    assert run_audit(settings(redis_url), prune(before=before, no_archive=True)) == EXIT_USAGE

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and before in err


async def test_archive_and_no_archive_together_are_a_usage_error(
    redis_url: str, tmp_path: Path
) -> None:
    code, out, err = await dlbot(
        redis_url, tmp_path, "audit", "prune", "--before", "2025-01-01",
        "--archive", "a.jsonl", "--no-archive",
    )  # fmt: skip

    assert code == 2 and out == "" and "not allowed with argument" in err


# Which requests are open: the request store says -------------------------------------------------


async def test_only_requests_the_store_holds_as_open_count_as_open(redis_url: str) -> None:
    done, waiting = await history(redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        still_open = still_open_in(RedisRequestStore(client))
        assert list(await still_open([done, waiting, "unknown", "not an id!"])) == [waiting]
    finally:
        await client.aclose()


@pytest.mark.parametrize("final", [GrantStatus.ENDED, GrantStatus.END_FAILED, GrantStatus.KEPT])
async def test_a_done_join_whose_time_boxed_membership_runs_counts_as_open_until_it_ends(
    redis_url: str, final: GrantStatus
) -> None:
    """Its prompts, renewals and end are audited under the join's id for weeks after the join
    is done: its trail stays whole until the membership ends."""
    done, waiting = await history(redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        store, grants = RedisRequestStore(client), RedisGrantStore(client)
        joined = await store.get(done)
        assert joined is not None
        running = Grant(
            id=done,
            member=joined.requester,
            group=joined.group,
            days=30,
            started_at=LONG_AGO,
            ends_at=LONG_AGO + timedelta(days=90),
        )
        await grants.create(running)
        still_open = still_open_in(store, grants)
        assert sorted(await still_open([done, waiting])) == sorted([done, waiting])

        await grants.replace(running.model_copy(update={"status": final, "version": 1}), 0)
        assert list(await still_open([done, waiting])) == [waiting]
    finally:
        await client.aclose()


async def test_an_access_review_counts_as_open_until_it_is_completed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        store, reviews = RedisRequestStore(client), RedisReviewStore(client)
        review = Review(
            id=new_request_id(),
            group=demo.FINANCE_EMEA,
            reviewers=(demo.approver(demo.MEGAN, "owner"),),
            members=(demo.ALEX,),
            started_at=LONG_AGO,
        )
        await reviews.create(review)
        still_open = still_open_in(store, reviews=reviews)
        assert list(await still_open([review.id])) == [review.id]

        done = review.model_copy(
            update={"status": ReviewStatus.COMPLETED, "completed_at": LONG_AGO, "version": 1}
        )
        await reviews.replace(done, 0)
        assert list(await still_open([review.id])) == []
    finally:
        await client.aclose()


# The daily job -----------------------------------------------------------------------------------


def test_retention_is_off_by_default_and_no_job_is_scheduled(redis_url: str) -> None:
    assert retention_jobs(settings(redis_url), redis.Redis.from_url(redis_url)) == []


def test_the_cut_off_is_midnight_utc_so_many_days_back() -> None:
    late_evening_in_new_york = datetime.fromisoformat("2025-04-02T23:30:00-04:00")  # 03:30Z
    assert retention_cut_off(late_evening_in_new_york, 30) == datetime(2025, 3, 4, tzinfo=UTC)


def test_an_archive_files_name_says_what_it_holds_and_when_it_was_made() -> None:
    made = datetime(2025, 4, 2, 3, 15, 7, tzinfo=UTC)
    name = archive_file(Path("/a"), datetime(2025, 3, 3, tzinfo=UTC), made)
    assert name == Path("/a/dlbot-audit-before-2025-03-03-20250402T031507Z.jsonl")


async def test_the_daily_prune_is_queued_once_however_many_workers_schedule_it(
    redis_url: str,
) -> None:
    queue = Queue.from_url(redis_url, name=QUEUE_NAME)
    client = redis.Redis.from_url(redis_url)
    try:
        wanted = settings(redis_url, audit_retention_days=30)
        workers = [Worker(queue, [], cron_jobs=retention_jobs(wanted, client)) for _ in range(3)]
        for worker in workers:
            await worker.schedule()

        assert await queue.count("incomplete") == 1
        [job] = workers[0].cron_jobs
        assert (job.function.__name__, job.cron) == (PRUNE_FUNCTION, PRUNE_CRON)
    finally:
        await queue.disconnect()
        await client.aclose()


async def test_the_daily_prune_archives_and_removes_what_is_older_than_the_retention(
    redis_url: str, tmp_path: Path
) -> None:
    midnight = datetime(2025, 3, 3, tzinfo=UTC)
    await append(
        redis_url,
        AuditEvent(at=midnight - timedelta(seconds=1), event="denied", request_id="old"),
        AuditEvent(at=midnight, event="denied", request_id="kept"),
    )
    client = redis.Redis.from_url(redis_url)
    try:
        wanted = settings(redis_url, audit_retention_days=30, audit_archive_dir=tmp_path)
        [job] = retention_jobs(wanted, client)
        with time_machine.travel(datetime(2025, 4, 2, 3, 15, tzinfo=UTC), tick=False):
            assert await job.function({}) == 1
    finally:
        await client.aclose()

    archive = tmp_path / "dlbot-audit-before-2025-03-03-20250402T031500Z.jsonl"
    assert [e.request_id for e in archived(archive)] == ["old"]
    after = await trail(redis_url)
    assert [e.request_id for e in after] == ["kept", ""]
    assert after[1].at == datetime(2025, 4, 2, 3, 15, tzinfo=UTC)
    assert after[1].detail == (
        f"retention: removed 1 entry older than {midnight.isoformat()}, archived to "
        f"{archive} (daily retention, DLBOT_AUDIT_RETENTION_DAYS=30)"
    )
    assert archive.read_text("utf-8") == archive_line(
        AuditEvent(at=midnight - timedelta(seconds=1), event="denied", request_id="old")
    )


async def test_a_daily_prune_that_cannot_archive_says_so_removes_nothing_and_recovers(
    redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await append(redis_url, AuditEvent(at=LONG_AGO, event="denied", request_id="old"))
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("", encoding="utf-8")
    client = redis.Redis.from_url(redis_url)
    try:
        wanted = settings(redis_url, audit_retention_days=30, audit_archive_dir=blocked)
        [job] = retention_jobs(wanted, client)
        with caplog.at_level(logging.ERROR, logger="bot.audit_retention"):
            assert await job.function({}) == 0
    finally:
        await client.aclose()

    assert [r.getMessage() for r in caplog.records][0].startswith(
        "audit retention: could not prune:"
    )
    assert [e.request_id for e in await trail(redis_url)] == ["old"]

    # Fixed the next day, the prune runs as if the failure had never been.
    client = redis.Redis.from_url(redis_url)
    try:
        fixed = settings(redis_url, audit_retention_days=30, audit_archive_dir=tmp_path / "ok")
        [job] = retention_jobs(fixed, client)
        assert await job.function({}) == 1
    finally:
        await client.aclose()


def test_an_empty_archive_directory_setting_means_none() -> None:
    assert Settings(_env_file=None, audit_archive_dir="").audit_archive_dir is None  # type: ignore[arg-type]


async def test_a_relative_archive_is_recorded_as_the_absolute_path_it_was_written_to(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plan may be finished by another process in another working directory.
    await history(redis_url)
    monkeypatch.chdir(tmp_path)

    code = await asyncio.to_thread(
        run_audit, settings(redis_url), prune(archive=Path("audit.jsonl"))
    )

    assert code == EXIT_OK
    [pruned] = [e for e in await trail(redis_url) if e.event == AuditAction.PRUNED]
    assert pruned.detail.endswith(f"archived to {tmp_path / 'audit.jsonl'}")


async def test_the_command_first_finishes_an_interrupted_prune_and_says_so_on_its_own_line(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await history(redis_url)
    first = tmp_path / "interrupted.jsonl"
    client = redis.Redis.from_url(redis_url)
    try:
        audit = RedisStreamAudit(client)
        still_open = still_open_in(RedisRequestStore(client))
        assert await audit.begin_prune(CUT, still_open=still_open, archive=first) is not None
    finally:
        await client.aclose()

    code = await asyncio.to_thread(
        run_audit, settings(redis_url), prune(archive=tmp_path / "second.jsonl")
    )

    assert code == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        f"finished an interrupted prune: removed 4 entries older than {CUT.isoformat()}, "
        f"archived to {first}",
        f"nothing to remove older than {CUT.isoformat()} (2 older ones kept: their requests "
        "are open or have newer events)",
    ]
    assert len(archived(first)) == 4 and not (tmp_path / "second.jsonl").exists()
