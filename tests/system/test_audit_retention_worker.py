"""Audit retention as the product runs it: every worker schedules the daily prune when
DLBOT_AUDIT_RETENTION_DAYS is set (and none by default), and the job it runs prunes the trail
the workflow writes. The sandbox tenant stands in for Exchange; no Playground is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from approvals.audit import AuditAction, AuditEvent, RedisStreamAudit
from bot.audit_retention import PRUNE_CRON, PRUNE_FUNCTION
from bot.services import Dlbot, running
from bot.settings import Settings
from exchange.sandbox.server import ThreadedSandbox
from tests.system.conftest import DEMO_APP_ID, DEMO_SECRET


@asynccontextmanager
async def product(
    redis_url: str, sandbox: ThreadedSandbox, **given: object
) -> AsyncIterator[Dlbot]:
    settings = Settings(
        _env_file=None,
        redis_url=redis_url,
        exchange_base_url=sandbox.base_url,
        exchange_authority=sandbox.base_url,
        exchange_tenant=sandbox.tenant_id,
        exchange_client_id=DEMO_APP_ID,
        exchange_client_secret=SecretStr(DEMO_SECRET),
        exchange_ca_file=sandbox.ca_file,
        **given,  # type: ignore[arg-type]
    )
    async with running(settings) as app:
        try:
            yield app
        finally:
            await app.edge.redis.aclose()  # the web app closes it; no web app runs here


def archived(directory: Path) -> list[str]:
    """The text of each archive file in `directory`."""
    return [path.read_text("utf-8") for path in directory.iterdir()]


async def test_by_default_no_worker_prunes_the_audit_trail(
    redis_url: str, sandbox: ThreadedSandbox
) -> None:
    async with product(redis_url, sandbox) as dlbot:
        names = [job.function.__name__ for job in dlbot.worker().cron_jobs]

    assert PRUNE_FUNCTION not in names


async def test_with_retention_set_every_worker_prunes_daily_and_the_job_prunes_the_trail(
    redis_url: str, sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    old = AuditEvent(at=datetime.now(UTC) - timedelta(days=40), event="denied", request_id="r1")
    async with product(
        redis_url, sandbox, audit_retention_days=30, audit_archive_dir=tmp_path
    ) as dlbot:
        audit = RedisStreamAudit(dlbot.edge.redis)
        await audit.append(old)
        [job] = [j for j in dlbot.worker().cron_jobs if j.function.__name__ == PRUNE_FUNCTION]

        assert job.cron == PRUNE_CRON
        assert await job.function({}) == 1
        events = await audit.read()

    assert [e.event for e in events] == [AuditAction.PRUNED]
    assert archived(tmp_path) == [old.model_dump_json() + "\n"]
