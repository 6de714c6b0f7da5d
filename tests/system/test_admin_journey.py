"""An admin works on live requests from the command line while the bot and its worker run:
`dlbot requests cancel` and `dlbot audit export` as separate processes on the same Redis.

Its own module: tests/system modules share one bot and flush Redis when they start."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from approvals.models import ApprovalRequest, RequestStatus
from bot.services import Dlbot
from bot.settings import Settings
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, said, tell

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]


async def dlbot_cli(settings: Settings, cwd: Path, *arguments: str) -> tuple[int, str, str]:
    """The admin commands in a process of their own, as an admin would run them."""
    env = {**os.environ, "DLBOT_REDIS_URL": settings.redis_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.admin_command",
        *arguments,
        cwd=cwd,  # no .env there: only the environment counts
        env={**env, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def ask(
    playground: Playground, dlbot: Dlbot, list_name: str, address: str
) -> ApprovalRequest:
    await tell(playground, f"add me to {list_name}", "Why do you need to join?")
    await tell(playground, "I moved teams", "Send your request")
    await tell(playground, "yes", "I've asked")
    for request in await dlbot.approvals.requests_of(ALEX):
        if request.group.address == address and request.is_open:
            return request
    raise AssertionError(f"no open request for {address}")


def exported(out: str, request_id: str) -> list[dict[str, Any]]:
    return [e for e in map(json.loads, out.splitlines()) if e["request_id"] == request_id]


async def test_an_admin_cancels_a_live_request_and_requester_and_cards_show_it(
    playground: Playground, dlbot: Dlbot, playground_settings: Settings, tmp_path: Path
) -> None:
    await playground.install()
    request = await ask(playground, dlbot, "finance emea", "finance-emea@contoso.com")
    await cards_out(dlbot, request.id, 2)
    seen = len(playground.stream.events)

    code, out, err = await dlbot_cli(
        playground_settings, tmp_path, "requests", "cancel", request.id, "--reason", "duplicate"
    )

    # stderr carries only the bot's no-authentication warning of this demo setup.
    assert code == 0 and "Traceback" not in err, err
    assert f"cancelled request {request.id}" in out
    await playground.stream.wait_for(said("An IT admin cancelled your request"), 20, seen)
    card = (await dlbot.approvals.get(request.id)).card_of(MEGAN)
    assert card is not None
    answer = await playground.invoke_card(
        "refresh",
        {"requestId": request.id},
        reply_to_id=card.activity_id,
        from_id=MEGAN,
        conversation_id=card.conversation_id,
    )
    assert "Cancelled by an IT admin" in json.dumps(answer)
    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.CANCELLED
    # The command's process counted the cancel where every replica's /metrics reads it.
    shown = await dlbot.edge.metrics.collectors["workflow"]()
    assert 'dlbot_requests_total{kind="join",event="cancelled"} 1' in shown
    again = await dlbot_cli(playground_settings, tmp_path, "requests", "cancel", request.id)
    assert again[0] == 1 and "already cancelled" in again[2]


async def test_the_export_from_another_process_has_the_whole_approved_history(
    playground: Playground, dlbot: Dlbot, playground_settings: Settings, tmp_path: Path
) -> None:
    request = await ask(playground, dlbot, "finance emea", "finance-emea@contoso.com")
    request = await cards_out(dlbot, request.id, 2)
    card = request.card_of(MEGAN)
    assert card is not None
    await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=card.activity_id,
        from_id=MEGAN,
        conversation_id=card.conversation_id,
    )

    async def done() -> ApprovalRequest | None:
        current = await dlbot.approvals.get(request.id)
        return current if current.status is RequestStatus.COMPLETED else None

    completed = await eventually(done, within=20)

    code, out, err = await dlbot_cli(playground_settings, tmp_path, "audit", "export")

    assert code == 0, err
    history = exported(out, request.id)
    assert [e["event"] for e in history] == ["submitted", "cards_sent", "approved", "executed"]
    assert history[-1]["exchange_request_id"] == completed.execution.exchange_request_id != ""
    assert history[2]["actor_id"] == MEGAN
