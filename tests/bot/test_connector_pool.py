"""Replies travel on kept connections: the real app and CloudAdapter, a real redis-server, and a
Bot Connector stand-in on loopback that notes which TCP connection each call came on."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import botbuilder.schema
import botbuilder.schema.teams
from aiohttp import web
from botbuilder.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
from botbuilder.schema import (
    CardAction,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    HeroCard,
)
from botframework.connector.aio import ConnectorClient  # type: ignore[import-untyped]
from botframework.connector.auth import (  # type: ignore[import-untyped]
    ClaimsIdentity,
    MicrosoftAppCredentials,
)
from msrest.serialization import Model

from bot.adapter import create_authentication
from bot.app import EdgeServices, build_services, create_app
from bot.connector_pool import MAX_CLIENTS, _new_client
from bot.settings import Settings
from tests.playground.doubles import TENANT_ID, serve, teams_activity

TURNS = 30


class EchoBot(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(f"echo: {turn_context.activity.text}")


@dataclass
class CountingConnector:
    """Answers sends and replies; remembers the client end of the connection each came on."""

    peers: list[tuple[str, int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        return app

    async def _send(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.peers.append(request.transport.get_extra_info("peername")[:2])
        self.user_agents.append(request.headers.get("User-Agent", ""))
        self.texts.append((await request.json()).get("text"))
        return web.json_response({"id": f"activity-{len(self.texts)}"}, status=201)

    def connections(self) -> int:
        return len(set(self.peers))


@dataclass
class Edge:
    url: str
    connector_url: str
    connector: CountingConnector
    services: EdgeServices
    session: aiohttp.ClientSession

    async def say(self, text: str, conversation: str = "a:personal-alexw") -> int:
        body = teams_activity(self.connector_url, text=text, conversation_id=conversation)
        async with self.session.post(
            f"{self.url}/api/messages",
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
        ) as response:
            await response.read()
            return response.status


@asynccontextmanager
async def running_edge(redis_url: str) -> AsyncIterator[Edge]:
    settings = Settings(_env_file=None, redis_url=redis_url, allowed_tenants=TENANT_ID)
    connector = CountingConnector()
    services = build_services(settings)
    async with (
        serve(connector.app()) as connector_url,
        serve(create_app(settings, EchoBot(), services)) as url,
        aiohttp.ClientSession() as session,
    ):
        yield Edge(url, connector_url, connector, services, session)


async def test_replies_of_many_turns_in_a_row_share_one_tcp_connection(redis_url: str) -> None:
    async with running_edge(redis_url) as edge:
        for turn in range(TURNS):
            assert await edge.say(f"hello {turn}") == 201
        assert edge.connector.texts == [f"echo: hello {turn}" for turn in range(TURNS)]
        assert edge.connector.connections() == 1


async def test_concurrent_turns_open_no_more_connections_than_run_at_once(
    redis_url: str,
) -> None:
    async with running_edge(redis_url) as edge:
        for wave in range(3):
            statuses = await asyncio.gather(
                *(edge.say(f"wave {wave}", conversation=f"a:user-{i}") for i in range(5))
            )
            assert statuses == [201] * 5
        assert len(edge.connector.texts) == 15
        # Three waves of five: a new connection per reply would make fifteen.
        assert edge.connector.connections() <= 5


async def test_a_kept_client_names_the_sdk_in_its_user_agent_once(redis_url: str) -> None:
    async with running_edge(redis_url) as edge:
        for turn in range(3):
            await edge.say(f"hello {turn}")
        assert len(set(edge.connector.user_agents)) == 1
        assert edge.connector.user_agents[0].count("Microsoft-BotFramework/3.1") == 1


async def test_proactive_messages_use_the_same_kept_connection_as_replies(
    redis_url: str,
) -> None:
    async with running_edge(redis_url) as edge:
        await edge.say("hello")
        reference = ConversationReference(
            channel_id="msteams",
            service_url=edge.connector_url,
            conversation=ConversationAccount(id="a:personal-alexw", tenant_id=TENANT_ID),
            bot=ChannelAccount(id="28:dlbot-test"),
        )

        async def tell(turn_context: TurnContext) -> None:
            await turn_context.send_activity("a proactive hello")

        adapter: Any = edge.services.adapter
        for _ in range(3):
            await adapter.continue_conversation(reference, tell, bot_app_id=None)
        assert edge.connector.texts[1:] == ["a proactive hello"] * 3
        assert edge.connector.connections() == 1


async def test_the_kept_clients_are_bounded_whatever_service_urls_activities_name() -> None:
    # Without authentication anyone may name any serviceUrl: the cache must not grow with them.
    authentication = create_authentication(
        Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0")
    )
    factory = authentication.create_connector_factory(ClaimsIdentity({}, True))
    first = await factory.create("http://127.0.0.1:9/a", None)
    assert await factory.create("http://127.0.0.1:9/a", None) is first
    for number in range(MAX_CLIENTS + 10):
        await factory.create(f"http://127.0.0.1:9/{number}", None)
    assert authentication.clients() == MAX_CLIENTS
    assert await factory.create("http://127.0.0.1:9/a", None) is not first


def _models(module: Any) -> list[type[Model]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Model) and value is not Model
    ]


def test_no_model_a_connector_client_serialises_has_a_validation_rule() -> None:
    # What the kept clients skip (client-side validation) could therefore never refuse a body.
    models = _models(botbuilder.schema) + _models(botbuilder.schema.teams)
    assert len(models) > 50
    assert [m.__name__ for m in models if getattr(m, "_validation", None)] == []


def test_a_kept_client_serialises_a_choice_card_as_the_sdks_own_client_does() -> None:
    card = CardFactory.hero_card(
        HeroCard(
            text="Which of these did you mean?",
            buttons=[CardAction(type="imBack", title=t, value=t) for t in ("A", "B")],
        )
    )
    reply = MessageFactory.attachment(card, text="pick one")
    reply.conversation = ConversationAccount(id="a:personal-alexw")
    credentials = MicrosoftAppCredentials(None, None)  # what the SDK uses without an app id
    kept = _new_client(credentials, "https://smba.example/")
    stock = ConnectorClient(credentials, base_url="https://smba.example/")
    assert stock._serialize.client_side_validation
    assert not kept._serialize.client_side_validation
    assert kept._serialize.body(copy.deepcopy(reply), "Activity") == stock._serialize.body(
        copy.deepcopy(reply), "Activity"
    )
