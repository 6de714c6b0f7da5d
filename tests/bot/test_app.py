"""The bot's HTTP application over real HTTP on loopback: the real aiohttp app and CloudAdapter,
a real redis-server, and stand-ins for the Bot Connector and its token issuer (tests/playground).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from botbuilder.core import ActivityHandler, ConversationState, TurnContext, UserState
from botbuilder.schema import Activity

from bot.adapter import TURN_ERROR_TEXT, CachingCredentialFactory, create_authentication
from bot.app import EdgeServices, build_services, create_app
from bot.settings import Settings
from bot.turn_lock import TurnLock
from tests.playground.doubles import (
    TENANT_ID,
    RecordingConnector,
    TokenIssuer,
    serve,
    teams_activity,
)

APP_ID = "3c1b4f2e-7d4a-4c59-9a51-1f0f5a7f2d10"


class EchoBot(ActivityHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.turns: list[Any] = []

    async def on_turn(self, turn_context: TurnContext) -> None:
        self.turns.append(turn_context.activity)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        if turn_context.activity.text == "fail":
            raise RuntimeError("internal detail: connection string password=hunter2")
        await turn_context.send_activity(f"echo: {turn_context.activity.text}")


class SilentBot(EchoBot):
    """Records turns and says nothing (with an app id, replying would need a real Entra ID)."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        pass


@dataclass
class Edge:
    url: str
    connector_url: str
    connector: RecordingConnector
    bot: EchoBot
    services: EdgeServices
    session: aiohttp.ClientSession

    async def post(
        self, body: Any, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.post(
            f"{self.url}/api/messages", data=json.dumps(body), headers=headers, **kwargs
        ) as response:
            await response.read()
            return response

    def activity(self, **fields: Any) -> dict[str, Any]:
        return teams_activity(self.connector_url, **fields)


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"redis_url": redis_url, "allowed_tenants": TENANT_ID}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def running_edge(
    settings: Settings, bot: EchoBot | None = None, *, serialise_turns: bool = True
) -> AsyncIterator[Edge]:
    connector = RecordingConnector()
    bot = bot or EchoBot()
    services = build_services(settings, serialise_turns=serialise_turns)
    async with (
        serve(connector.app()) as connector_url,
        serve(create_app(settings, bot, services)) as url,
        aiohttp.ClientSession() as session,
    ):
        yield Edge(url, connector_url, connector, bot, services, session)


@pytest.fixture
async def edge(redis_url: str) -> AsyncIterator[Edge]:
    async with running_edge(make_settings(redis_url)) as running:
        yield running


# Health, readiness, metrics -------------------------------------------------------------------


