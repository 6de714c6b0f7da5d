"""`dlbot audit export` and `dlbot requests list|show|cancel` against a real redis-server."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as redis

from approvals.audit import AuditEvent, RedisStreamAudit
from approvals.models import ADMIN_CANCEL_ACTOR, ApprovalRequest, Person, RequestKind
from approvals.redis_store import RedisRequestStore
from approvals.service import ApprovalService
from approvals.testing import (
    InMemoryJobQueue,
    InMemoryMembershipWriter,
    InMemoryNotifier,
    StaticApprovers,
)
from bot.admin_command import (
    COLUMNS,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    cancel_request,
    parse_since,
    run_audit,
    run_requests,
)
from bot.settings import Settings
from tests.approvals import demo


@dataclass
class Workflow:
    """The approval service on Redis, with Teams, Exchange and the queue as in-memory fakes."""

    service: ApprovalService
    jobs: InMemoryJobQueue
    notifier: InMemoryNotifier

    async def ask(self, requester: Person = demo.ALEX, group=demo.FINANCE_EMEA) -> ApprovalRequest:  # type: ignore[no-untyped-def]
        result = await self.service.submit(
            kind=RequestKind.JOIN, requester=requester, group=group, justification="new team"
        )
        await self.jobs.run_all(self.service)
        return await self.service.get(result.request.id)


@asynccontextmanager
async def workflow(redis_url: str) -> AsyncIterator[Workflow]:
    client = redis.Redis.from_url(redis_url)
    jobs, notifier = InMemoryJobQueue(), InMemoryNotifier()
    try:
        yield Workflow(
            ApprovalService(
                store=RedisRequestStore(client),
                approvers=StaticApprovers(
                    owners={
                        demo.FINANCE_EMEA.object_id: (
                            demo.approver(demo.MEGAN),
                            demo.approver(demo.LEE),
                        ),
                        demo.PROJECT_ATLAS.object_id: (demo.approver(demo.MEGAN),),
                    }
                ),
                notifier=notifier,
                jobs=jobs,
                writer=InMemoryMembershipWriter(),
                audit=RedisStreamAudit(client),
            ),
            jobs,
            notifier,
        )
    finally:
        await client.aclose()


async def approved_and_executed(redis_url: str) -> str:
    async with workflow(redis_url) as flow:
        request = await flow.ask()
        await flow.service.decide(request.id, demo.MEGAN, approve=True, reason="welcome")
        await flow.jobs.run_all(flow.service)
        return request.id


def settings(redis_url: str) -> Settings:
    return Settings(_env_file=None, redis_url=redis_url)


def export(**given: object) -> argparse.Namespace:
    return argparse.Namespace(
        command="audit",
        audit_command="export",
        **{"since": None, "format": "jsonl", "out": None, **given},
    )


def requests(command: str, **given: object) -> argparse.Namespace:
    defaults: dict[str, object] = {"status": "open", "requester": None, "limit": 50, "reason": ""}
    return argparse.Namespace(command="requests", requests_command=command, **{**defaults, **given})


# dlbot audit export ------------------------------------------------------------------------------


def test_export_after_a_restart_has_the_whole_history_of_a_request(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = asyncio.run(approved_and_executed(redis_url))  # its client is closed after

    assert run_audit(settings(redis_url), export()) == EXIT_OK

    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    mine = [e for e in events if e["request_id"] == request_id]
    assert [e["event"] for e in mine] == ["submitted", "cards_sent", "approved", "executed"]
    assert mine[-1]["exchange_request_id"] == "exchange-1"
    assert mine[-1]["cmdlet"] == "Add-DistributionGroupMember"


async def append(redis_url: str, *events: AuditEvent) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        for event in events:
            await RedisStreamAudit(client).append(event)
    finally:
        await client.aclose()


def event(at: datetime, detail: str = "", request_id: str = "r1") -> AuditEvent:
    return AuditEvent(at=at, event="denied", request_id=request_id, actor_id="a1", detail=detail)


def test_csv_has_every_field_as_a_column_and_quotes_awkward_values(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    awkward = 'Sorry, "no" —\nask HR 🎉'
    asyncio.run(append(redis_url, event(datetime(2025, 3, 3, 9, tzinfo=UTC), awkward)))

    assert run_audit(settings(redis_url), export(format="csv")) == EXIT_OK

    text = capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(COLUMNS)
    assert dict(zip(rows[0], rows[1], strict=True))["detail"] == awkward
    assert dict(zip(rows[0], rows[1], strict=True))["at"] == "2025-03-03T09:00:00+00:00"
    assert text.startswith(",".join(COLUMNS) + "\r\n")


def test_since_leaves_out_earlier_events_and_takes_a_plain_date_as_utc_midnight(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(
        append(
            redis_url,
            event(datetime(2025, 3, 2, 23, 59, tzinfo=UTC), request_id="before"),
            event(datetime(2025, 3, 3, 0, 0, tzinfo=UTC), request_id="on"),
        )
    )

    assert run_audit(settings(redis_url), export(since="2025-03-03")) == EXIT_OK

    out = capsys.readouterr().out
    assert [json.loads(line)["request_id"] for line in out.splitlines()] == ["on"]


def test_since_reads_a_datetime_with_an_offset() -> None:
    assert parse_since("2025-03-03T10:00:00+01:00") == datetime(2025, 3, 3, 9, tzinfo=UTC)


def test_a_bad_since_is_one_clear_line_and_exit_2(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_audit(settings(redis_url), export(since="last tuesday")) == EXIT_USAGE

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "'last tuesday'" in captured.err


def test_out_writes_the_export_to_a_file(redis_url: str, tmp_path: Path) -> None:
    asyncio.run(append(redis_url, event(datetime(2025, 3, 3, tzinfo=UTC), "Zoë")))
    target = tmp_path / "audit.jsonl"

    assert run_audit(settings(redis_url), export(out=target)) == EXIT_OK

    assert json.loads(target.read_text(encoding="utf-8"))["detail"] == "Zoë"


def test_without_a_redis_url_both_commands_say_so_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_audit(settings(""), export()) == EXIT_USAGE
    assert run_requests(settings(""), requests("list")) == EXIT_USAGE

    assert capsys.readouterr().err.count("DLBOT_REDIS_URL is empty") == 2


# dlbot requests list -----------------------------------------------------------------------------


async def three_requests(redis_url: str) -> list[str]:
    """Alex's finance request (completed), Grady's (pending), Alex's atlas one (pending)."""
    async with workflow(redis_url) as flow:
        done = await flow.ask()
        await flow.service.decide(done.id, demo.MEGAN, approve=True)
        await flow.jobs.run_all(flow.service)
        grady = await flow.ask(demo.GRADY)
        atlas = await flow.ask(demo.ALEX, demo.PROJECT_ATLAS)
        return [done.id, grady.id, atlas.id]


