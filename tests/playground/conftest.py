"""Fixtures that run Microsoft's Agents Playground against our real app, once per test module.

A test module provides its bot and, if it likes, who is signed in:

    pytestmark = pytest.mark.asyncio(loop_scope="module")   # the module's tests share the loop

    @pytest.fixture(scope="module")
    def playground_bot(playground_services: EdgeServices) -> ActivityHandler:
        return MyBot(playground_services)

    @pytest.fixture(scope="module")
    def playground_user() -> str:        # optional; default "alexw"
        return "meganb"

    @pytest.fixture(scope="module")
    def playground_user_ids() -> UserIds:  # optional; default "teams" (see harness.py)
        return "object"

and then uses `playground` (harness.Playground: send_message, invoke_card, raw_activity,
install, stream) and `playground_services` (the app's EdgeServices: messenger, references,
metrics, storage). The app and the Playground start once per module; Redis is the suite's
redis-server, emptied when the module starts (so don't ask for `redis_url` in these modules:
it empties Redis before each test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from botbuilder.core import ActivityHandler

from bot.app import EdgeServices, build_services, create_app
from bot.settings import Settings
from tests.playground.doubles import serve
from tests.playground.harness import SANDBOX_TENANT_ID, Playground, UserIds


@pytest.fixture(scope="module")
def playground_user() -> str:
    return "alexw"


@pytest.fixture(scope="module")
def playground_user_ids() -> UserIds:
    return "teams"


@pytest.fixture(scope="module")
def playground_settings(redis_server: str) -> Settings:
    return Settings(_env_file=None, redis_url=redis_server, allowed_tenants=SANDBOX_TENANT_ID)


@pytest.fixture(scope="module")
def playground_services(playground_settings: Settings) -> EdgeServices:
    # Each module starts from an empty Redis: references to an earlier module's Playground
    # (a dead connector) must not be found. Closed by the app's cleanup (bot_url below).
    import redis as redis_sync

    with redis_sync.Redis.from_url(playground_settings.redis_url) as client:
        client.flushall()
    return build_services(playground_settings)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot_url(
    playground_settings: Settings,
    playground_services: EdgeServices,
    playground_bot: ActivityHandler,
) -> AsyncIterator[str]:
    app = create_app(playground_settings, playground_bot, playground_services)
    async with serve(app) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def playground(
    bot_url: str,
    playground_user: str,
    playground_user_ids: UserIds,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Playground]:
    workdir: Path = tmp_path_factory.mktemp(f"playground-{playground_user}")
    async with Playground.start(
        f"{bot_url}/api/messages",
        workdir,
        current_user=playground_user,
        user_ids=playground_user_ids,
    ) as running:
        yield running
