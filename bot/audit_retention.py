"""Audit retention on the real parts: the daily worker job and `dlbot audit prune`.

The rules (what may leave, the archive written first, the prune event, crash safety) are the
audit trail's own (approvals/audit.py); this module decides when and where: the cut-off, the
archive file's name, which requests are still open (the request store says), and the words.

- Daily, when DLBOT_AUDIT_RETENTION_DAYS > 0: a saq cron job keyed by name, so one run a day
  however many workers schedule it, at 03:15 UTC (away from the syncs at :05 and :35). The
  cut-off is midnight UTC that many days back, so each day's run removes whole days and the
  archive files line up with them. Archives go to DLBOT_AUDIT_ARCHIVE_DIR, or nowhere.
- `dlbot audit prune --before DATE (--archive FILE | --no-archive) [--dry-run]`: the same by
  hand. It says where the entries go on purpose: no archive is a choice, never a default
  (DLBOT_AUDIT_ARCHIVE_DIR, when set, is the default). Exit 0 done (also when nothing was old
  enough), 1 the prune could not be done (archive exists, Redis unreachable, the disk refused),
  2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import redis.asyncio as redis
from redis.exceptions import RedisError

from approvals import keys
from approvals.audit import (
    AuditError,
    PrunableAuditLog,
    PruneResult,
    RedisStreamAudit,
    StillOpen,
    entries,
)
from approvals.grant_store import GrantStore, RedisGrantStore
from approvals.models import OPEN_STATUSES
from approvals.redis_store import RedisRequestStore
from approvals.review_store import RedisReviewStore, ReviewStore
from approvals.reviews import ReviewStatus
from approvals.store import RequestStore
from bot.settings import Settings

if TYPE_CHECKING:
    from saq import CronJob

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

PRUNE_FUNCTION = "prune_audit"
PRUNE_CRON = "15 3 * * *"
# A first prune of years of trail reads it whole; an hour is a hung call, not a long trail.
PRUNE_TIMEOUT_SECONDS = 3600
# Who a hand-run prune is recorded as (the prune event's actor).
ADMIN_PRUNE_ACTOR = "admin (dlbot audit prune)"
# Requests looked up at once when asking the store which are still open.
_LOOKUPS = 100


def still_open_in(
    store: RequestStore, grants: GrantStore | None = None, reviews: ReviewStore | None = None
) -> StillOpen:
    """Which of the given ids are still open: a request the store holds as pending or approved;
    with `grants`, a join that made a time-boxed membership not ended yet (its prompts,
    renewals and end keep coming under the join's id); with `reviews`, an access review not
    completed. Their trails must stay whole until they end. An id none of them knows, or that
    cannot be a request id, is not open: nothing would keep it."""

    async def still_open(request_ids: Collection[str]) -> Collection[str]:
        ids = [i for i in request_ids if keys.is_request_id(i)]
        found: list[str] = []
        for first in range(0, len(ids), _LOOKUPS):
            chunk = ids[first : first + _LOOKUPS]
            requests = await asyncio.gather(*(store.get(i) for i in chunk))
            found += [r.id for r in requests if r is not None and r.status in OPEN_STATUSES]
            if grants is not None:
                rest = [i for i in chunk if i not in found]
                running = await asyncio.gather(*(grants.get(i) for i in rest))
                # A kept or failed-to-end grant is as final as an ended one.
                found += [g.id for g in running if g is not None and not g.is_final]
            if reviews is not None:
                rest = [i for i in chunk if i not in found]
                pending = await asyncio.gather(*(reviews.get(i) for i in rest))
                found += [r.id for r in pending if r is not None and r.status is ReviewStatus.OPEN]
        return found

    return still_open


def retention_cut_off(now: datetime, days: int) -> datetime:
    """Midnight UTC `days` days before `now`'s date: whole days leave."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def archive_file(directory: Path, before: datetime, now: datetime) -> Path:
    """One new file per prune: what it holds (older than `before`) and when it was made."""
    made = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"dlbot-audit-before-{before.astimezone(UTC):%Y-%m-%d}-{made}.jsonl"
    return directory.absolute() / name  # absolute, as it is recorded and may be finished elsewhere


async def prune_by_retention(
    audit: PrunableAuditLog,
    store: RequestStore,
    *,
    days: int,
    archive_dir: Path | None,
    grants: GrantStore | None = None,
    reviews: ReviewStore | None = None,
) -> PruneResult:
    """The daily prune: entries older than `days` days, archived to `archive_dir` if set."""
    now = datetime.now(UTC)
    before = retention_cut_off(now, days)
    return await audit.prune(
        before,
        still_open=still_open_in(store, grants, reviews),
        archive=archive_file(archive_dir, before, now) if archive_dir is not None else None,
        by=f"daily retention, DLBOT_AUDIT_RETENTION_DAYS={days}",
    )


def retention_jobs(settings: Settings, redis_client: redis.Redis) -> list[CronJob[Any]]:
    """The daily prune as a saq cron job, or none when retention is off (the default)."""
    from saq import CronJob  # here: the admin commands importing this module need no saq

    days = settings.audit_retention_days
    if days <= 0:
        return []
    audit = RedisStreamAudit(redis_client)
    store = RedisRequestStore(redis_client)
    grants = RedisGrantStore(redis_client)
    reviews = RedisReviewStore(redis_client)

    async def run(ctx: dict[str, Any]) -> int:
        try:
            result = await prune_by_retention(
                audit,
                store,
                days=days,
                archive_dir=settings.audit_archive_dir,
                grants=grants,
                reviews=reviews,
            )
        except (AuditError, OSError) as exc:
            # Loud, and nothing more was removed; the next day's run tries again.
            log.error("audit retention: could not prune: %s", getattr(exc, "message", exc))
            return 0
        return result.removed + sum(f.removed for f in result.finished)

    run.__name__ = run.__qualname__ = PRUNE_FUNCTION  # saq keys cron jobs by name
    # One attempt: a failed prune removed nothing more, and tomorrow's run starts over.
    return [CronJob(run, cron=PRUNE_CRON, timeout=PRUNE_TIMEOUT_SECONDS, retries=1)]


# dlbot audit prune -------------------------------------------------------------------------------


def add_prune_arguments(prune: argparse.ArgumentParser) -> None:
    prune.add_argument(
        "--before",
        required=True,
        metavar="DATE",
        help="remove entries older than this ISO date or date-time (UTC unless given)",
    )
    where = prune.add_mutually_exclusive_group()
    where.add_argument(
        "--archive",
        type=Path,
        metavar="FILE",
        default=None,
        help="a new file to write the removed entries to first (default: a new file in "
        "DLBOT_AUDIT_ARCHIVE_DIR)",
    )
    where.add_argument(
        "--no-archive", action="store_true", help="remove the entries without keeping a copy"
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="say what would be removed; change nothing"
    )


def run_prune(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.redis_url:
        return _fail(
            "dlbot: DLBOT_REDIS_URL is empty: point it at the Redis the bots and workers use",
            EXIT_USAGE,
        )
    now = datetime.now(UTC)
    before_text: str = args.before
    try:
        before = _parse_moment(before_text)
    except ValueError:
        return _fail(
            f"dlbot audit prune: --before {before_text!r} is not an ISO date or date-time "
            "(e.g. 2025-03-01 or 2025-03-01T09:30:00Z)",
            EXIT_USAGE,
        )
    if before > now:
        return _fail(
            f"dlbot audit prune: --before {before_text} is in the future; only entries older "
            "than a past moment can be pruned",
            EXIT_USAGE,
        )
    dry_run = bool(getattr(args, "dry_run", False))
    given: Path | None = getattr(args, "archive", None)
    # Absolute: the path is recorded in the prune event, and in the plan another process may
    # finish from another working directory.
    archive = given.absolute() if given is not None else None
    if archive is None and not getattr(args, "no_archive", False):
        if settings.audit_archive_dir is not None:
            archive = archive_file(settings.audit_archive_dir, before, now)
        elif not dry_run:
            return _fail(
                "dlbot audit prune: say where the removed entries go: --archive FILE (or set "
                "DLBOT_AUDIT_ARCHIVE_DIR), or --no-archive to remove them without a copy",
                EXIT_USAGE,
            )

    async def run() -> int:
        client = redis.Redis.from_url(settings.redis_url)
        try:
            return await prune_audit(
                RedisStreamAudit(client),
                RedisRequestStore(client),
                before,
                archive=archive,
                dry_run=dry_run,
                out=sys.stdout,
                grants=RedisGrantStore(client),
                reviews=RedisReviewStore(client),
            )
        except (RedisError, ConnectionError) as exc:
            return _fail(f"dlbot: cannot reach Redis (DLBOT_REDIS_URL): {exc}", EXIT_FAILED)
        finally:
            await client.aclose()

    return asyncio.run(run())


async def prune_audit(
    audit: PrunableAuditLog,
    store: RequestStore,
    before: datetime,
    *,
    archive: Path | None,
    dry_run: bool,
    out: TextIO,
    grants: GrantStore | None = None,
    reviews: ReviewStore | None = None,
) -> int:
    """The command on the workflow's own types (tests drive this directly): prune, and say
    what happened in a line per prune (an interrupted one finished first gets its own)."""
    try:
        result = await audit.prune(
            before,
            still_open=still_open_in(store, grants, reviews),
            archive=archive,
            dry_run=dry_run,
            actor_id=ADMIN_PRUNE_ACTOR,
        )
    except AuditError as exc:
        return _fail(f"dlbot audit prune: {exc.message}", EXIT_FAILED)
    except OSError as exc:
        return _fail(
            f"dlbot audit prune: cannot write the archive: {exc}; nothing was removed",
            EXIT_FAILED,
        )
    for finished in result.finished:
        out.write(_finished_line(finished))
    out.write(_result_line(result, archive))
    return EXIT_OK


def _finished_line(result: PruneResult) -> str:
    where = f", archived to {result.archive}" if result.archive is not None else ""
    if result.dry_run:
        return (
            f"an interrupted prune of {entries(result.removed)} older than "
            f"{_shown(result.before)}{where} is pending: a real run finishes it first\n"
        )
    return (
        f"finished an interrupted prune: removed {entries(result.removed)} older than "
        f"{_shown(result.before)}{where}\n"
    )


def _result_line(result: PruneResult, archive: Path | None) -> str:
    kept = (
        f" ({result.kept} older ones kept: their requests are open or have newer events)"
        if result.kept
        else ""
    )
    older = f"older than {_shown(result.before)}"
    if result.dry_run:
        where = f", archiving them to {archive}" if archive is not None and result.removed else ""
        return f"would remove {entries(result.removed)} {older}{where}{kept}\n"
    if not result.removed:
        return f"nothing to remove {older}{kept}\n"
    where = f", archived to {result.archive}" if result.archive is not None else ", not archived"
    return f"removed {entries(result.removed)} {older}{where}{kept}\n"


def _parse_moment(text: str) -> datetime:
    # The same reading as `dlbot audit export --since`: a date is midnight UTC.
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code
