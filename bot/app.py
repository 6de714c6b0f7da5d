"""The bot's HTTP application: POST /api/messages, GET /healthz, /readyz, /metrics.

    services = build_services(settings)          # wired, not connected: no I/O yet
    bot = DlBot(conversation_state=ConversationState(services.storage), ...)
    app = create_app(settings, bot, services)    # Redis is checked at start, closed at cleanup

/api/messages, in order, and nothing reaches a turn that fails a step:
  415 not application/json; 413 body larger than DLBOT_MAX_REQUEST_BYTES; 400 not JSON, or not
  an activity (type, channelId, serviceUrl, conversation.id); 401 not from the Bot Connector for
  this bot (bot/adapter.py); 503 signing keys unavailable; 403 tenant not allowed; then the turn
  runs holding its conversation's turn lock (503 if the lock or Redis can't be had in time).
  Invokes answer with the bot's InvokeResponse; other activities with 201 (as the SDK does).
A turn that raises is handled by the adapter's on_turn_error (the person is told, the cause is
logged with a reference); anything escaping even that is a 500 with the reference, never a trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web
from botbuilder.core import Bot, InvokeResponse, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from msrest.serialization import Model
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import texts
from bot.adapter import (
    AuthenticationUnavailable,
    Unauthenticated,
    authenticate,
    create_adapter,
    tenant_allowed,
)
from bot.health import Metrics, ReadinessCheck, health_routes
from bot.invoke import error_invoke_response, send_invoke_response
from bot.logs import bind_correlation, fresh_context, new_correlation_id
from bot.messenger import ProactiveMessenger
from bot.references import ConversationReferences, ReferenceMiddleware
from bot.schema_codec import SCHEMA
from bot.settings import Settings
from bot.storage import RedisStorage, conversation_state_key
from bot.turn_lock import TurnLock, TurnLockTimeout

log = logging.getLogger(__name__)


@dataclass
class EdgeServices:
    """What the Teams edge is made of; the bot's handler, notifier and worker use these."""

    redis: Redis
    adapter: CloudAdapter
    storage: RedisStorage
    references: ConversationReferences
    messenger: ProactiveMessenger
    metrics: Metrics
    turn_lock: TurnLock | None  # None only in the test that shows why it exists
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)


REDIS_CONNECT_TIMEOUT_SECONDS = 5.0
REDIS_COMMAND_TIMEOUT_SECONDS = 10.0

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", EdgeServices)
BOT = web.AppKey("bot", Bot)


def build_services(settings: Settings, *, serialise_turns: bool = True) -> EdgeServices:
    """Everything wired, nothing connected (redis-py connects on first use)."""
    if not settings.redis_url:
        raise ValueError("DLBOT_REDIS_URL is empty: start a Redis first (dlbot serve does)")
    # Bounded waits: a Redis that stopped answering must fail a turn, not hang it forever.
    redis = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REDIS_COMMAND_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
    metrics = Metrics()
    adapter = create_adapter(settings, metrics)
    references = ConversationReferences(redis)
    adapter.use(ReferenceMiddleware(references))
    turn_lock = (
        TurnLock(
            redis,
            ttl_seconds=settings.turn_lock_ttl_seconds,
            wait_seconds=settings.turn_lock_wait_seconds,
        )
        if serialise_turns
        else None
    )
    services = EdgeServices(
        redis=redis,
        adapter=adapter,
        storage=RedisStorage(redis),
        references=references,
        messenger=ProactiveMessenger(adapter, references, settings),
        metrics=metrics,
        turn_lock=turn_lock,
    )

    async def redis_answers() -> None:
        await cast(Awaitable[bool], redis.ping())

    services.readiness_checks["redis"] = redis_answers
    return services


def create_app(
    settings: Settings, bot: Bot, services: EdgeServices | None = None
) -> web.Application:
    if services is None:
        services = build_services(settings)
    app = web.Application(client_max_size=settings.max_request_bytes, middlewares=[fresh_context])
    app[SETTINGS] = settings
    app[SERVICES] = services
    app[BOT] = bot
    app.cleanup_ctx.append(_redis_lifecycle)
    app.router.add_post("/api/messages", _messages)
    app.router.add_routes(health_routes(services.readiness_checks, services.metrics))
    return app


async def _redis_lifecycle(app: web.Application) -> AsyncIterator[None]:
    redis = app[SERVICES].redis
    try:
        async with asyncio.timeout(REDIS_CONNECT_TIMEOUT_SECONDS):
            await cast(Awaitable[bool], redis.ping())
    except (RedisError, TimeoutError) as exc:
        # Not fatal: /readyz reports it, and the pool reconnects when Redis is back.
        log.warning("Redis is not reachable at start: %s", exc or type(exc).__name__)
    yield
    await redis.aclose()


def _refuse(
    metrics: Metrics, status: int, reason: str, message: str, retry_after: int | None = None
) -> web.Response:
    metrics.request_refused(reason)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response(
        {"error": {"code": reason, "message": message}}, status=status, headers=headers
    )


