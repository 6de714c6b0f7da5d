"""`dlbot audit export` and `dlbot requests list|show|cancel`: the admin's view of the workflow.

Both read and write the same Redis as the bots and workers (DLBOT_REDIS_URL), and may run while
they do: reads take what is there, and the one write (an admin cancel) is a compare-and-set
through ApprovalService like every other change of a request. Exit codes: 0 done, 1 nothing to
do it to (unknown request, a final request, an address Exchange does not know, Redis
unreachable), 2 usage (bad --since, no DLBOT_REDIS_URL, Exchange not configured for --requester
by address).

The audit trail is exported whole: nothing here filters the stream beyond --since. `dlbot audit
prune` (bot/audit_retention.py) is the one command that removes entries, archiving them first.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import redis.asyncio as redis
from redis.exceptions import RedisError

from approvals.audit import AuditEvent, AuditLog, RedisStreamAudit
from approvals.errors import InvalidTransition, RequestNotFound
from approvals.models import OPEN_STATUSES, ApprovalRequest, ListRef, NewList, Person
from approvals.ports import ApproverSet, WriteResult
from approvals.redis_store import RedisRequestStore
from approvals.redraws import RedisRedrawLedger
from approvals.service import ApprovalService
from approvals.store import RequestStore
from bot.audit_retention import add_prune_arguments, run_prune
from bot.settings import Settings

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2

FORMATS = ("jsonl", "csv")
COLUMNS = tuple(AuditEvent.model_fields)  # every AuditEvent field, in declaration order
DEFAULT_LIMIT = 50

NO_REDIS = "dlbot: DLBOT_REDIS_URL is empty: point it at the Redis the bots and workers use"


def register(commands: Any) -> None:
    """Add `audit` and `requests` to the `dlbot` sub-command parsers (argparse's
    _SubParsersAction), with the argument names run_audit and run_requests read."""
    audit = commands.add_parser("audit", help="the audit trail: export or prune it")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser(
        "export", help="every audit event as JSON lines or CSV, oldest first"
    )
    export.add_argument("--since", default=None, help="ISO date or date-time (UTC unless given)")
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument("--out", type=Path, default=None, help="write here (default: stdout)")
    add_prune_arguments(
        audit_commands.add_parser(
            "prune", help="remove old entries of finished requests, archiving them first"
        )
    )

    requests = commands.add_parser("requests", help="approval requests: list, show, cancel")
    request_commands = requests.add_subparsers(dest="requests_command", required=True)
    listing = request_commands.add_parser("list", help="requests, newest first")
    listing.add_argument("--status", choices=("open", "all"), default="open")
    listing.add_argument("--requester", default=None, help="Entra object id or address")
    listing.add_argument("--limit", type=int, default=DEFAULT_LIMIT)
    show = request_commands.add_parser("show", help="one request and its audit events")
    show.add_argument("id")
    cancel = request_commands.add_parser("cancel", help="cancel an open request as an admin")
    cancel.add_argument("id")
    cancel.add_argument("--reason", default="", help="told to the requester and the approvers")


# Entry points (bot/cli.py) -----------------------------------------------------------------------


def run_audit(settings: Settings, args: argparse.Namespace) -> int:
    if getattr(args, "audit_command", "export") == "prune":
        return run_prune(settings, args)
    if not settings.redis_url:
        return _fail(NO_REDIS, EXIT_USAGE)
    since_text = getattr(args, "since", None)
    try:
        since = parse_since(since_text) if since_text else None
    except ValueError:
        return _fail(
            f"dlbot audit export: --since {since_text!r} is not an ISO date or date-time "
            "(e.g. 2025-03-01 or 2025-03-01T09:30:00Z)",
            EXIT_USAGE,
        )
    fmt = getattr(args, "format", "jsonl") or "jsonl"
    if fmt not in FORMATS:
        return _fail(f"dlbot audit export: --format must be jsonl or csv, not {fmt!r}", EXIT_USAGE)
    out: Path | None = getattr(args, "out", None)

    events: list[AuditEvent] = []

    async def read(client: redis.Redis) -> int:
        events.extend(await RedisStreamAudit(client).read(since))
        return EXIT_OK

    code = _with_redis(settings.redis_url, read)
    if code != EXIT_OK:
        return code
    if out is None:
        write_events(events, sys.stdout, fmt)
    else:
        # Opened only once everything is read: a failed read leaves no half-written file.
        with Path(out).open("w", encoding="utf-8", newline="") as file:
            write_events(events, file, fmt)
    return EXIT_OK


def run_requests(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.redis_url:
        return _fail(NO_REDIS, EXIT_USAGE)
    command = getattr(args, "requests_command", "list")
    if command == "list":
        requester = getattr(args, "requester", None)
        status = getattr(args, "status", "open") or "open"
        limit = getattr(args, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT

        async def listing(client: redis.Redis) -> int:
            requester_id = None
            if requester:
                requester_id = await resolve_requester(settings, requester)
                if requester_id is None:
                    return EXIT_NOT_FOUND if settings_allow_exchange(settings) else EXIT_USAGE
            rows = await list_requests(
                RedisRequestStore(client),
                status=status,
                requester_id=requester_id,
                limit=limit,
            )
            sys.stdout.write(requests_table(rows))
            return EXIT_OK

        return _with_redis(settings.redis_url, listing)
    request_id: str = args.id
    if command == "show":

        async def showing(client: redis.Redis) -> int:
            return await show_request(
                RedisRequestStore(client), RedisStreamAudit(client), request_id, sys.stdout
            )

        return _with_redis(settings.redis_url, showing)
    if command == "cancel":
        return asyncio.run(_cancel_with(settings, request_id, getattr(args, "reason", "") or ""))
    return _fail(f"dlbot requests: unknown command {command!r}", EXIT_USAGE)


# The commands, on the approval workflow's own types (tests drive these directly) ----------------


def parse_since(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC unless it names an offset)."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def write_events(events: Iterable[AuditEvent], out: TextIO, fmt: str) -> None:
    if fmt == "csv":
        # RFC 4180: the csv module quotes commas, quotes and line breaks, and ends rows in CRLF.
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for event in events:
            values = event.model_dump()
            writer.writerow(_cell(values[column]) for column in COLUMNS)
    else:
        for event in events:
            out.write(event.model_dump_json() + "\n")
    out.flush()


async def export_audit(
    audit: AuditLog, out: TextIO, *, since: datetime | None = None, fmt: str = "jsonl"
) -> int:
    write_events(await audit.read(since), out, fmt)
    return EXIT_OK


async def list_requests(
    store: RequestStore | ApprovalService,
    *,
    status: str = "open",
    requester_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[ApprovalRequest]:
    """Requests newest first: all of them, or the open ones; everyone's or one requester's."""
    wanted = OPEN_STATUSES if status == "open" else None
    if requester_id is None:
        return await store.recent(limit, wanted)
    if wanted is None:
        return await store.requests_of(requester_id, limit)
    # requests_of has no status filter; a requester's history is short, so read it whole.
    mine = await store.requests_of(requester_id, 10_000)
    return [r for r in mine if r.status in wanted][:limit]


async def resolve_requester(settings: Settings, requester: str) -> str | None:
    """An object id as given; an address resolved through Exchange's Get-Recipient. None (with
    one line on stderr saying why) when an address cannot be resolved."""
    if "@" not in requester:
        return requester
    from exchange.client import ExchangeClient
    from exchange.errors import ExchangeConfigError, ExchangeError

    try:
        config = settings.exchange()
    except ExchangeConfigError as exc:
        print(
            f"dlbot requests list: cannot resolve {requester} to an object id: Exchange is not "
            f"configured ({exc.message}); pass the requester's Entra object id instead",
            file=sys.stderr,
        )
        return None
    async with ExchangeClient(config) as exchange:
        try:
            recipient = await exchange.get_recipient(requester)
        except ExchangeError as exc:
            print(
                f"dlbot requests list: cannot resolve {requester} to an object id: {exc.message}",
                file=sys.stderr,
            )
            return None
    if not recipient.external_directory_object_id:
        print(
            f"dlbot requests list: {requester} has no Entra object id in Exchange",
            file=sys.stderr,
        )
        return None
    return recipient.external_directory_object_id


def settings_allow_exchange(settings: Settings) -> bool:
    from exchange.errors import ExchangeConfigError

    try:
        settings.exchange()
    except ExchangeConfigError:
        return False
    return True


def requests_table(requests: list[ApprovalRequest]) -> str:
    """A plain table, columns aligned with spaces, one request per row."""
    header = ("ID", "STATUS", "REQUESTER", "LIST", "CREATED", "DECIDED BY")
    rows = [header] + [
        (
            r.id,
            r.status.value,
            _person(r.requester),
            r.group.address or r.group.object_id,
            _when(r.created_at),
            _decided_by(r),
        )
        for r in requests
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if not requests:
        lines.append("(no requests)")
    return "\n".join(lines) + "\n"


async def show_request(store: RequestStore, audit: AuditLog, request_id: str, out: TextIO) -> int:
    request = await store.get(request_id)
    if request is None:
        return _fail(f"dlbot requests show: no request {request_id!r}", EXIT_NOT_FOUND)
    out.write(describe(request, [e for e in await audit.read() if e.request_id == request.id]))
    return EXIT_OK


def describe(request: ApprovalRequest, events: list[AuditEvent]) -> str:
    """Every field of the request (nested ones as dotted names), then its audit events."""
    fields = list(_flattened(request.model_dump(mode="json")))
    width = max(len(name) for name, _ in fields)
    lines = [f"{name.ljust(width)}  {value}" for name, value in fields]
    lines += ["", f"audit trail ({len(events)} events)"]
    for event in events:
        extras = [
            f"{name}={value}"
            for name, value in event.model_dump().items()
            if name not in ("at", "event", "request_id", "list_id", "list_address", "kind")
            and value
        ]
        lines.append(f"  {_when(event.at, seconds=True)}  {event.event:<16} {' '.join(extras)}")
    return "\n".join(lines).rstrip() + "\n"


async def cancel_request(service: ApprovalService, request_id: str, reason: str = "") -> int:
    try:
        was = await service.get(request_id)
        cancelled = await service.cancel_as_admin(request_id, reason)
    except RequestNotFound:
        return _fail(f"dlbot requests cancel: no request {request_id!r}", EXIT_NOT_FOUND)
    except InvalidTransition as exc:
        return _fail(
            f"dlbot requests cancel: request {request_id} is already "
            f"{exc.request.status.value}: nothing to cancel",
            EXIT_NOT_FOUND,
        )
    print(
        f"cancelled request {cancelled.id} ({cancelled.requester.display_name} → "
        f"{cancelled.group.address}, was {was.status.value}); the requester is told and "
        f"{len(cancelled.cards)} approval card(s) will show it"
    )
    return EXIT_OK


# Plumbing --------------------------------------------------------------------------------------


class _NotNeeded:
    """Cancelling resolves no approvers and writes nothing to Exchange; the service still wants
    both ports, and these say so loudly if that ever changes."""

    async def current_approvers(self, group: ListRef) -> ApproverSet:
        raise RuntimeError("dlbot requests cancel does not resolve approvers")

    async def add_member(self, group: ListRef, person: Person) -> WriteResult:
        raise RuntimeError("dlbot requests cancel does not write to Exchange")

    async def remove_member(self, group: ListRef, person: Person) -> WriteResult:
        raise RuntimeError("dlbot requests cancel does not write to Exchange")

    async def create_list(self, spec: NewList, *, may_already_exist: bool) -> WriteResult:
        raise RuntimeError("dlbot requests cancel does not write to Exchange")


async def _cancel_with(settings: Settings, request_id: str, reason: str) -> int:
    """The admin cancel on the real parts: the requester hears it in Teams through the bot's
    messenger, and the card redraw is a job for the running workers."""
    from saq import Queue

    from bot.app import build_services
    from bot.jobs import QUEUE_NAME, SaqJobQueue
    from bot.metrics import RecordingAudit, WorkflowMetrics
    from bot.notifier import TeamsNotifier

    edge = build_services(settings)
    queue = Queue.from_url(settings.redis_url, name=QUEUE_NAME)
    store = RedisRequestStore(edge.redis)
    try:
        service = ApprovalService(
            store=store,
            approvers=_NotNeeded(),
            notifier=TeamsNotifier(
                edge.messenger,
                teams_users=edge.references,
                admin_object_ids=settings.admin_alert_object_ids(),
            ),
            jobs=SaqJobQueue(queue),
            writer=_NotNeeded(),
            # Counted like every other transition, so /metrics shows admin cancels too.
            audit=RecordingAudit(
                RedisStreamAudit(edge.redis), WorkflowMetrics(edge.redis, store, queue)
            ),
            # The workers' sweep redraws the cards if this process dies before queueing it.
            redraws=RedisRedrawLedger(edge.redis),
        )
        return await cancel_request(service, request_id, reason)
    except (RedisError, OSError) as exc:
        return _fail(f"dlbot: cannot reach Redis (DLBOT_REDIS_URL): {exc}", EXIT_NOT_FOUND)
    finally:
        await queue.disconnect()
        await edge.redis.aclose()


def _with_redis(url: str, body: Callable[[redis.Redis], Awaitable[int]]) -> int:
    async def run() -> int:
        client = redis.Redis.from_url(url)
        try:
            return await body(client)
        except (RedisError, OSError) as exc:
            return _fail(f"dlbot: cannot reach Redis (DLBOT_REDIS_URL): {exc}", EXIT_NOT_FOUND)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def _cell(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _when(value: datetime, *, seconds: bool = False) -> str:
    shown = value.astimezone(UTC)
    return shown.strftime("%Y-%m-%d %H:%M:%SZ" if seconds else "%Y-%m-%d %H:%MZ")


def _person(person: Person) -> str:
    return person.address or person.display_name or person.object_id


def _decided_by(request: ApprovalRequest) -> str:
    if request.cancelled_by is not None:
        return request.cancelled_by.display_name
    if request.decision is not None:
        return _person(request.decision.actor)
    if request.auto_approved:
        return f"(no approval: {request.auto_approved})"
    return ""


def _flattened(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        if not value and prefix:
            yield prefix, "{}"
        for key, item in value.items():
            yield from _flattened(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        if not value:
            yield prefix, "(none)"
        for index, item in enumerate(value):
            yield from _flattened(item, f"{prefix}[{index}]")
    else:
        yield prefix, "(none)" if value is None or value == "" else str(value)


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.admin_command audit …|requests …`: the same commands without bot/cli.py."""
    parser = argparse.ArgumentParser(prog="dlbot")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands)
    args = parser.parse_args(argv)
    settings = Settings()
    return run_audit(settings, args) if args.command == "audit" else run_requests(settings, args)


if __name__ == "__main__":
    sys.exit(main())
