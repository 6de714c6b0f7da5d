"""Operating dlbot (docs/operations.md): after a real request through the Playground, the
sandbox tenant, Redis and the saq worker, one correlation id finds the whole story in the logs,
/metrics shows the workflow, and /readyz names Exchange when it is down."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from approvals.models import RequestStatus
from bot.run import serving_metrics
from bot.services import Dlbot
from bot.settings import Settings
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import ThreadedSandbox
from tests.bot.log_capture import CapturedLogs, captured_logs, leaks
from tests.bot.test_metrics import sample
from tests.exchange.conftest import DEMO_SECRET
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, said, tell

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]


@pytest.fixture(scope="module")
def logs(redis_server: str) -> Iterator[CapturedLogs]:
    with captured_logs(
        Settings(_env_file=None, exchange_client_secret=SecretStr(DEMO_SECRET))
    ) as captured:
        yield captured


@pytest.fixture(scope="module")
def playground_settings(playground_settings: Settings, logs: CapturedLogs) -> Settings:
    # Asking for `logs` here installs the capture before the bot and the worker start.
    return playground_settings


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_readyz_names_exchange_while_it_is_down_and_is_ready_again_after(
    bot_url: str, sandbox: ThreadedSandbox
) -> None:
    sandbox.inject(Fault("unavailable", cmdlet="Get-AcceptedDomain"))
    try:
        status, body = await _get(f"{bot_url}/readyz")
    finally:
        sandbox.clear_faults()
    assert status == 503
    answer = json.loads(body)
    assert answer["failed"] == ["exchange"]
    assert answer["checks"]["exchange"] == "error: ExchangeUnavailable"
    assert answer["checks"]["redis"] == "ok"

    status, body = await _get(f"{bot_url}/readyz")
    assert (status, json.loads(body)["status"]) == (200, "ready")


async def test_one_correlation_id_finds_the_activity_the_decision_the_job_and_exchange(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox, logs: CapturedLogs
) -> None:
    await playground.install()
    await tell(playground, "add me to finance emea", "Why do you need to join?")
    await tell(playground, "I moved to the EMEA finance team", "Send your request")
    await tell(playground, "yes", "I've asked")
    (request,) = [r for r in await dlbot.approvals.requests_of(ALEX) if r.is_open]
    request = await cards_out(dlbot, request.id, 2)
    card = request.card_of(MEGAN)
    assert card is not None
    seen = len(playground.stream.events)
    await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=card.activity_id,
        from_id=MEGAN,
        conversation_id=card.conversation_id,
    )
    await playground.stream.wait_for(said("you're now a member of Finance EMEA"), 20, seen)

    async def completed() -> Any:
        done = await dlbot.approvals.get(request.id)
        return done if done.status is RequestStatus.COMPLETED else None

    done = await eventually(completed, within=10)
    correlation_id = done.correlation_id
    assert correlation_id

    story = logs.mentioning(correlation_id)
    received = [r for r in story if r["event"] == "message activity received"]
    assert len(received) == 1 and received[0]["correlation_id"] == correlation_id
    assert any(r["event"].startswith(f"request {request.id} submitted") for r in story)
    # The decision came with Megan's click (another activity), and names the request's id too.
    (decision,) = [r for r in story if r.get("request_correlation_id") == correlation_id]
    assert decision["correlation_id"] != correlation_id
    assert decision["event"] == f"request {request.id} approved by {MEGAN}"
    # The worker's execute job, and in it the Exchange call with Exchange's client-request-id.
    writes = [
        r
        for r in story
        if r.get("job") == "execute" and r.get("cmdlet") == "Add-DistributionGroupMember"
    ]
    assert len(writes) == 1
    (write,) = writes
    assert write["request_id"] == request.id
    assert write["client_request_id"] == done.execution.exchange_request_id
    assert (write["status"], write["attempt"]) == (200, 1)
    assert isinstance(write["elapsed_ms"], int)


async def test_metrics_show_the_request_its_timings_the_exchange_calls_and_the_queue(
    bot_url: str,
) -> None:
    status, text = await _get(f"{bot_url}/metrics")

    assert status == 200
    assert sample(text, "dlbot_requests_total", kind="join", event="submitted") == 1
    assert sample(text, "dlbot_requests_total", kind="join", event="completed") == 1
    assert sample(text, "dlbot_requests_open", kind="join", state="pending") == 0
    decided = {"kind": "join", "decision": "approved"}
    assert sample(text, "dlbot_time_to_decision_seconds_count", **decided) == 1
    executed = {"kind": "join", "outcome": "completed"}
    assert sample(text, "dlbot_time_to_execution_seconds_count", **executed) == 1
    add = {"cmdlet": "Add-DistributionGroupMember", "outcome": "ok"}
    assert sample(text, "dlbot_exchange_calls_total", **add) == 1
    assert sample(text, "dlbot_exchange_calls_total", cmdlet="Get-AcceptedDomain", outcome="ok")
    assert sample(
        text, "dlbot_exchange_retries_total", cmdlet="Get-AcceptedDomain", reason="http_503"
    )
    assert sample(text, "dlbot_queue_jobs", state="queued") is not None
    assert sample(text, "dlbot_metrics_collector_up", collector="workflow") == 1


async def test_every_line_logged_meanwhile_is_json_and_holds_no_secret(logs: CapturedLogs) -> None:
    records = logs.records()  # raises on a line that is not JSON

    assert len(records) > 50
    assert leaks(logs.lines(), [DEMO_SECRET]) == []


async def test_a_worker_serves_its_own_metrics_and_readiness_on_the_metrics_port(
    dlbot: Dlbot,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with serving_metrics(dlbot, "127.0.0.1", port):
        status, text = await _get(f"http://127.0.0.1:{port}/metrics")
        ready, _ = await _get(f"http://127.0.0.1:{port}/readyz")

    assert (status, ready) == (200, 200)
    # This process's Exchange write (bot and worker share it here), and the shared figures.
    add = {"cmdlet": "Add-DistributionGroupMember", "outcome": "ok"}
    assert sample(text, "dlbot_exchange_calls_total", **add) == 1
    assert sample(text, "dlbot_requests_total", kind="join", event="completed") == 1
