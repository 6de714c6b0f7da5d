"""The whole of dlbot, as `dlbot serve` runs it, driven through Microsoft's Agents Playground.

One module shares one sandbox tenant, one Redis, one bot (app + saq worker) and one Playground.
Playground users' ids are their Entra object ids, so the bot can open chats with owners it never
met, as it does in Teams.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from approvals.models import ApprovalRequest
from bot.app import EdgeServices
from bot.handler import DlBot
from bot.run import working
from bot.services import Dlbot, running
from bot.settings import Settings
from exchange.sandbox.server import ThreadedSandbox
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET
from tests.playground.conftest import bot_url, playground, playground_user  # noqa: F401
from tests.playground.harness import SANDBOX_TENANT_ID, Playground, UserIds, eventually


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox(state_dir=tmp_path_factory.mktemp("sandbox")) as running_sandbox:
        yield running_sandbox


@pytest.fixture(scope="module")
def playground_user_ids() -> UserIds:
    return "object"


@pytest.fixture(scope="module")
def playground_settings(redis_server: str, sandbox: ThreadedSandbox) -> Settings:
    return Settings(
        _env_file=None,
        redis_url=redis_server,
        allowed_tenants=SANDBOX_TENANT_ID,
        exchange_base_url=sandbox.base_url,
        exchange_authority=sandbox.base_url,
        exchange_tenant=sandbox.tenant_id,
        exchange_client_id=DEMO_APP_ID,
        exchange_client_secret=SecretStr(DEMO_SECRET),
        exchange_ca_file=sandbox.ca_file,
        exchange_retry_backoff_seconds=0.01,
        fallback_approvers="adelev@contoso.com",
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dlbot(playground_settings: Settings) -> AsyncIterator[Dlbot]:
    import redis as redis_sync

    with redis_sync.Redis.from_url(playground_settings.redis_url) as client:
        client.flushall()
    async with running(playground_settings) as app, working(app):
        yield app


@pytest.fixture(scope="module")
def playground_services(dlbot: Dlbot) -> EdgeServices:
    return dlbot.edge


@pytest.fixture(scope="module")
def playground_bot(dlbot: Dlbot) -> DlBot:
    return dlbot.bot


def said(text: str) -> Any:
    """A stream predicate: a bot message whose text, or a card in it, contains `text`."""

    def matches(event: dict[str, Any]) -> bool:
        message = event.get("message", {})
        shown = (message.get("text") or "") + json.dumps(message.get("attachments") or [])
        return text in shown

    return matches


async def tell(client: Playground, text: str, expect: str, within: float = 15.0) -> None:
    """The signed-in user types `text`; wait for a bot message containing `expect`."""
    seen = len(client.stream.events)
    await client.send_message(text)
    await client.stream.wait_for(said(expect), within=within, after=seen)


async def cards_out(dlbot: Dlbot, request_id: str, count: int) -> ApprovalRequest:
    """The request once `count` approval cards are posted (the worker posts them)."""

    async def posted() -> ApprovalRequest | None:
        request = await dlbot.approvals.get(request_id)
        return request if len(request.cards) >= count else None

    return await eventually(posted, within=20)


def members(sandbox: ThreadedSandbox, group: str) -> list[str]:
    snapshot = sandbox.server.tenant.group_snapshot(group)
    return [m["primary_smtp_address"] for m in snapshot["members"]]


def writes(sandbox: ThreadedSandbox, cmdlet: str = "Add-DistributionGroupMember") -> int:
    return len([r for r in sandbox.server.requests if r.cmdlet == cmdlet and r.status == 200])
