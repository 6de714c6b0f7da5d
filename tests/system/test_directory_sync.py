"""The directory sync as the product runs it: the bot's person lookups come from the people
snapshot, and every worker schedules both syncs at the intervals the settings give."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.jobs import SWEEP_FUNCTION, SYNC_LISTS_FUNCTION, SYNC_PEOPLE_FUNCTION
from bot.services import Dlbot, running
from bot.settings import Settings
from exchange.sandbox.server import ThreadedSandbox
from tests.playground.harness import PEOPLE
from tests.system.conftest import DEMO_APP_ID, DEMO_SECRET

ALEX = PEOPLE["alexw"]


@pytest.fixture
async def dlbot(redis_url: str, sandbox: ThreadedSandbox) -> AsyncIterator[Dlbot]:
    settings = Settings(
        _env_file=None,
        redis_url=redis_url,
        exchange_base_url=sandbox.base_url,
        exchange_authority=sandbox.base_url,
        exchange_tenant=sandbox.tenant_id,
        exchange_client_id=DEMO_APP_ID,
        exchange_client_secret=SecretStr(DEMO_SECRET),
        exchange_ca_file=sandbox.ca_file,
        sync_lists_hours=6,
        sync_people_hours=2,
    )
    async with running(settings) as app:
        try:
            yield app
        finally:
            await app.edge.redis.aclose()  # the web app closes it; no web app runs here


def _calls(sandbox: ThreadedSandbox, since: int) -> int:
    return len({r.client_request_id for r in sandbox.requests[since:]})


async def test_after_a_people_sync_the_bot_finds_who_is_writing_without_exchange(
    dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await dlbot.sync_people()
    before = len(sandbox.requests)

    alex = await dlbot.people.person(ALEX)

    assert alex is not None and alex.display_name == "Alex Wilber"
    assert _calls(sandbox, before) == 0


async def test_the_people_snapshot_is_built_at_start_up_so_no_turn_asks_exchange_who_writes(
    dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    before = len(sandbox.requests)

    assert await dlbot.people.person(ALEX) is not None
    assert _calls(sandbox, before) == 0


async def test_someone_the_people_snapshot_does_not_know_is_asked_of_exchange(
    dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    before = len(sandbox.requests)

    assert await dlbot.people.person("00000000-0000-4000-8000-00000000beef") is None
    # Get-Recipient, then Get-User (an account without a mailbox can still chat in Teams).
    asked = [r.cmdlet for r in sandbox.requests[before:]]
    assert asked == ["Get-Recipient", "Get-User"]


async def test_a_list_sync_from_the_worker_replaces_the_snapshot(dlbot: Dlbot) -> None:
    before = await dlbot.snapshots.load_snapshot()

    count = await dlbot.sync_lists()

    after = await dlbot.snapshots.load_snapshot()
    assert before is not None and after is not None
    assert after.cursor.version != before.cursor.version and len(after.lists) == count


async def test_every_worker_schedules_both_syncs_at_the_configured_intervals(
    dlbot: Dlbot,
) -> None:
    worker = dlbot.worker()

    crons = {job.function.__name__: job.cron for job in worker.cron_jobs}

    assert crons[SYNC_LISTS_FUNCTION] == "5 */6 * * *"
    assert crons[SYNC_PEOPLE_FUNCTION] == "35 */2 * * *"
    assert SWEEP_FUNCTION in crons