async def test_healthz_says_the_process_serves(edge: Edge) -> None:
    async with edge.session.get(f"{edge.url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_redis_answers(edge: Edge) -> None:
    async with edge.session.get(f"{edge.url}/readyz") as response:
        assert response.status == 200
        assert (await response.json())["checks"] == {"redis": "ok"}


async def test_readyz_names_redis_when_it_is_down() -> None:
    with socketless_port() as port:
        settings = make_settings(f"redis://127.0.0.1:{port}/0")
        async with running_edge(settings) as running:
            async with running.session.get(f"{running.url}/readyz") as response:
                body = await response.json()
    assert response.status == 503
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"].startswith("error: ")


async def test_readyz_runs_a_check_registered_after_the_app_was_built(edge: Edge) -> None:
    async def exchange_unreachable() -> None:
        raise ConnectionError("no route to outlook.office365.com")

    edge.services.readiness_checks["exchange"] = exchange_unreachable
    async with edge.session.get(f"{edge.url}/readyz") as response:
        body = await response.json()
    assert response.status == 503
    assert body["failed"] == ["exchange"]
    assert body["checks"] == {"redis": "ok", "exchange": "error: ConnectionError"}


async def test_metrics_count_activities_by_type_in_prometheus_text(edge: Edge) -> None:
    await edge.post(edge.activity(text="one"))
    await edge.post(edge.activity(text="two"))
    await edge.post(edge.activity(type="madeUpType"))
    async with edge.session.get(f"{edge.url}/metrics") as response:
        text = await response.text()
        content_type = response.headers["Content-Type"]
    assert content_type.startswith("text/plain; version=0.0.4")
    assert 'dlbot_activities_received_total{type="message"} 2' in text
    assert 'dlbot_activities_received_total{type="other"} 1' in text
    assert "# TYPE dlbot_turn_errors_total counter" in text


# Bad input is refused, never a 500 -------------------------------------------------------------


async def test_a_body_that_is_not_json_content_is_415(edge: Edge) -> None:
    async with edge.session.post(
        f"{edge.url}/api/messages", data=b"type=message", headers={"Content-Type": "text/plain"}
    ) as response:
        assert response.status == 415
    assert edge.bot.turns == []


async def test_invalid_json_is_400(edge: Edge) -> None:
    async with edge.session.post(
        f"{edge.url}/api/messages",
        data=b'{"type": "message",',
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "bad_request"


async def test_absurdly_deep_json_is_400(edge: Edge) -> None:
    async with edge.session.post(
        f"{edge.url}/api/messages",
        data=b"[" * 100_000 + b"]" * 100_000,
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400


@pytest.mark.parametrize(
    "body",
    [
        [],
        "message",
        42,
        None,
        {},
        {"type": "message"},
        {"type": 7, "channelId": "msteams", "serviceUrl": "http://x", "conversation": {"id": "c"}},
        {"type": "message", "channelId": "msteams", "serviceUrl": "http://x"},
        {"type": "message", "channelId": "msteams", "serviceUrl": "http://x", "conversation": "c"},
        {"type": "message", "channelId": "msteams", "conversation": {"id": "c"}},
        {"type": "", "channelId": "msteams", "serviceUrl": "http://x", "conversation": {"id": "c"}},
        {
            "type": "message",
            "channelId": "msteams",
            "serviceUrl": "http://x",
            "conversation": {"id": "c"},
            "timestamp": "not a time",
        },
        {
            "type": "message",
            "channelId": "msteams",
            "serviceUrl": "http://x",
            "conversation": {"id": "c"},
            "membersAdded": "everyone",
        },
    ],
    ids=lambda body: repr(body)[:40],
)
async def test_json_that_is_not_an_activity_is_400(edge: Edge, body: Any) -> None:
    response = await edge.post(body)
    assert response.status == 400
    assert edge.bot.turns == []


async def test_a_body_over_the_limit_is_413(redis_url: str) -> None:
    settings = make_settings(redis_url, max_request_bytes=4096)
    async with running_edge(settings) as running:
        response = await running.post(running.activity(text="x" * 5000))
        assert response.status == 413
        assert running.bot.turns == []


async def test_a_chunked_body_over_the_limit_is_413_too(redis_url: str) -> None:
    settings = make_settings(redis_url, max_request_bytes=4096)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type": "message", "text": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    async with running_edge(settings) as running:
        async with running.session.post(
            f"{running.url}/api/messages",
            data=chunks(),
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 413
        assert running.bot.turns == []


# A turn, and a turn that fails --------------------------------------------------------------


async def test_a_message_is_answered_through_the_activitys_service_url_without_a_token(
    edge: Edge,
) -> None:
    response = await edge.post(edge.activity(text="hello"))
    assert response.status == 201
    [reply] = edge.connector.sent()
    assert reply["text"] == "echo: hello"
    assert reply["conversation"]["id"] == "a:personal-alexw"
    # No app id: the SDK must not have asked Entra ID for a token, nor sent one.
    [request] = edge.connector.requests
    assert "Authorization" not in request.headers


async def test_a_failed_turn_tells_the_person_briefly_and_logs_the_cause_with_a_reference(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.adapter"):
        response = await edge.post(edge.activity(text="fail"))
    assert response.status == 201
    [reply] = edge.connector.sent()
    assert reply["text"].startswith(TURN_ERROR_TEXT)
    assert "hunter2" not in reply["text"] and "Traceback" not in reply["text"]
    reference = reply["text"].rsplit("Reference: ", 1)[1].rstrip(")")
    [record] = [r for r in caplog.records if reference in r.getMessage()]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])
    assert edge.services.metrics.turn_errors == 1


class FailingInvokes(EchoBot):
    async def on_invoke_activity(self, turn_context: TurnContext) -> Any:
        raise RuntimeError("boom")


async def test_a_failed_invoke_answers_with_an_error_the_client_shows(redis_url: str) -> None:
    async with running_edge(make_settings(redis_url), FailingInvokes()) as running:
        async with running.session.post(
            f"{running.url}/api/messages",
            json=running.activity(
                type="invoke",
                name="adaptiveCard/action",
                value={"action": {"type": "Action.Execute", "verb": "approve"}},
            ),
        ) as response:
            body = await response.json()
        assert response.status == 200
        assert body["statusCode"] == 500
        assert body["type"] == "application/vnd.microsoft.error"
        assert body["value"]["message"].startswith(TURN_ERROR_TEXT)
        assert running.connector.sent() == []  # the answer is the invoke response, no message


async def test_an_answered_invoke_is_counted_by_result(redis_url: str) -> None:
    async with running_edge(make_settings(redis_url), FailingInvokes()) as running:
        await running.post(
            running.activity(type="invoke", name="adaptiveCard/action", value={"action": {}})
        )
        async with running.session.get(f"{running.url}/metrics") as response:
            text = await response.text()
    assert (
        'dlbot_invoke_responses_total{name="adaptiveCard/action",status="200",'
        'type="application/vnd.microsoft.error"} 1'
    ) in text
    assert "dlbot_turn_errors_total 1" in text


async def test_a_conversation_held_too_long_by_another_process_is_503_retry_later(
    redis_url: str,
) -> None:
    settings = make_settings(redis_url, turn_lock_wait_seconds=0.2)
    async with running_edge(settings) as running:
        other_process = TurnLock(running.services.redis)
        async with other_process.hold("msteams/a:personal-alexw"):
            response = await running.post(running.activity())
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert running.bot.turns == []


async def test_an_unreachable_redis_is_503_not_500() -> None:
    with socketless_port() as port:
        async with running_edge(make_settings(f"redis://127.0.0.1:{port}/0")) as running:
            response = await running.post(running.activity())
    assert response.status == 503
    assert running.bot.turns == []


# Tenants ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}},
        {"channelData": {}, "conversation": {"id": "a:c", "conversationType": "personal"}},
        {
            # channelData names the allowed tenant, the conversation another: forged.
            "conversation": {
                "id": "a:c",
                "conversationType": "personal",
                "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            }
        },
    ],
    ids=["foreign tenant", "no tenant", "tenants disagree"],
)
async def test_an_activity_from_a_tenant_not_served_is_403_before_any_turn(
    edge: Edge, change: dict[str, Any]
) -> None:
    activity = edge.activity()
    activity.update(change)
    response = await edge.post(activity)
    assert response.status == 403
    assert edge.bot.turns == []
    assert edge.connector.requests == []
    assert edge.services.metrics.refused("tenant") == 1


async def test_without_an_allow_list_only_the_exchange_tenant_is_served(redis_url: str) -> None:
    settings = make_settings(redis_url, allowed_tenants="", exchange_tenant=TENANT_ID.upper())
    async with running_edge(settings) as running:
        assert (await running.post(running.activity())).status == 201
        other = running.activity(tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47")
        assert (await running.post(other)).status == 403


async def test_an_allow_list_serves_each_tenant_it_names(redis_url: str) -> None:
    second = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    settings = make_settings(redis_url, allowed_tenants=f" {TENANT_ID} , {second} ")
    async with running_edge(settings) as running:
        assert (await running.post(running.activity())).status == 201
        assert (await running.post(running.activity(tenant_id=second))).status == 201


# Authentication (an app id is configured) ----------------------------------------------------


@pytest.fixture
def issuer() -> Any:
    with TokenIssuer() as running:
        yield running


@asynccontextmanager
async def authenticated_edge(redis_url: str, issuer: TokenIssuer) -> AsyncIterator[Edge]:
    settings = make_settings(
        redis_url,
        bot_app_id=APP_ID,
        bot_app_password="not-used-offline",
        bot_openid_metadata_url=issuer.metadata_url,
        bot_token_issuer=issuer.issuer,
    )
    async with running_edge(settings, SilentBot()) as running:
        yield running


async def test_a_token_signed_by_the_channel_for_this_bot_is_accepted(
    redis_url: str, issuer: TokenIssuer
) -> None:
    async with authenticated_edge(redis_url, issuer) as running:
        activity = running.activity()
        token = issuer.token(audience=APP_ID, service_url=activity["serviceUrl"])
        response = await running.post(activity, headers={"Authorization": f"Bearer {token}"})
        assert response.status == 201
        assert len(running.bot.turns) == 1


def _bad_authorizations(issuer: TokenIssuer, service_url: str) -> dict[str, str | None]:
    """Authorization headers that must not get an activity in (None: no header at all)."""

    def bearer(**kwargs: Any) -> str:
        kwargs.setdefault("audience", APP_ID)
        kwargs.setdefault("service_url", service_url)
        return "Bearer " + issuer.token(**kwargs)

    return {
        "no token": None,
        "empty header": "",
        "not a bearer token": "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "garbage": "Bearer not.a.jwt",
        "forged signature": bearer(forged=True),
        "unknown key id": bearer(kid="other"),
        "expired": bearer(issued_ago=7200, lifetime=600),  # the SDK allows 5 minutes of skew
        "another bot's": bearer(audience="another-app-id"),
        "another issuer": bearer(issuer="https://evil.test"),
        "another service url": bearer(service_url="https://evil.test/"),
        # What the Bot Framework Emulator sends: the SDK takes it, Teams never sends it.
        "emulator": bearer(
            issuer="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
            ver="1.0",
            appid=APP_ID,
        ),
    }


async def test_a_request_without_a_valid_channel_token_is_401_and_no_turn_runs(
    redis_url: str, issuer: TokenIssuer
) -> None:
    async with authenticated_edge(redis_url, issuer) as running:
        activity = running.activity()
        outcomes = {}
        for name, header in _bad_authorizations(issuer, activity["serviceUrl"]).items():
            headers = None if header is None else {"Authorization": header}
            outcomes[name] = (await running.post(activity, headers=headers)).status
        assert outcomes == {name: 401 for name in outcomes}
        assert running.bot.turns == []
        assert running.connector.requests == []


async def test_authentication_comes_before_the_tenant_check(
    redis_url: str, issuer: TokenIssuer
) -> None:
    async with authenticated_edge(redis_url, issuer) as running:
        response = await running.post(
            running.activity(tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47")
        )
        assert response.status == 401


async def test_pin_an_empty_authorization_header_breaks_the_sdks_parameterised_auth(
    redis_url: str,
) -> None:
    # CloudAdapter.process passes "" when there is no header; the parameterised authentication
    # takes "" for a token and crashes. Our handler passes None.
    authentication = create_authentication(make_settings(redis_url))
    activity = Activity().deserialize(teams_activity("http://127.0.0.1:9/"))
    with pytest.raises(AttributeError):
        await authentication.authenticate_request(activity, "")
    result = await authentication.authenticate_request(activity, None)
    assert result.claims_identity.is_authenticated


@pytest.mark.parametrize("header", ["", "Bearer eyJhbGciOiJub25lIn0.e30."])
async def test_without_an_app_id_an_authorization_header_is_ignored(
    edge: Edge, header: str
) -> None:
    response = await edge.post(edge.activity(), headers={"Authorization": header})
    assert response.status == 201


def test_without_an_app_id_the_app_warns_loudly(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.adapter"):
        build_services(make_settings(redis_url))
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "DLBOT_BOT_APP_ID is not set" in warning.getMessage()
    assert "ANYONE" in warning.getMessage()


def test_with_an_app_id_there_is_no_warning(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.adapter"):
        build_services(make_settings(redis_url, bot_app_id=APP_ID))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_credentials_are_made_once_per_app_and_scope_so_msal_caches_the_token() -> None:
    factory = CachingCredentialFactory(APP_ID, "secret", None)
    scope, login = (
        "https://api.botframework.com",
        "https://login.microsoftonline.com/botframework.com",
    )
    first = await factory.create_credentials(APP_ID, scope, login, True)
    again = await factory.create_credentials(APP_ID, scope, login, True)
    other_scope = await factory.create_credentials(APP_ID, "https://other", login, True)
    assert first is again
    assert other_scope is not first


# One turn at a time per conversation --------------------------------------------------------


class CountingBot(EchoBot):
    """Reads a counter from conversation and user state, yields, writes it back: the classic
    lost-update race when two turns of one conversation overlap."""

    def __init__(self, services: EdgeServices) -> None:
        super().__init__()
        self.conversation_state = ConversationState(services.storage)
        self.user_state = UserState(services.storage)
        self._in_conversation = self.conversation_state.create_property("count")
        self._for_user = self.user_state.create_property("count")

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        conversation_count = await self._in_conversation.get(turn_context, lambda: 0)
        user_count = await self._for_user.get(turn_context, lambda: 0)
        await asyncio.sleep(0.01)  # as a turn that calls Exchange would
        await self._in_conversation.set(turn_context, conversation_count + 1)
        await self._for_user.set(turn_context, user_count + 1)
        await self.conversation_state.save_changes(turn_context)
        await self.user_state.save_changes(turn_context)


async def _twenty_at_once(redis_url: str, *, serialise_turns: bool) -> tuple[int, int, list[int]]:
    settings = make_settings(redis_url)
    services = build_services(settings, serialise_turns=serialise_turns)
    bot = CountingBot(services)
    connector = RecordingConnector()
    async with (
        serve(connector.app()) as connector_url,
        serve(create_app(settings, bot, services)) as url,
        aiohttp.ClientSession() as session,
    ):

        async def post(text: str) -> int:
            activity = teams_activity(connector_url, text=text)
            async with session.post(f"{url}/api/messages", json=activity) as response:
                return response.status

        assert await post("first") == 201  # the state exists, so every later save is conditional
        statuses = await asyncio.gather(*(post(f"message {n}") for n in range(20)))
        stored = await services.storage.read(["msteams/conversations/a:personal-alexw"])
        count = stored["msteams/conversations/a:personal-alexw"]["count"]
        return services.metrics.turn_errors, count, statuses


async def test_twenty_concurrent_messages_to_one_conversation_never_conflict(
    redis_url: str,
) -> None:
    errors, count, statuses = await _twenty_at_once(redis_url, serialise_turns=True)
    assert statuses == [201] * 20
    assert errors == 0
    assert count == 21


async def test_without_the_turn_lock_the_same_messages_conflict(redis_url: str) -> None:
    errors, count, _ = await _twenty_at_once(redis_url, serialise_turns=False)
    assert errors > 0  # ETagConflict in save_changes, reported by on_turn_error
    assert count < 21  # and the surviving saves lost updates


async def _hmget_calls(redis_url: str) -> int:
    import redis.asyncio as redis

    async with redis.Redis.from_url(redis_url) as client:
        stats = await client.info("commandstats")
    return int(stats.get("cmdstat_hmget", {}).get("calls", 0))


async def test_a_turn_reads_its_conversation_state_in_the_round_trip_that_takes_its_lock(
    redis_url: str,
) -> None:
    settings = make_settings(redis_url)
    services = build_services(settings)
    bot = CountingBot(services)
    connector = RecordingConnector()
    async with (
        serve(connector.app()) as connector_url,
        serve(create_app(settings, bot, services)) as url,
        aiohttp.ClientSession() as session,
    ):

        async def post(text: str) -> None:
            activity = teams_activity(connector_url, text=text)
            async with session.post(f"{url}/api/messages", json=activity) as response:
                assert response.status == 201

        # The first turn makes the states (the SDK reads a state it found empty again).
        await post("first")
        before = await _hmget_calls(redis_url)
        for n in range(3):
            await post(f"message {n}")
        during = await _hmget_calls(redis_url) - before
        stored = await services.storage.read(["msteams/conversations/a:personal-alexw"])
    assert stored["msteams/conversations/a:personal-alexw"]["count"] == 4
    # Per turn: the conversation state with the lock, the user state on its own (it is not
    # the conversation's, so the lock cannot know its key).
    assert during == 3 * 2


class socketless_port:  # noqa: N801  (used like a function in `with`)
    """A loopback port nobody listens on, for as long as the block runs."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
