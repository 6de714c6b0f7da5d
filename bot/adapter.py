"""The CloudAdapter, who may talk to the bot, and what a person sees when a turn fails.

Authentication: with DLBOT_BOT_APP_ID set, every activity must carry a Bot Connector JWT
(signed by a key from DLBOT_BOT_OPENID_METADATA_URL, issued by DLBOT_BOT_TOKEN_ISSUER, for our
app id as audience, for the activity's serviceUrl); anything else is refused with 401 before a
turn runs. Without an app id nothing is checked, and outgoing connector calls carry no token
(the SDK's empty credentials): that is only for a local demo with the Agents Playground, and
the bot says so loudly at start.

Tenants: activities of tenants outside DLBOT_ALLOWED_TENANTS (default: the Exchange tenant) are
refused with 403, after authentication and before any turn.

SDK pitfalls handled here (botbuilder-python 4.17.1):
- CloudAdapter.process answers only PermissionError with 401; an expired token, a garbage
  token or an unknown key id raise other exceptions (a 500). `authenticate` maps them all.
- The OpenID metadata is fetched with blocking `requests` inside the event loop, at most once a
  day per URL (and cached per URL for the whole process): a test serving it must run its server
  in another thread, and a slow Microsoft endpoint stalls the loop that one time.
- An empty Authorization header is not "no header" to the SDK: pass None.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import requests
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ActivityEventNames, ActivityTypes
from botframework.connector.auth import (  # type: ignore[import-untyped]
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    PasswordServiceClientCredentialFactory,
)
from redis.exceptions import RedisError

from bot import sdk_fixes, texts
from bot.connector_pool import PooledBotFrameworkAuthentication
from bot.health import Metrics
from bot.invoke import error_invoke_response, send_invoke_response
from bot.settings import Settings

log = logging.getLogger(__name__)

TURN_ERROR_TEXT = "Sorry, something went wrong on my side. Please try again in a minute."
"""What the person reads when a turn fails; the reference that follows it is in the logs."""

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com"
LOGIN_URL_PREFIX = "https://login.microsoftonline.com/"

# Turns the bot starts itself (proactive messages): their errors belong to the caller.
_PROACTIVE_EVENTS = frozenset(
    {ActivityEventNames.continue_conversation, ActivityEventNames.create_conversation}
)


class Unauthenticated(Exception):
    """The request did not prove it comes from the Bot Connector for this bot."""


class AuthenticationUnavailable(Exception):
    """The signing keys could not be fetched: we cannot tell, so the caller should retry."""


class CachingCredentialFactory(PasswordServiceClientCredentialFactory):  # type: ignore[misc]
    """The SDK's factory builds new credentials, hence a new msal app with an empty token
    cache, for every turn: each reply would fetch a fresh token from Entra ID, synchronously,
    in the event loop. One credentials object per (app, scope, endpoint) keeps msal's cache."""

    def __init__(self, app_id: str | None, password: str | None, tenant_id: str | None) -> None:
        super().__init__(app_id=app_id, password=password, tenant_id=tenant_id)
        self._made: dict[tuple[Any, ...], Any] = {}

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        if key not in self._made:
            self._made[key] = await super().create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
        return self._made[key]


def create_authentication(settings: Settings) -> BotFrameworkAuthentication:
    password = settings.bot_app_password.get_secret_value() if settings.bot_app_password else None
    credentials = CachingCredentialFactory(
        app_id=settings.bot_app_id or None,
        password=password,
        tenant_id=settings.bot_app_tenant_id or None,
    )
    tenant = settings.bot_app_tenant_id or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT
    # Any parameter given makes the factory build its parameterised variant, so the metadata
    # URL and issuer come from settings (tests serve their own) and everything else is spelled
    # out with the public cloud's values.
    login_url = LOGIN_URL_PREFIX + tenant
    sdk_authentication = BotFrameworkAuthenticationFactory.create(
        validate_authority=True,
        to_channel_from_bot_login_url=login_url,
        to_channel_from_bot_oauth_scope=BOT_FRAMEWORK_SCOPE,
        to_bot_from_channel_token_issuer=settings.bot_token_issuer,
        oauth_url=BOT_FRAMEWORK_SCOPE,
        to_bot_from_channel_open_id_metadata_url=settings.bot_openid_metadata_url,
        # Teams never sends Emulator tokens; pointing their check at the channel's keys means
        # no third endpoint is ever fetched, and `authenticate` refuses them by issuer anyway.
        to_bot_from_emulator_open_id_metadata_url=settings.bot_openid_metadata_url,
        caller_id="urn:botframework:azure",
        credential_factory=credentials,
    )
    # The SDK makes new connector clients, each with new HTTP connections, for every turn;
    # this keeps them (bot/connector_pool.py).
    return PooledBotFrameworkAuthentication(
        sdk_authentication,
        credential_factory=credentials,
        login_endpoint=login_url,
        validate_authority=True,
    )


