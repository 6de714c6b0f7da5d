"""The audit trail: who asked, who decided, what ran in Exchange, with what result.

The workflow only ever appends. On Redis the trail is one stream, kept whole unless the operator
asks for retention (DLBOT_AUDIT_RETENTION_DAYS, `dlbot audit prune`); an audit trail that loses
entries silently is worse than none, so `prune` follows four rules:

- Nothing newer than the cut-off leaves, whatever its request.
- A request's events leave together, once the request is final and its newest event is older
  than the cut-off; never while it is open. `dlbot requests show` then has a request's whole
  trail or none of it, and each archive holds whole trails. Events of no request (the prune
  events themselves) leave one by one. An entry that cannot be read is kept.
- With an archive, what leaves is first written there (JSON lines, exactly as `dlbot audit
  export --format jsonl` writes them), fsynced, and only then removed.
- Every removal appends a `pruned` event of its own saying how many, older than when, and where
  they went; it is logged too.

On Redis a prune survives a crash at any point without losing or duplicating an entry, through a
write-ahead plan kept in Redis beside the stream (plan_key):

1. plan: the exact stream ids chosen, the archive's file name and a token, stored only if no
   other plan is there (one prune at a time);
2. archive: the chosen entries written to a hidden file in the archive's directory, fsynced,
   then linked to its name (never over an existing file) and the directory fsynced, so the
   archive either exists whole or not at all;
3. trim: one script removes exactly the planned ids (XDEL, never a range: entries appended
   concurrently, or by a replica with a skewed clock, sit among them), appends the prune event
   and deletes the plan, atomically, and only while the plan is still the one with our token.

Every prune first finishes a plan it finds (left by a crash, or by a prune running right now):
the archive is written from the stream unless it already exists whole, then the same script
trims. Two processes finishing one plan write identical files under one name and only one of
them trims. With several workers, DLBOT_AUDIT_ARCHIVE_DIR is best one shared directory, or a
plan left by a crashed worker is archived on the disk of whoever finishes it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import redis.asyncio as redis
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.typing import EncodableT, FieldT

from approvals import keys
from approvals.models import ApprovalRequest
from approvals.redis_calls import resolved

log = logging.getLogger(__name__)


class AuditAction(StrEnum):
    """The events the workflow writes; AuditEvent.event stays a plain string so that an export
    of an older or newer trail still reads."""

    SUBMITTED = "submitted"  # a request was stored (detail: who was asked, or why none)
    CARDS_SENT = "cards_sent"  # approval cards reached these approvers
    SENT_TO_FALLBACK = "sent_to_fallback"  # no owner reachable: the fallback approvers asked
    UNREACHABLE = "unreachable"  # nobody could be reached in Teams; the admins were alerted
    APPROVED = "approved"  # by an approver, or automatically (detail: why)
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXECUTED = "executed"  # the change is made in Exchange (result: added / already_member)
    ATTEMPT_FAILED = "attempt_failed"  # a transient Exchange failure; will be retried
    FAILED = "failed"  # the change failed for good
    REMINDED = "reminded"  # nobody decided in time: the approvers were sent a fresh card
    # Nobody decided in time: the fallback approvers were asked too (result "skipped" when there
    # was nobody to add: none configured, or all asked already).
    ESCALATED = "escalated"
    EXPIRED = "expired"  # nobody decided in time: the request ended
    # Time-boxed membership (request_id: the grant, i.e. the JOIN that made it; detail: until when)
    GRANTED = "granted"  # the member is on the list until a date
    RENEWAL_PROMPTED = "renewal_prompted"  # the member was asked whether to renew
    RENEWED = "renewed"  # a new term (detail: until when, approved by whom or why not needed)
    # The time ran out and the member was removed (result "removed"/"not_a_member"), or they
    # left first ("left"), or Exchange refused ("failed": e.g. synced from on-premises).
    MEMBERSHIP_ENDED = "membership_ended"
    # The removal at the end was cancelled (actor: who cancelled it): a member for good.
    MEMBERSHIP_KEPT = "membership_kept"
    # A renewal prompt Teams never took (result "failed" after every retry, "unreachable").
    RENEWAL_PROMPT_UNDELIVERED = "renewal_prompt_undelivered"
    # Owner access reviews (request_id: the review, kind "review"; approvals.review_service)
    REVIEW_STARTED = "review_started"  # detail: how many members, who was asked
    REVIEW_SKIPPED = "review_skipped"  # no review (result: "dir_synced" / "no_members")
    REVIEW_DECIDED = "review_decided"  # an owner's choices (detail: how many keep / remove)
    REVIEW_COMPLETED = "review_completed"  # result: kept N, removed M; detail: who is removed
    REVIEW_REMINDED = "review_reminded"
    REVIEW_ESCALATED = "review_escalated"  # the fallback approvers asked (result "skipped": none)
    # Nobody finished it in time: undecided members kept (result: kept N, removed M as decided;
    # detail: who is removed, and who was told).
    REVIEW_CLOSED_UNANSWERED = "review_closed_unanswered"
    # Retention removed old events (request_id "", result: how many; detail: older than when,
    # archived where, and by whom).
    PRUNED = "pruned"


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    event: str
    request_id: str
    actor_id: str = ""  # the Entra object id of who did it ("" for dlbot itself)
    list_id: str = ""
    list_address: str = ""
    kind: str = ""
    cmdlet: str = ""  # the Exchange cmdlet run, for execution events
    result: str = ""
    exchange_request_id: str = ""  # Exchange's client-request-id, to find the call in its logs
    detail: str = ""

    @classmethod
    def of(
        cls,
        event: AuditAction,
        request: ApprovalRequest,
        *,
        at: datetime,
        actor_id: str = "",
        cmdlet: str = "",
        result: str = "",
        exchange_request_id: str = "",
        detail: str = "",
    ) -> AuditEvent:
        """An event about `request`, with its list and kind filled in."""
        return cls(
            at=at,
            event=event.value,
            request_id=request.id,
            actor_id=actor_id,
            list_id=request.group.object_id,
            list_address=request.group.address,
            kind=request.kind.value,
            cmdlet=cmdlet,
            result=result,
            exchange_request_id=exchange_request_id,
            detail=detail,
        )


def archive_line(event: AuditEvent) -> str:
    """One event as a line of an archive: what `dlbot audit export --format jsonl` writes."""
    return event.model_dump_json() + "\n"


# Given request ids, those whose requests are still open (pending or approved): their events
# stay. A request the store does not know is not open.
StillOpen = Callable[[Collection[str]], Awaitable[Collection[str]]]


@dataclass(frozen=True)
class PruneResult:
    before: datetime
    removed: int  # entries removed (in a dry run: that would be)
    archive: Path | None  # where they were written first; None: nowhere, or nothing removed
    kept: int  # older than the cut-off, kept: their request is open or has newer events
    dry_run: bool = False
    # Interrupted prunes found and finished first (in a dry run: that a real run would finish).
    finished: tuple[PruneResult, ...] = field(default=())


class AuditError(Exception):
    """A prune that cannot go on; nothing more was removed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ArchiveExists(AuditError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"the archive {path} already exists; archives are never overwritten")
        self.path = path


