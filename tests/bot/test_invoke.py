"""Invoke responses under CloudAdapter (botbuilder-python 4.17.1), pinned.

The SDK's own HTTP path (CloudAdapter.process) crashes on an InvokeResponse whose body is a
plain dict, and so does its ActivityHandler.on_adaptive_card_invoke path. If a release fixes
that, the pins below fail and tell us. bot/invoke.py's responses go through both the SDK's path
and ours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import AdaptiveCardInvokeResponse

from bot.app import create_app
from bot.invoke import CARD_TYPE, ERROR_TYPE, card_invoke_response, error_invoke_response
from bot.settings import Settings
from tests.playground.doubles import TENANT_ID, serve, teams_activity

CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "Approved by Megan Bowen", "wrap": True}],
}


class AnswersWith(ActivityHandler):  # type: ignore[misc]
    def __init__(self, response: InvokeResponse) -> None:
        super().__init__()
        self.response = response

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        return self.response


class UsesTheSdksCardPath(ActivityHandler):  # type: ignore[misc]
    """What the SDK documents: override on_adaptive_card_invoke, return the model."""

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContext, invoke_value: Any
    ) -> AdaptiveCardInvokeResponse:
        return AdaptiveCardInvokeResponse(status_code=200, type=CARD_TYPE, value=CARD)


def card_click(service_url: str = "http://127.0.0.1:9/") -> dict[str, Any]:
    return teams_activity(
        service_url,
        type="invoke",
        name="adaptiveCard/action",
        text=None,
        value={"action": {"type": "Action.Execute", "verb": "approve", "data": {"id": "r1"}}},
    )


class SdkEndpoint:
    """An aiohttp endpoint that is nothing but the SDK's CloudAdapter.process, as its samples
    wire it, remembering what it raised."""

    def __init__(self, bot: ActivityHandler) -> None:
        # The SDK's default authentication (public cloud, no app id). Its parameterised one,
        # which bot/adapter.py uses, cannot even take this path: CloudAdapter.process hands it
        # "" for a missing header, which it takes for a token (AttributeError on None).
        self.adapter = CloudAdapter()
        self.bot = bot
        self.raised: list[BaseException] = []

    async def messages(self, request: web.Request) -> web.StreamResponse:
        try:
            response = await self.adapter.process(request, self.bot)
        except Exception as error:
            self.raised.append(error)
            raise
        assert response is not None
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/messages", self.messages)
        return app


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _post_to_sdk(
    session: aiohttp.ClientSession, bot: ActivityHandler
) -> tuple[int, Any, list[BaseException]]:
    endpoint = SdkEndpoint(bot)
    async with serve(endpoint.app()) as url:
        async with session.post(f"{url}/api/messages", json=card_click()) as response:
            body = await response.json() if response.status == 200 else None
            return response.status, body, endpoint.raised


async def test_pin_the_sdk_crashes_on_a_plain_dict_invoke_body(
    session: aiohttp.ClientSession,
) -> None:
    dict_body = InvokeResponse(
        status=200, body={"statusCode": 200, "type": CARD_TYPE, "value": CARD}
    )
    status, _, raised = await _post_to_sdk(session, AnswersWith(dict_body))
    assert status == 500
    [error] = raised
    assert isinstance(error, AttributeError)
    assert "is_xml_model" in str(error)


async def test_pin_the_sdks_own_adaptive_card_path_crashes_too(
    session: aiohttp.ClientSession,
) -> None:
    status, _, raised = await _post_to_sdk(session, UsesTheSdksCardPath())
    assert status == 500
    assert isinstance(raised[0], AttributeError)


async def test_our_card_response_goes_through_the_sdks_path(
    session: aiohttp.ClientSession,
) -> None:
    status, body, raised = await _post_to_sdk(session, AnswersWith(card_invoke_response(CARD)))
    assert raised == []
    assert status == 200
    assert body == {"statusCode": 200, "type": CARD_TYPE, "value": CARD}


async def test_our_error_response_goes_through_the_sdks_path(
    session: aiohttp.ClientSession,
) -> None:
    response = error_invoke_response(403, "Only the list's owners can approve.")
    status, body, raised = await _post_to_sdk(session, AnswersWith(response))
    assert raised == []
    assert status == 200  # Universal Actions: the outcome is in the body
    assert body == {
        "statusCode": 403,
        "type": ERROR_TYPE,
        "value": {"code": "Forbidden", "message": "Only the list's owners can approve."},
    }


def test_an_error_code_can_be_named() -> None:
    response = error_invoke_response(409, "Already decided.", code="AlreadyDecided")
    assert response.body.value == {"code": "AlreadyDecided", "message": "Already decided."}


@pytest.mark.parametrize(
    "response",
    [
        card_invoke_response(CARD),
        InvokeResponse(status=200, body={"statusCode": 200, "type": CARD_TYPE, "value": CARD}),
    ],
    ids=["model body", "dict body"],
)
async def test_our_app_answers_an_invoke_with_either_body(
    redis_url: str, session: aiohttp.ClientSession, response: InvokeResponse
) -> None:
    settings = Settings(_env_file=None, redis_url=redis_url, allowed_tenants=TENANT_ID)
    async with serve(create_app(settings, AnswersWith(response))) as url:
        async with session.post(f"{url}/api/messages", json=card_click()) as answer:
            assert answer.status == 200
            assert await answer.json() == {"statusCode": 200, "type": CARD_TYPE, "value": CARD}