def create_adapter(settings: Settings, metrics: Metrics) -> CloudAdapter:
    if not settings.auth_enabled():
        log.warning(
            "\n%s\nDLBOT_BOT_APP_ID is not set: /api/messages accepts activities from ANYONE "
            "without authentication, and the bot sends without tokens.\nThis is only for a local "
            "demo with the Agents Playground. Never expose this process to a network.\n%s",
            "!" * 100,
            "!" * 100,
        )
    sdk_fixes.apply()  # once per process; msrest's cost per client (bot/sdk_fixes.py)
    adapter = CloudAdapter(create_authentication(settings))
    adapter.on_turn_error = turn_error_handler(metrics)
    return adapter


async def authenticate(
    adapter: CloudAdapter, settings: Settings, activity: Any, authorization: str | None
) -> AuthenticateRequestResult:
    """The SDK's check of the request, with every way of failing it named."""
    # Without an app id there is nothing to check a token against: ignore any (else the SDK
    # would still fetch Microsoft's signing keys to validate it).
    header = (authorization or None) if settings.auth_enabled() else None
    try:
        result = await adapter.bot_framework_authentication.authenticate_request(activity, header)
    except requests.RequestException as exc:
        raise AuthenticationUnavailable(f"cannot fetch the signing keys: {exc}") from exc
    except Exception as exc:  # PermissionError, jwt errors, IndexError on an unknown key id ...
        raise Unauthenticated(f"{type(exc).__name__}: {exc}") from exc
    if settings.auth_enabled():
        # The SDK also accepts Emulator tokens (any Entra token for our app id) and skill
        # tokens; Teams only ever sends the channel's.
        issuer = result.claims_identity.get_claim_value(AuthenticationConstants.ISSUER_CLAIM)
        if issuer != settings.bot_token_issuer:
            raise Unauthenticated(f"token issued by {issuer!r}, not by the Bot Connector")
    return result


def activity_tenant_id(activity: Any) -> str | None:
    """channelData.tenant.id, which Teams puts on every activity (conversation.tenantId too)."""
    channel_data = activity.channel_data
    if isinstance(channel_data, dict):
        tenant = channel_data.get("tenant")
        if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
            return str(tenant["id"])
    conversation = activity.conversation
    tenant_id = getattr(conversation, "tenant_id", None) if conversation else None
    return tenant_id if isinstance(tenant_id, str) else None


def tenant_allowed(body: dict[str, Any], allowed: frozenset[str]) -> bool:
    """Checked on the raw JSON: the SDK reads conversation.tenantId from a key spelled
    "tenantID", so Teams' conversation.tenantId never reaches the Activity object."""
    channel_data = body.get("channelData")
    tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
    tenant_id = tenant.get("id") if isinstance(tenant, dict) else None
    if not isinstance(tenant_id, str) or tenant_id.lower() not in allowed:
        return False
    # Both places name the tenant on a real activity; if they disagree, something is forged.
    conversation = body.get("conversation")
    named = (
        [conversation.get(key) for key in ("tenantId", "tenantID")]
        if isinstance(conversation, dict)
        else []
    )
    return all(other.lower() == tenant_id.lower() for other in named if isinstance(other, str))


def turn_error_handler(metrics: Metrics) -> Callable[[TurnContext, Exception], Awaitable[None]]:
    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        activity = context.activity
        if activity.type == ActivityTypes.event and activity.name in _PROACTIVE_EVENTS:
            # A proactive send failed: the messenger decides (retry, drop, report), and the
            # person must not get an apology for a message they never asked for.
            raise error
        metrics.turn_failed()
        reference = uuid.uuid4().hex[:12]
        log.error(
            "turn failed (reference %s): %s activity %s in conversation %s",
            reference,
            activity.type,
            activity.name or "",
            activity.conversation.id if activity.conversation else None,
            exc_info=error,
        )
        # Redis failing mid-turn is an outage, not a bug: the person reads the outage's words.
        said = texts.SERVICE_UNAVAILABLE if isinstance(error, RedisError) else TURN_ERROR_TEXT
        text = f"{said} (Reference: {reference})"
        try:
            if activity.type == ActivityTypes.invoke:
                # The client waits for the invoke's answer, not for a message.
                await send_invoke_response(context, error_invoke_response(500, text))
            else:
                await context.send_activity(text)
        except Exception:
            log.exception("could not tell the person about the failed turn %s", reference)

    return on_turn_error