class ArchiveMismatch(AuditError):
    """The file an interrupted prune planned as its archive is there but is not that archive."""

    def __init__(self, path: Path, expected: int, found: int) -> None:
        super().__init__(
            f"{path} should hold the {expected} entries an interrupted prune archived, but "
            f"holds {found} lines; nothing was removed: move it aside and run the prune again"
        )
        self.path = path


class PruneBusy(AuditError):
    def __init__(self) -> None:
        super().__init__("other prunes kept starting first; nothing of this one was removed")


class AuditLog(Protocol):
    async def append(self, event: AuditEvent) -> None: ...

    async def read(self, since: datetime | None = None) -> list[AuditEvent]:
        """Every event (at or after `since`), in the order they were appended."""
        ...


class PrunableAuditLog(AuditLog, Protocol):
    """An AuditLog that retention can cut (the workflow itself only ever needs AuditLog)."""

    async def prune(
        self,
        before: datetime,
        *,
        still_open: StillOpen,
        archive: Path | None = None,
        dry_run: bool = False,
        actor_id: str = "",
        by: str = "",
    ) -> PruneResult:
        """Remove the events older than `before` that the module's rules let go, first writing
        them to `archive` (a new file) when given, and append a `pruned` event saying so
        (`actor_id` and `by`, who asked, go into it). A dry run changes nothing and says what
        a real run would remove. ArchiveExists, with nothing removed, when there is something
        to remove and `archive` is there already; OSError, with nothing removed, when it
        cannot be written."""
        ...