async def _tell_unavailable(
    adapter: CloudAdapter, auth: Any, activity: Activity
) -> InvokeResponse | None:
    """Redis is down, so no turn can run; the person is told so all the same (the Bot
    Connector needs no Redis). A message still gets its 503 and Retry-After, for the channel
    and monitoring; an invoke gets its answer. Returns the invoke's answer, if any."""

    async def tell(context: TurnContext) -> None:
        if activity.type == ActivityTypes.invoke:
            answer = error_invoke_response(503, texts.SERVICE_UNAVAILABLE)
            await send_invoke_response(context, answer)
        elif activity.type == ActivityTypes.message:
            await context.send_activity(texts.SERVICE_UNAVAILABLE)

    try:
        return cast(InvokeResponse | None, await adapter.process_activity(auth, activity, tell))
    except Exception:  # noqa: BLE001 - the 503 that follows is the answer either way
        log.warning("could not tell the person that Redis is down", exc_info=True)
        return None


def _activity(body: Any) -> Activity | None:
    """The activity in `body`, or None. The fields every turn needs are checked on the raw
    JSON: msrest turns a number into a string where it expects one."""
    if not isinstance(body, dict):
        return None
    conversation = body.get("conversation")
    required = (
        body.get("type"),
        body.get("channelId"),
        body.get("serviceUrl"),
        conversation.get("id") if isinstance(conversation, dict) else None,
    )
    if not all(isinstance(value, str) and value for value in required):
        return None
    # As msrest reads it, a quarter of the work (bot/schema_codec.py).
    planned = SCHEMA.decode(Activity, body)
    if planned is not None:
        return cast(Activity, planned)
    try:
        return Activity().deserialize(body)
    except Exception:  # msrest raises several kinds on wrongly typed fields
        return None


def _invoke_json(body: Any) -> Any:
    # The SDK passes every body through msrest, which crashes on a dict (bot/invoke.py); a dict
    # is already JSON-shaped, so only models are serialised.
    return serializer_helper(body) if isinstance(body, Model) else body


def _body_type(body: Any) -> str | None:
    value = body.get("type") if isinstance(body, dict) else getattr(body, "type", None)
    return value if isinstance(value, str) else None


async def _messages(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    services = request.app[SERVICES]
    metrics = services.metrics
    if request.content_type != "application/json":
        return _refuse(metrics, 415, "unsupported_media_type", "send application/json")
    if request.content_length is not None and request.content_length > settings.max_request_bytes:
        return _refuse(metrics, 413, "too_large", "the activity is too large")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _refuse(metrics, 413, "too_large", "the activity is too large")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return _refuse(metrics, 400, "bad_request", "the body is not JSON")
    activity = _activity(body)
    if activity is None:
        return _refuse(metrics, 400, "bad_request", "the body is not an activity")
    metrics.activity_received(activity.type)
    # Everything logged from here on, down to the Exchange calls, carries this id.
    bind_correlation(new_correlation_id(activity.id))
    log.info(
        "%s activity received",
        activity.type,
        extra={"activity_type": activity.type, "activity_name": activity.name},
    )

    try:
        auth = await authenticate(
            services.adapter, settings, activity, request.headers.get("Authorization")
        )
    except Unauthenticated as exc:
        log.warning("refused an unauthenticated %s activity: %s", activity.type, exc)
        return _refuse(metrics, 401, "unauthenticated", "not signed by the Bot Connector")
    except AuthenticationUnavailable as exc:
        log.error("cannot authenticate activities now: %s", exc)
        return _refuse(
            metrics, 503, "auth_unavailable", "cannot verify the request now", retry_after=5
        )
    if not tenant_allowed(body, settings.allowed_tenant_ids()):
        log.warning("refused a %s activity from a tenant that is not allowed", activity.type)
        return _refuse(metrics, 403, "tenant", "this tenant is not served by this bot")

    lock_key = f"{activity.channel_id}/{activity.conversation.id}"
    # The turn's first Redis read is its conversation state: it comes in the lock's round trip.
    state_key = conversation_state_key(activity.channel_id, activity.conversation.id)
    lock: AbstractAsyncContextManager[list[Any] | None] = (
        services.turn_lock.hold(lock_key, also_read=services.storage.fields_of(state_key))
        if services.turn_lock
        else nullcontext()
    )
    turn_ran = False
    try:
        async with lock as state_row:
            turn_ran = True
            with services.storage.preloaded(state_key, state_row):
                response: InvokeResponse | None = await services.adapter.process_activity(
                    auth, activity, request.app[BOT].on_turn
                )
    except TurnLockTimeout as exc:
        log.warning("%s", exc)
        return _refuse(metrics, 503, "busy", "the conversation is busy", retry_after=1)
    except RedisError as exc:
        log.error("Redis failed around a turn: %s", exc)
        if not turn_ran:
            told = await _tell_unavailable(services.adapter, auth, activity)
            if told is not None:  # an invoke: Teams shows its message only from a 200
                metrics.request_refused("store_unavailable")
                return web.json_response(_invoke_json(told.body), status=told.status)
        return _refuse(metrics, 503, "store_unavailable", "state store unavailable", retry_after=5)
    except Exception:
        reference = uuid.uuid4().hex[:12]
        log.exception("turn failed beyond on_turn_error (reference %s)", reference)
        metrics.turn_failed()
        return web.json_response(
            {"error": {"code": "internal", "message": "internal error", "reference": reference}},
            status=500,
        )

    if activity.type == ActivityTypes.invoke and response is not None:
        metrics.invoke_answered(activity.name, response.status, _body_type(response.body))
        return web.json_response(_invoke_json(response.body), status=response.status)
    if response is not None:  # expectReplies delivery: the replies travel in the body
        return web.json_response(_invoke_json(response.body), status=response.status)
    return web.Response(status=201)
