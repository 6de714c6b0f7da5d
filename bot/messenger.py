"""Proactive delivery: a message or card to a person by Entra object id, and card updates.

send(): the stored 1:1 reference first (adapter.continue_conversation); if there is none, or
Teams says that chat is gone (403/404), open the 1:1 chat through the Bot Connector
(create_conversation, with the tenant id) and remember it. The member id is the person's Teams
user id when any activity taught it to us, else their object id (Teams accepts an Entra object
id for a personal chat with a user who has the app). When Teams refuses to open the chat (the
app is not installed for that person: 403/404), send() returns None; other errors (throttling,
outages) propagate, so the job that called can retry.

Proactive turns run through the adapter's middleware but their failures are the caller's:
on_turn_error re-raises them (see bot/adapter.py).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)

from bot.references import ConversationReferences
from bot.settings import Settings

log = logging.getLogger(__name__)

# What Teams answers when the bot may not (or can no longer) post there: app not installed,
# blocked by the user, conversation deleted, user left the tenant. The connector names some of
# these by code with a 400 (the Agents Playground says UserNotFound for someone not in it).
_REFUSED = frozenset({403, 404})
_REFUSED_CODES = frozenset(
    {"UserNotFound", "ConversationNotFound", "BotNotInConversationRoster", "ConversationBlocked"}
)
TEAMS_CHANNEL_ID = "msteams"


def _status(error: ErrorResponseException) -> int | None:
    status = getattr(error.response, "status_code", None)
    return status if isinstance(status, int) else None


def _refused(error: ErrorResponseException) -> bool:
    """Whether the connector said this person or chat cannot be reached (not a passing fault)."""
    body = getattr(error, "error", None)
    code = getattr(getattr(body, "error", None), "code", None)
    return _status(error) in _REFUSED or code in _REFUSED_CODES


class ProactiveMessenger:
    def __init__(
        self, adapter: CloudAdapter, references: ConversationReferences, settings: Settings
    ) -> None:
        self._adapter = adapter
        self._references = references
        self._settings = settings
        self._app_id = settings.bot_app_id

    async def send(self, object_id: str, activity: Activity) -> tuple[str, str] | None:
        """Post `activity` in the 1:1 chat with the person; (conversation id, activity id), or
        None when Teams will not let the bot reach them."""
        reference = await self._references.get(object_id)
        if reference is not None:
            try:
                activity_id = await self._send_to(reference, activity)
                return reference.conversation.id, activity_id
            except ErrorResponseException as error:
                if not _refused(error):
                    raise
                log.info(
                    "the stored chat with %s is gone (%s): opening a new one", object_id, error
                )
                await self._references.forget(object_id)
        return await self._open_and_send(object_id, activity)

    async def update(self, conversation_id: str, activity_id: str, activity: Activity) -> bool:
        """Replace a message the bot posted earlier (an approval card on an owner's screen)."""
        reference = await self._references.for_conversation(conversation_id)
        if reference is None:
            log.warning(
                "cannot update %s: conversation %s is unknown", activity_id, conversation_id
            )
            return False

        async def replace(context: TurnContext) -> None:
            replacement = copy.copy(activity)  # sending stamps ids and addresses on it
            replacement.id = activity_id
            await context.update_activity(replacement)

        try:
            await self._adapter.continue_conversation(reference, replace, self._app_id)
        except ErrorResponseException as error:
            if not _refused(error):
                raise
            log.info("Teams refused to update %s in %s: %s", activity_id, conversation_id, error)
            return False
        return True

    async def _send_to(self, reference: ConversationReference, activity: Activity) -> str:
        sent: dict[str, str] = {}

        async def deliver(context: TurnContext) -> None:
            # A copy: sending stamps the conversation's addresses on the activity, and the
            # caller's may be sent again (to another person, or after a stale reference).
            response = await context.send_activity(copy.copy(activity))
            sent["id"] = (response.id if response is not None else None) or ""

        await self._adapter.continue_conversation(reference, deliver, self._app_id)
        if not sent.get("id"):
            # The Agents Playground answers a message with text AND attachments (which it
            # splits in two) with 202 and no id; so would a connector that queues it.
            log.warning(
                "the connector returned no id for the message to %s", reference.conversation.id
            )
        return sent.get("id", "")

    async def _open_and_send(self, object_id: str, activity: Activity) -> tuple[str, str] | None:
        known = await self._references.user(object_id)
        tenant_id = known.tenant_id if known else self._default_tenant()
        if tenant_id is None:
            log.error("cannot open a chat with %s: no tenant is configured", object_id)
            return None
        route = await self._references.tenant_route(tenant_id)
        service_url = route.service_url if route else self._settings.bot_service_url
        bot = route.bot if route else ChannelAccount(id=f"28:{self._app_id}")
        member = ChannelAccount(id=known.user_id if known else object_id, aad_object_id=object_id)
        parameters = ConversationParameters(
            is_group=False,
            bot=bot,
            members=[member],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}},
        )
        opened: dict[str, Any] = {}

        async def deliver(context: TurnContext) -> None:
            reference = TurnContext.get_conversation_reference(context.activity)
            reference.user = member
            reference.bot = bot
            reference.conversation.conversation_type = "personal"
            response = await context.send_activity(copy.copy(activity))
            opened["reference"] = reference
            opened["id"] = (response.id if response is not None else None) or ""

        try:
            await self._adapter.create_conversation(
                self._app_id,
                deliver,
                parameters,
                channel_id=TEAMS_CHANNEL_ID,
                service_url=service_url,
            )
        except ErrorResponseException as error:
            if not _refused(error):
                raise
            log.info("Teams refused a chat with %s (app not installed?): %s", object_id, error)
            return None
        reference = opened["reference"]
        await self._references.save(object_id, reference)
        return reference.conversation.id, opened["id"]

    def _default_tenant(self) -> str | None:
        allowed = sorted(self._settings.allowed_tenant_ids())
        if len(allowed) == 1:
            return allowed[0]
        if self._settings.exchange_tenant and self._settings.exchange_tenant.lower() in allowed:
            return self._settings.exchange_tenant.lower()
        return allowed[0] if allowed else None