def entries(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"


def pruned_event(
    *, removed: int, before: datetime, archive: Path | None, actor_id: str, by: str
) -> AuditEvent:
    where = f"archived to {archive}" if archive is not None else "not archived"
    detail = f"retention: removed {entries(removed)} older than {before.isoformat()}, {where}"
    return AuditEvent(
        at=datetime.now(UTC),
        event=AuditAction.PRUNED.value,
        request_id="",
        actor_id=actor_id,
        result=str(removed),
        detail=f"{detail} ({by})" if by else detail,
    )


def _aware(moment: datetime) -> datetime:
    # The workflow writes aware times; a naive one (an old or hand-made entry) is taken as UTC
    # rather than crash the comparison.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


K = TypeVar("K")  # what names an entry: a list position, or a stream id


async def _choose(
    entries: Sequence[tuple[K, AuditEvent | None]], before: datetime, still_open: StillOpen
) -> tuple[list[K], int]:
    """The keys of the entries that may leave (in trail order), and how many entries older than
    `before` stay. `entries` are (key, event), the event None where the entry cannot be read."""
    newest: dict[str, datetime] = {}
    for _, event in entries:
        if event is not None and event.request_id:
            at = _aware(event.at)
            newest[event.request_id] = max(newest.get(event.request_id, at), at)
    candidates = [request_id for request_id, at in newest.items() if at < before]
    leaving = set(candidates) - set(await still_open(candidates) if candidates else ())
    chosen: list[K] = []
    older = 0
    for key, event in entries:
        if event is None or _aware(event.at) >= before:
            continue
        older += 1
        if not event.request_id or event.request_id in leaving:
            chosen.append(key)
    return chosen, older - len(chosen)


async def _refuse_existing(archive: Path | None) -> None:
    if archive is not None and await asyncio.to_thread(archive.exists):
        raise ArchiveExists(archive)


def _log_pruned(result: PruneResult, event: AuditEvent) -> None:
    log.info(
        "audit retention: %s",
        event.detail,
        extra={
            "removed": result.removed,
            "before": result.before.isoformat(),
            "archive": str(result.archive or ""),
            "kept": result.kept,
        },
    )


class InMemoryAudit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._pruning = asyncio.Lock()  # one prune at a time: it removes by position

    async def append(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def read(self, since: datetime | None = None) -> list[AuditEvent]:
        return [e for e in self.events if since is None or e.at >= since]

    async def prune(
        self,
        before: datetime,
        *,
        still_open: StillOpen,
        archive: Path | None = None,
        dry_run: bool = False,
        actor_id: str = "",
        by: str = "",
    ) -> PruneResult:
        before = _aware(before)
        async with self._pruning:
            # Positions stay valid while we wait: appends only ever go to the end.
            chosen, kept = await _choose(list(enumerate(self.events)), before, still_open)
            if chosen:
                await _refuse_existing(archive)
            if dry_run or not chosen:
                return PruneResult(before, len(chosen), None, kept, dry_run)
            leaving = [self.events[i] for i in chosen]
            if archive is not None:
                await asyncio.to_thread(write_archive, archive, leaving)
            gone = set(chosen)
            self.events = [e for i, e in enumerate(self.events) if i not in gone]
            event = pruned_event(
                removed=len(leaving), before=before, archive=archive, actor_id=actor_id, by=by
            )
            self.events.append(event)
        result = PruneResult(before, len(leaving), archive, kept)
        _log_pruned(result, event)
        return result


# XRANGE page size when reading the whole trail back; ids per pipeline or XDEL when pruning.
_PAGE = 1000
_CHUNK = 500
# A prune that finds another's plan finishes that one and chooses again; this many times.
_PLAN_ATTEMPTS = 3

# KEYS: the plan. ARGV: its fields and values. Stores the plan unless one is there (1 / 0).
_STORE_PLAN = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS: the stream, the plan. ARGV: the plan's token, then the prune event's fields and values.
# Removes exactly the planned ids, appends the event and drops the plan, all or nothing; -1 (and
# nothing) when the plan is no longer this one (another process finished it).
_TRIM = """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then
  return -1
end
local ids = cjson.decode(redis.call('HGET', KEYS[2], 'ids'))
local removed = 0
for first = 1, #ids, 500 do
  removed = removed + redis.call('XDEL', KEYS[1], unpack(ids, first, math.min(first + 499, #ids)))
end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('DEL', KEYS[2])
return removed
"""


# KEYS: the plan. ARGV: its token. Drops the plan if it is still this one.
_ABANDON = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def plan_key(stream: str) -> str:
    """Where a stream's prune plan lives: in the stream's Redis Cluster slot, so one script can
    change both (a key without braces hashes whole; "{<stream>}…" hashes that same text)."""
    return (stream if "{" in stream else "{" + stream + "}") + ":retention-plan"


@dataclass(frozen=True)
class PrunePlan:
    """What one prune on Redis removes: exactly these stream ids, archived to `archive` first."""

    token: str
    before: datetime
    ids: tuple[str, ...]
    archive: Path | None
    kept: int
    actor_id: str = ""
    by: str = ""

    def fields(self) -> dict[str, str]:
        return {
            "token": self.token,
            "before": self.before.isoformat(),
            "ids": json.dumps(self.ids),
            "archive": str(self.archive) if self.archive is not None else "",
            "kept": str(self.kept),
            "actor_id": self.actor_id,
            "by": self.by,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> PrunePlan:
        return cls(
            token=fields["token"],
            before=datetime.fromisoformat(fields["before"]),
            ids=tuple(json.loads(fields["ids"])),
            archive=Path(fields["archive"]) if fields.get("archive") else None,
            kept=int(fields.get("kept") or 0),
            actor_id=fields.get("actor_id", ""),
            by=fields.get("by", ""),
        )


class RedisStreamAudit:
    """AuditLog on one Redis stream; each event is one entry whose fields are the event's."""

    def __init__(self, redis_client: redis.Redis, *, stream: str = keys.AUDIT_STREAM) -> None:
        self._redis = redis_client
        self._stream = stream
        self._plan_key = plan_key(stream)
        self._store_plan = redis_client.register_script(_STORE_PLAN)
        self._trim = redis_client.register_script(_TRIM)
        self._abandon = redis_client.register_script(_ABANDON)

    async def append(self, event: AuditEvent) -> None:
        # No MAXLEN: only a prune removes entries, and only as the module docstring says.
        await resolved(self._redis.xadd(self._stream, _fields(event)))

    async def read(self, since: datetime | None = None) -> list[AuditEvent]:
        # Filtered by the events' own time, not the stream ids (the Redis server's clock). An
        # entry that cannot be read fails the read: an export must not skip it unnoticed.
        events = (_event(fields, strict=True) for _, fields in await self._raw_entries())
        return [e for e in events if e is not None and (since is None or e.at >= since)]

    async def prune(
        self,
        before: datetime,
        *,
        still_open: StillOpen,
        archive: Path | None = None,
        dry_run: bool = False,
        actor_id: str = "",
        by: str = "",
    ) -> PruneResult:
        before = _aware(before)
        finished: list[PruneResult] = []
        pending = await self.pending_plan()
        if pending is not None:
            if dry_run:
                finished.append(
                    PruneResult(
                        pending.before,
                        len(pending.ids),
                        pending.archive,
                        pending.kept,
                        dry_run=True,
                    )
                )
            else:
                finished += await self._finish(pending)
        for _ in range(_PLAN_ATTEMPTS):
            if dry_run:
                ids, kept = await _choose(await self._entries(), before, still_open)
                if ids:
                    await _refuse_existing(archive)
                # What the pending plan holds is counted there, not twice.
                planned = set(pending.ids) if pending is not None else set()
                ids = [i for i in ids if i not in planned]
                return PruneResult(before, len(ids), None, kept, True, tuple(finished))
            plan = await self.begin_prune(
                before, still_open=still_open, archive=archive, actor_id=actor_id, by=by
            )
            if plan is None:  # another prune's plan came first: finish it, then choose again
                other = await self.pending_plan()
                if other is not None:
                    finished += await self._finish(other)
                continue
            if not plan.ids:
                return PruneResult(before, 0, None, plan.kept, finished=tuple(finished))
            # Another process may finish this plan while we do (it found it pending): then it
            # removed exactly these entries, and its trim wrote the prune event.
            await self._finish(plan)
            return PruneResult(
                before, len(plan.ids), plan.archive, plan.kept, finished=tuple(finished)
            )
        raise PruneBusy()

    # The steps of a prune on Redis; prune() runs them in order, and a test stops between them
    # as a crash would.

    async def begin_prune(
        self,
        before: datetime,
        *,
        still_open: StillOpen,
        archive: Path | None = None,
        actor_id: str = "",
        by: str = "",
    ) -> PrunePlan | None:
        """Step 1: choose what leaves and store the plan. A plan with no ids when nothing may
        leave (it is not stored); None when another prune's plan is there."""
        ids, kept = await _choose(await self._entries(), _aware(before), still_open)
        plan = PrunePlan(
            token=secrets.token_hex(8),
            before=_aware(before),
            ids=tuple(ids),
            archive=archive,
            kept=kept,
            actor_id=actor_id,
            by=by,
        )
        if not ids:
            return plan
        # Checked only now: a re-run of the very command whose prune was interrupted names the
        # archive that prune wrote, and finds nothing more to remove.
        await _refuse_existing(archive)
        args = [part for pair in plan.fields().items() for part in pair]
        stored = await self._store_plan(keys=[self._plan_key], args=args)
        return plan if int(stored) == 1 else None

    async def write_archive(self, plan: PrunePlan) -> int:
        """Step 2: the planned entries into the plan's archive (if any), durably and whole; an
        archive already there whole (an earlier attempt's) is kept as it is."""
        if plan.archive is None or not plan.ids:
            return 0
        events = [event for _, event in await self._entries_at(plan.ids) if event is not None]
        if len(events) < len(plan.ids):
            current = await self.pending_plan()
            if current is None or current.token != plan.token:
                return 0  # another process finished this plan while we read: archived there
        return await asyncio.to_thread(write_archive, plan.archive, events)

    async def trim(self, plan: PrunePlan) -> int:
        """Step 3: remove the planned entries, append the prune event, drop the plan, in one
        script; how many were removed, or -1 when another process finished this plan."""
        if not plan.ids:
            return 0
        event = pruned_event(
            removed=len(plan.ids),
            before=plan.before,
            archive=plan.archive,
            actor_id=plan.actor_id,
            by=plan.by,
        )
        args: list[EncodableT] = [plan.token]
        for name, value in _fields(event).items():
            args += [name, value]
        removed = int(await self._trim(keys=[self._stream, self._plan_key], args=args))
        if removed >= 0:
            _log_pruned(PruneResult(plan.before, removed, plan.archive, plan.kept), event)
        return removed

    async def pending_plan(self) -> PrunePlan | None:
        """The plan of a prune that has not finished (crashed, or running now), if any."""
        fields = await resolved(self._redis.hgetall(self._plan_key))
        if not fields:
            return None
        return PrunePlan.from_fields({_decoded(k): _decoded(v) for k, v in fields.items()})

    async def _finish(self, plan: PrunePlan) -> list[PruneResult]:
        """Steps 2 and 3 of a stored plan: [what it removed], or [] when another process
        finished it first."""
        try:
            await self.write_archive(plan)
        except OSError:
            # Nothing was removed and no archive exists: a plan kept now would fail every
            # prune after it (a full disk, a wrong DLBOT_AUDIT_ARCHIVE_DIR) until someone made
            # its exact file writable, so it is dropped and the next prune chooses afresh.
            if plan.archive is not None and not await asyncio.to_thread(plan.archive.exists):
                await self._abandon(keys=[self._plan_key], args=[plan.token])
            raise
        removed = await self.trim(plan)
        if removed < 0:
            return []
        return [PruneResult(plan.before, removed, plan.archive, plan.kept)]

    async def _entries(self) -> list[tuple[str, AuditEvent | None]]:
        """Every entry in stream order: (id, event), the event None where it cannot be read."""
        return [(entry_id, _event(fields)) for entry_id, fields in await self._raw_entries()]

    async def _raw_entries(self) -> list[tuple[str, dict[Any, Any]]]:
        entries: list[tuple[str, dict[Any, Any]]] = []
        start = "-"
        while True:
            page = await resolved(self._redis.xrange(self._stream, min=start, count=_PAGE))
            for entry_id, fields in page:
                entries.append((_decoded(entry_id), fields))
                start = "(" + _decoded(entry_id)
            if len(page) < _PAGE:
                return entries

    async def _entries_at(self, ids: Sequence[str]) -> list[tuple[str, AuditEvent | None]]:
        """The entries with these ids that are still there, in the order given."""
        entries: list[tuple[str, AuditEvent | None]] = []
        for first in range(0, len(ids), _CHUNK):
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry_id in ids[first : first + _CHUNK]:
                    pipe.xrange(self._stream, min=entry_id, max=entry_id)
                pages = await pipe.execute()
            for page in pages:
                entries += [(_decoded(entry_id), _event(fields)) for entry_id, fields in page]
        return entries


def write_archive(path: Path, events: Sequence[AuditEvent]) -> int:
    """Write `events` as JSON lines to a new file at `path`, durably and whole, never over
    another file; how many were written. A file already at `path` with exactly that many lines
    is taken as this same archive written by an earlier attempt; any other is ArchiveMismatch.

    Blocking (file I/O and fsync): call it in a thread from async code."""
    if path.exists():
        _check_whole(path, len(events))
        return len(events)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its final name (same file system, so the link below is atomic), hidden
    # and unique, readable by the owner only: an audit trail holds people's names and reasons.
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as file:
            file.writelines(archive_line(event) for event in events)
            file.flush()
            os.fsync(file.fileno())
        _publish(partial, path, len(events))
        _fsync_directory(path.parent)
    finally:
        partial.unlink(missing_ok=True)
    return len(events)


def _publish(partial: Path, path: Path, count: int) -> None:
    """Give the written file its name, unless a file has that name already (a concurrent
    finisher of the same plan: then it must be the same archive)."""
    try:
        os.link(partial, path)  # unlike rename, never replaces a file already there
    except FileExistsError:
        _check_whole(path, count)
    except OSError as exc:
        # File systems without hard links (some network shares): a rename after a check,
        # open to a race only with another finisher of this same plan.
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if path.exists():
            _check_whole(path, count)
        else:
            partial.rename(path)


def _check_whole(path: Path, expected: int) -> None:
    with path.open("rb") as file:
        found = sum(1 for _ in file)
    if found != expected:
        raise ArchiveMismatch(path, expected, found)


def _fsync_directory(directory: Path) -> None:
    # The new name is durable only once its directory is.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fields(event: AuditEvent) -> dict[FieldT, EncodableT]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else str(value)
        for name, value in event.model_dump().items()
    }


def _event(fields: dict[Any, Any], *, strict: bool = False) -> AuditEvent | None:
    """The event an entry holds; None when it cannot be read, unless `strict` (then the
    ValidationError)."""
    try:
        return AuditEvent.model_validate(
            {_decoded(name): _decoded(value) for name, value in fields.items()}
        )
    except ValidationError:
        if strict:
            raise
        return None


def _decoded(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


if TYPE_CHECKING:  # mypy proves both logs satisfy the ports

    def _conforms(redis_client: redis.Redis) -> tuple[PrunableAuditLog, PrunableAuditLog]:
        return InMemoryAudit(), RedisStreamAudit(redis_client)
