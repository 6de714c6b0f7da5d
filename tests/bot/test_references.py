"""Conversation references in a real Redis: what each turn teaches, written only when changed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ConversationReference

from bot.references import ConversationReferences, ReferenceMiddleware, _reference_json
from tests.playground.doubles import ALEX_OBJECT_ID, TENANT_ID, teams_activity

SERVICE_URL = "https://smba.trafficmanager.net/emea/"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
def references(client: redis.Redis) -> ConversationReferences:
    return ConversationReferences(client)


def activity(**fields: Any) -> Activity:
    return Activity().deserialize(teams_activity(SERVICE_URL, **fields))


async def test_a_personal_chat_is_remembered_for_proactive_messages(
    references: ConversationReferences,
) -> None:
    await references.remember(activity(conversation_id="a:personal-alexw"))
    reference = await references.get(ALEX_OBJECT_ID)
    assert reference is not None
    assert reference.conversation.id == "a:personal-alexw"
    assert reference.service_url == SERVICE_URL
    assert reference.channel_id == "msteams"
    assert reference.user.aad_object_id == ALEX_OBJECT_ID
    assert reference.bot.id == "28:dlbot-test"
    assert reference.activity_id is None  # it changes every message; proactive needs none


async def test_the_same_reference_is_found_by_conversation(
    references: ConversationReferences,
) -> None:
    await references.remember(activity(conversation_id="a:personal-alexw"))
    reference = await references.for_conversation("a:personal-alexw")
    assert reference is not None and reference.user.aad_object_id == ALEX_OBJECT_ID
    assert await references.for_conversation("a:unknown") is None


async def test_a_group_chat_teaches_who_the_person_is_but_is_no_place_for_their_cards(
    references: ConversationReferences,
) -> None:
    await references.remember(
        activity(conversation_id="19:group@thread.v2", conversation_type="groupChat")
    )
    assert await references.get(ALEX_OBJECT_ID) is None
    user = await references.user(ALEX_OBJECT_ID)
    assert user is not None
    assert (user.user_id, user.tenant_id) == (f"29:{ALEX_OBJECT_ID}", TENANT_ID)
    route = await references.tenant_route(TENANT_ID)
    assert route is not None
    assert route.service_url == SERVICE_URL and route.bot.id == "28:dlbot-test"


async def test_an_activity_without_an_object_id_teaches_nothing(
    references: ConversationReferences, client: redis.Redis
) -> None:
    anonymous = activity()
    anonymous.from_property.aad_object_id = None
    assert await references.remember(anonymous) == 0
    assert await client.dbsize() == 0


async def test_an_unchanged_reference_costs_no_redis_call(
    references: ConversationReferences, client: redis.Redis
) -> None:
    assert await references.remember(activity(text="first")) == 4
    await client.config_resetstat()
    assert await references.remember(activity(text="second, same chat")) == 0
    stats = await client.info("commandstats")
    assert not any(name.startswith("cmdstat_eval") for name in stats)


async def test_a_new_chat_is_written_by_evalsha_alone_without_asking_for_the_script(
    references: ConversationReferences, client: redis.Redis
) -> None:
    await references.remember(activity(conversation_id="a:warm-up"))  # the script is loaded
    await client.config_resetstat()
    assert await references.remember(activity(conversation_id="a:personal-new")) == 2
    stats = await client.info("commandstats")
    # redis-py's SCRIPT EXISTS (cmdstat_script|exists) would be a round trip of its own.
    assert not any(name.startswith("cmdstat_script") for name in stats)
    assert stats["cmdstat_evalsha"]["calls"] == 2


async def test_a_server_that_lost_the_script_still_stores_every_record(
    references: ConversationReferences, client: redis.Redis
) -> None:
    await references.remember(activity(conversation_id="a:warm-up"))
    await client.script_flush()  # as after a Redis restart
    assert await references.remember(activity(conversation_id="a:personal-new")) == 2
    reference = await references.for_conversation("a:personal-new")
    assert reference is not None and reference.user.aad_object_id == ALEX_OBJECT_ID


async def test_another_process_that_meets_the_same_person_writes_nothing(
    client: redis.Redis,
) -> None:
    await ConversationReferences(client).remember(activity())
    other_process = ConversationReferences(client)
    assert await other_process.remember(activity(text="again")) == 0


async def test_a_changed_service_url_is_written(references: ConversationReferences) -> None:
    await references.remember(activity())
    moved = activity()
    moved.service_url = "https://smba.trafficmanager.net/amer/"
    assert await references.remember(moved) == 3  # user record unchanged
    reference = await references.get(ALEX_OBJECT_ID)
    assert reference is not None and reference.service_url == moved.service_url


async def test_what_redis_lost_is_written_again_once_the_memory_expires(
    client: redis.Redis,
) -> None:
    references = ConversationReferences(client, memory_seconds=0)
    await references.remember(activity())
    await client.flushall()
    assert await references.remember(activity()) == 4
    assert await references.get(ALEX_OBJECT_ID) is not None


async def test_a_forgotten_chat_is_gone(references: ConversationReferences) -> None:
    await references.remember(activity())
    await references.forget(ALEX_OBJECT_ID)
    assert await references.get(ALEX_OBJECT_ID) is None
    assert await references.remember(activity()) == 1  # and comes back with the next turn


class Recorder(ActivityHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.turns = 0

    async def on_turn(self, turn_context: TurnContext) -> None:
        self.turns += 1


async def test_the_middleware_remembers_the_sender_of_every_turn(
    references: ConversationReferences,
) -> None:
    bot = Recorder()
    # TestAdapter stamps its template's sender and conversation on what it processes.
    adapter = TestAdapter(bot.on_turn, activity()).use(ReferenceMiddleware(references))
    await adapter.process_activity(activity(), bot.on_turn)
    assert bot.turns == 1
    assert await references.get(ALEX_OBJECT_ID) is not None


async def test_a_failure_to_remember_never_fails_the_turn() -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        bot = Recorder()
        adapter = TestAdapter(bot.on_turn).use(
            ReferenceMiddleware(ConversationReferences(unreachable))
        )
        await adapter.process_activity(activity(), bot.on_turn)
        assert bot.turns == 1
    finally:
        await unreachable.aclose()


def _variants() -> list[Activity]:
    """Turns of one chat that differ in one thing each that a reference holds."""
    base = activity()
    renamed = activity()
    renamed.from_property.name = "Alex W."
    other_bot = activity()
    other_bot.recipient.name = "dlbot (test)"
    locale = activity()
    locale.locale = "de-DE"
    moved = activity()
    moved.service_url = "https://smba.trafficmanager.net/amer/"
    other_tenant = activity()
    other_tenant.conversation.tenant_id = "another-tenant"
    role = activity()
    role.from_property.role = "user"
    properties = activity()
    properties.from_property.properties = {"x": [1, 2]}
    body = teams_activity(SERVICE_URL)
    body["from"]["userPrincipalName"] = "alexw@contoso.com"  # a field the schema doesn't name
    body["conversation"]["isGroup"] = False
    extra = Activity().deserialize(body)
    return [base, renamed, other_bot, locale, moved, other_tenant, role, properties, extra, base]


def _through_msrest_twice(activity: Activity) -> str:
    """The reference's JSON as it was first built: serialised, read back, serialised again."""
    reference = TurnContext.get_conversation_reference(activity)
    stable = ConversationReference().deserialize(reference.serialize())
    stable.activity_id = None
    return json.dumps(stable.serialize(), sort_keys=True, separators=(",", ":"))


async def test_each_turn_stores_the_reference_msrest_builds_for_it_whatever_changed(
    references: ConversationReferences, client: redis.Redis
) -> None:
    for turn in _variants():
        await references.remember(turn)
        stored = await client.get(f"dlbot:ref:personal:{ALEX_OBJECT_ID}")
        assert stored is not None and stored.decode() == _through_msrest_twice(turn)


def test_building_a_reference_leaves_the_callers_reference_alone() -> None:
    reference = TurnContext.get_conversation_reference(activity())
    assert reference.activity_id
    _reference_json(reference)
    assert reference.activity_id


async def test_a_turn_whose_sender_json_cannot_hold_still_stores_its_reference(
    references: ConversationReferences,
) -> None:
    odd = activity()
    odd.from_property.properties = {1: "a", "b": 2}  # mixed keys: no text key for the memo
    await references.remember(odd)
    reference = await references.get(ALEX_OBJECT_ID)
    assert reference is not None and reference.user.properties == {"1": "a", "b": 2}