def table(capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    return [line.split() for line in capsys.readouterr().out.splitlines()]


def test_list_shows_open_requests_newest_first_in_aligned_columns(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    done, grady, atlas = asyncio.run(three_requests(redis_url))

    assert run_requests(settings(redis_url), requests("list")) == EXIT_OK

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATUS", "REQUESTER"]
    assert [line.split()[0] for line in lines[1:]] == [atlas, grady]
    assert len({line.index("pending") for line in lines[1:]} | {lines[0].index("STATUS")}) == 1
    assert done not in out


def test_list_all_includes_final_requests_with_who_decided(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    done, grady, atlas = asyncio.run(three_requests(redis_url))

    assert run_requests(settings(redis_url), requests("list", status="all")) == EXIT_OK

    rows = table(capsys)[1:]
    assert [row[0] for row in rows] == [atlas, grady, done]
    assert rows[2][1] == "completed" and rows[2][-1] == "meganb@contoso.com"


def test_list_by_requester_object_id_shows_only_theirs(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    done, _, atlas = asyncio.run(three_requests(redis_url))

    args = requests("list", status="all", requester=demo.ALEX.object_id)
    assert run_requests(settings(redis_url), args) == EXIT_OK

    assert [row[0] for row in table(capsys)[1:]] == [atlas, done]


def test_list_by_address_without_exchange_says_it_cannot_resolve_it(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = requests("list", requester="alexw@contoso.com")

    assert run_requests(settings(redis_url), args) == EXIT_USAGE

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot resolve alexw@contoso.com" in err


# dlbot requests show -----------------------------------------------------------------------------


def test_show_prints_every_field_and_the_requests_audit_events(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = asyncio.run(approved_and_executed(redis_url))

    assert run_requests(settings(redis_url), requests("show", id=request_id)) == EXIT_OK

    out = capsys.readouterr().out
    fields, trail = out.split("\n\naudit trail ")
    shown = dict(line.split(None, 1) for line in fields.splitlines())
    assert shown["id"] == request_id and shown["status"] == "completed"
    assert shown["requester.address"] == "alexw@contoso.com"
    assert shown["decision.reason"] == "welcome"
    assert shown["execution.exchange_request_id"] == "exchange-1"
    assert shown["cancelled_by"] == "(none)"  # even empty fields are listed
    assert trail.startswith("(4 events)")
    assert [line.split()[2] for line in trail.splitlines()[1:]] == [
        "submitted",
        "cards_sent",
        "approved",
        "executed",
    ]


def test_show_of_an_unknown_id_is_one_line_and_exit_1(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_requests(settings(redis_url), requests("show", id="AAAAAAAAAAAAAAAA")) == (
        EXIT_NOT_FOUND
    )

    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1


# dlbot requests cancel ---------------------------------------------------------------------------


async def test_an_admin_cancel_tells_the_requester_and_a_second_one_is_refused(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with workflow(redis_url) as flow:
        request = await flow.ask()

        first = await cancel_request(flow.service, request.id, "duplicate")
        second = await cancel_request(flow.service, request.id)
        audit = await RedisStreamAudit(
            flow.service._store._redis  # type: ignore[attr-defined]
        ).read()

    assert (first, second) == (EXIT_OK, EXIT_NOT_FOUND)
    assert flow.notifier.notices[-1].kind == "cancelled"
    assert [(e.event, e.actor_id) for e in audit][-1] == ("cancelled", ADMIN_CANCEL_ACTOR)
    assert "already cancelled" in capsys.readouterr().err
