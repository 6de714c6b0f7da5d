"""No secret, token or client credential in any log line: dlbot as `dlbot serve` runs it, with
an app id and password (channel JWTs checked), every logger at DEBUG, through real flows:
signed and forged activities, a request approved by a signed card click and carried out by
the worker against the sandbox with a client secret, msal token fetches, a 401 renewal after
the sandbox revoked every token, and an Exchange call that fails for good.

With an app id the bot's own replies need Entra ID, which is offline here: those attempts fail
and are logged too, which is what a scan wants to read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from pydantic import SecretStr

from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from bot.app import create_app
from bot.logs import correlation, new_correlation_id
from bot.services import Dlbot
from bot.settings import Settings
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.bot.log_capture import CapturedLogs, captured_logs, leaks
from tests.exchange.conftest import DEMO_SECRET
from tests.playground.doubles import RecordingConnector, TokenIssuer, serve, teams_activity
from tests.playground.harness import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP_ID = "5a8e3f0c-3b7e-4a55-8f1d-2c7d9e0b6a41"
BOT_PASSWORD = f"bot-password-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def issuer() -> Iterator[TokenIssuer]:
    with TokenIssuer() as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def connector_url() -> AsyncIterator[str]:
    async with serve(RecordingConnector().app()) as url:
        yield url


@pytest.fixture(scope="module")
def logs(playground_settings: Settings) -> Iterator[CapturedLogs]:
    with captured_logs(playground_settings) as captured:
        yield captured


@pytest.fixture(scope="module")
def playground_settings(
    playground_settings: Settings, issuer: TokenIssuer, connector_url: str
) -> Settings:
    return playground_settings.model_copy(
        update={
            "bot_app_id": APP_ID,
            "bot_app_password": SecretStr(BOT_PASSWORD),
            "bot_openid_metadata_url": issuer.metadata_url,
            "bot_token_issuer": issuer.issuer,
            "bot_service_url": connector_url + "/",
        }
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(logs: CapturedLogs, dlbot: Dlbot) -> AsyncIterator[str]:
    # `logs` first: the capture is on before the app, the worker and msal start.
    async with serve(create_app(dlbot.settings, dlbot.bot, dlbot.edge)) as url:
        yield url


class Sent:
    """Every token and credential the flows handed out, to look for in the logs."""

    values: list[str] = [BOT_PASSWORD, DEMO_SECRET]


async def _post(url: str, activity: dict[str, Any], authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/api/messages", json=activity, headers=headers) as response,
    ):
        await response.read()
        return response.status


async def test_signed_activities_get_in_and_forged_ones_are_refused(
    bot: str, issuer: TokenIssuer, connector_url: str
) -> None:
    activity = teams_activity(connector_url, text="help")
    good = issuer.token(audience=APP_ID, service_url=activity["serviceUrl"])
    forged = issuer.token(audience=APP_ID, service_url=activity["serviceUrl"], forged=True)
    expired = issuer.token(
        audience=APP_ID, service_url=activity["serviceUrl"], issued_ago=7200, lifetime=600
    )
    Sent.values += [good, forged, expired]

    assert await _post(bot, activity, f"Bearer {good}") != 401
    for refused in (f"Bearer {forged}", f"Bearer {expired}", "Bearer not.a.jwt", None):
        assert await _post(bot, teams_activity(connector_url, text="help"), refused) == 401


async def _settled(dlbot: Dlbot, request_id: str, status: RequestStatus) -> ApprovalRequest:
    async def reached() -> Any:
        request = await dlbot.approvals.get(request_id)
        return request if request.status is status else None

    return await eventually(reached, within=30)


async def test_a_request_approved_by_a_signed_click_is_carried_out_after_a_token_renewal(
    bot: str, dlbot: Dlbot, sandbox: ThreadedSandbox, issuer: TokenIssuer, connector_url: str
) -> None:
    first_token = await dlbot.exchange.tokens.token()
    with correlation(new_correlation_id()):
        submitted = await dlbot.approvals.submit(
            kind=RequestKind.JOIN,
            requester=demo.ALEX,
            group=demo.FINANCE_EMEA,
            justification="moved to EMEA",
        )
    # Every token Exchange accepted so far is now refused: the next call gets a 401, and the
    # client fetches a new token through msal and tries once more.
    sandbox.revoke_tokens()
    issued = sandbox.tokens_issued
    click = teams_activity(
        connector_url,
        type="invoke",
        text=None,
        name="adaptiveCard/action",
        value={
            "action": {
                "type": "Action.Execute",
                "verb": "approve",
                "data": {"requestId": submitted.request.id},
            }
        },
        object_id=demo.MEGAN.object_id,
        conversation_id="a:personal-meganb",
    )
    signed = issuer.token(audience=APP_ID, service_url=click["serviceUrl"])
    Sent.values += [first_token, signed]

    assert await _post(bot, click, f"Bearer {signed}") == 200

    await _settled(dlbot, submitted.request.id, RequestStatus.COMPLETED)
    assert sandbox.tokens_issued > issued
    assert any(r.status == 401 for r in sandbox.requests)
    Sent.values.append(await dlbot.exchange.tokens.token())


async def test_an_exchange_call_that_fails_for_good_fails_the_request(
    bot: str, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    sandbox.inject(Fault("empty_403", cmdlet="Add-DistributionGroupMember"))
    try:
        with correlation(new_correlation_id()):
            submitted = await dlbot.approvals.submit(
                kind=RequestKind.JOIN,
                requester=demo.LEE,
                group=demo.IT_ANNOUNCEMENTS,
                auto_approved="open list",
            )
        await _settled(dlbot, submitted.request.id, RequestStatus.FAILED)
    finally:
        sandbox.clear_faults()


async def test_no_log_line_holds_a_secret_a_token_or_a_client_credential(
    logs: CapturedLogs,
) -> None:
    lines = logs.lines()
    loggers = {record.get("logger", "") for record in logs.records()}

    # The flows really were logged, down to the libraries at DEBUG.
    assert len(lines) > 100
    assert {"bot.app", "exchange.client", "approvals.service"} <= loggers
    assert any(name.startswith(("urllib3", "httpcore", "msal")) for name in loggers)
    assert leaks(lines, Sent.values) == []
