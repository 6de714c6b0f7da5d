"""Where the bot can reach each person later: conversation references in Redis, by Entra object id.

Every turn teaches the bot something (ReferenceMiddleware calls `remember`):
- personal:{oid}     the 1:1 chat with that person (personal conversations only: a card for an
                     approver must never land in a group chat), as a ConversationReference;
- conversation:{id}  the same reference by conversation id, to update a card posted there;
- user:{oid}         the person's Teams user id (29:...) and tenant, from any conversation, so
                     a 1:1 chat can be opened with the id Teams knows;
- tenant:{tid}       the tenant's Bot Connector (serviceUrl) and the bot's account in it.

It runs on every turn, so it builds a reference's JSON once per distinct sender and chat, and
writes only what changed: a small in-process memory of what was
written recently skips Redis entirely for the common case, and a Lua "set if different" makes
the one pipelined round trip otherwise a no-op. The memory expires, so data Redis lost (a
failover without persistence) is written again within minutes.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import Middleware, TurnContext
from botbuilder.schema import ChannelAccount, ConversationReference
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from bot.adapter import activity_tenant_id
from bot.schema_codec import SCHEMA

log = logging.getLogger(__name__)

_SET_IF_DIFFERENT = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return 0
end
redis.call("SET", KEYS[1], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class TeamsUser:
    user_id: str  # the Teams user id (29:...), what the Bot Connector calls the member's id
    tenant_id: str


@dataclass(frozen=True)
class TenantRoute:
    service_url: str
    bot: ChannelAccount


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _reference_json(reference: ConversationReference) -> str:
    # No activity id: it changes every message and a proactive message needs none. A shallow
    # copy leaves the caller's reference as it was.
    stable = copy.copy(reference)
    stable.activity_id = None
    # msrest's JSON for it, from the schema's class plans when they cover it (bot/schema_codec.py).
    encoded = SCHEMA.encode(stable)
    return json.dumps(
        stable.serialize() if encoded is None else encoded, sort_keys=True, separators=(",", ":")
    )


def _fields(value: Any) -> Any:
    # Every attribute, with its class: whatever msrest would serialise is in the key.
    attributes = getattr(value, "__dict__", None)
    return [type(value).__qualname__, attributes if attributes is not None else repr(value)]


def _reference_inputs(activity: Any) -> str:
    """Everything TurnContext.get_conversation_reference reads but the activity id, as text:
    equal text, equal reference (the JSON is a function of these alone)."""
    return json.dumps(
        [
            activity.from_property,
            activity.recipient,
            activity.conversation,
            activity.channel_id,
            activity.locale,
            activity.service_url,
        ],
        default=_fields,
        sort_keys=True,
    )


class ConversationReferences:
    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "dlbot:ref:",
        memory_size: int = 10_000,
        memory_seconds: float = 600.0,
    ) -> None:
        self._redis = redis
        self._ns = namespace
        self._set_if_different = redis.register_script(_SET_IF_DIFFERENT)
        self._memory: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._memory_size = memory_size
        self._memory_seconds = memory_seconds
        self._references_made: OrderedDict[str, str] = OrderedDict()

    # Learning ---------------------------------------------------------------------------------

    async def remember(self, activity: Any) -> int:
        """Store what `activity` says about its sender; returns how many records changed."""
        sender = activity.from_property
        object_id = getattr(sender, "aad_object_id", None) if sender else None
        tenant_id = activity_tenant_id(activity)
        if not object_id or not tenant_id or not activity.service_url or not sender.id:
            return 0  # no person to reach (a bot, or the bot's own create-conversation turn)
        records = {
            f"user:{object_id}": json.dumps(
                {"user_id": sender.id, "tenant_id": tenant_id}, sort_keys=True
            ),
        }
        if activity.recipient is not None and activity.recipient.id:
            records[f"tenant:{tenant_id}"] = json.dumps(
                {
                    "service_url": activity.service_url,
                    "bot": {"id": activity.recipient.id, "name": activity.recipient.name},
                },
                sort_keys=True,
            )
        conversation = activity.conversation
        if conversation is not None and conversation.conversation_type == "personal":
            reference = self._reference_of(activity)
            records[f"personal:{object_id}"] = reference
            records[f"conversation:{conversation.id}"] = reference
        return await self._write(records)

    def _reference_of(self, activity: Any) -> str:
        # msrest takes about a millisecond to build the reference's JSON; a person's turns all
        # give the same one, so it is built once per distinct set of inputs.
        try:
            inputs = _reference_inputs(activity)
        except (TypeError, ValueError):  # something JSON cannot hold: build it every time
            return _reference_json(TurnContext.get_conversation_reference(activity))
        reference = self._references_made.get(inputs)
        if reference is None:
            reference = _reference_json(TurnContext.get_conversation_reference(activity))
            self._references_made[inputs] = reference
            while len(self._references_made) > self._memory_size:
                self._references_made.popitem(last=False)
        else:
            self._references_made.move_to_end(inputs)
        return reference

    async def save(self, object_id: str, reference: ConversationReference) -> None:
        """Record a 1:1 conversation the bot opened itself (ProactiveMessenger does this)."""
        document = _reference_json(reference)
        await self._write(
            {
                f"personal:{object_id}": document,
                f"conversation:{reference.conversation.id}": document,
            }
        )

    async def forget(self, object_id: str) -> None:
        """Drop the 1:1 reference (Teams said the chat is gone or the app was removed)."""
        key = f"personal:{object_id}"
        self._memory.pop(key, None)
        await self._redis.delete(self._ns + key)

    async def _write(self, records: dict[str, str]) -> int:
        now = time.monotonic()
        changed = {key: value for key, value in records.items() if not self._known(key, value, now)}
        if not changed:
            return 0
        # One script per key (keys of different hash slots can't share one on Redis Cluster),
        # all in one round trip. By EVALSHA: a redis-py script in a pipeline first asks SCRIPT
        # EXISTS, a round trip of its own every time. A server that lost the script (a
        # restart, SCRIPT FLUSH) answers NOSCRIPT, and those keys go through the script
        # object, which loads it.
        sha = self._set_if_different.sha
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, value in changed.items():
                pipe.evalsha(sha, 1, self._ns + key, value)
            results = await pipe.execute(raise_on_error=False)
        count = 0
        for (key, value), result in zip(changed.items(), results, strict=True):
            if isinstance(result, NoScriptError):
                result = await self._set_if_different(keys=[self._ns + key], args=[value])
            elif isinstance(result, Exception):
                raise result
            count += int(result)
        for key in changed:
            self._memory[key] = (changed[key], now)
            self._memory.move_to_end(key)
        while len(self._memory) > self._memory_size:
            self._memory.popitem(last=False)
        return count

    def _known(self, key: str, value: str, now: float) -> bool:
        remembered = self._memory.get(key)
        return (
            remembered is not None
            and remembered[0] == value
            and now - remembered[1] < self._memory_seconds
        )

    # Reading ----------------------------------------------------------------------------------

    async def _read_json(self, key: str) -> Any:
        raw = await self._redis.get(self._ns + key)
        return None if raw is None else json.loads(_text(raw))

    async def get(self, object_id: str) -> ConversationReference | None:
        """The 1:1 chat with this person, if the bot has one."""
        document = await self._read_json(f"personal:{object_id}")
        return None if document is None else ConversationReference().deserialize(document)

    async def for_conversation(self, conversation_id: str) -> ConversationReference | None:
        document = await self._read_json(f"conversation:{conversation_id}")
        return None if document is None else ConversationReference().deserialize(document)

    async def user(self, object_id: str) -> TeamsUser | None:
        document = await self._read_json(f"user:{object_id}")
        return None if document is None else TeamsUser(**document)

    async def tenant_route(self, tenant_id: str) -> TenantRoute | None:
        document = await self._read_json(f"tenant:{tenant_id}")
        if document is None:
            return None
        bot = ChannelAccount(id=document["bot"]["id"], name=document["bot"].get("name"))
        return TenantRoute(service_url=document["service_url"], bot=bot)


class ReferenceMiddleware(Middleware):  # type: ignore[misc]  # botbuilder ships no types
    """Remembers every sender before the turn runs; a failure here never fails the turn."""

    def __init__(self, references: ConversationReferences) -> None:
        self._references = references

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        try:
            await self._references.remember(context.activity)
        except Exception:
            log.warning("could not store the conversation reference", exc_info=True)
        await logic()
