"""Proactive delivery through the real CloudAdapter to a recording Bot Connector on loopback
(which can refuse like Teams). The Playground round trips are in tests/playground."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from botbuilder.core import MessageFactory
from botbuilder.schema import Activity

from bot.app import EdgeServices, build_services
from bot.messenger import ProactiveMessenger
from bot.settings import Settings
from tests.playground.doubles import (
    ALEX_OBJECT_ID,
    TENANT_ID,
    RecordingConnector,
    serve,
    teams_activity,
)

MEGAN_OBJECT_ID = "610e5c9f-cf2a-4499-b142-baecacdfc76e"


@dataclass
class Setup:
    connector: RecordingConnector
    connector_url: str
    services: EdgeServices

    @property
    def messenger(self) -> ProactiveMessenger:
        return self.services.messenger

    async def meet(self, **fields: object) -> None:
        """A turn from someone, as the bot's ReferenceMiddleware sees it."""
        activity = Activity().deserialize(teams_activity(self.connector_url, **fields))
        await self.services.references.remember(activity)


@pytest.fixture
async def setup(redis_url: str) -> AsyncIterator[Setup]:
    settings = Settings(_env_file=None, redis_url=redis_url, allowed_tenants=TENANT_ID)
    services = build_services(settings)
    connector = RecordingConnector()
    async with serve(connector.app()) as connector_url:
        yield Setup(connector, connector_url, services)
    await services.redis.aclose()


async def test_a_person_met_in_their_personal_chat_gets_the_message_there(setup: Setup) -> None:
    await setup.meet(conversation_id="a:personal-alexw")
    posted = await setup.messenger.send(ALEX_OBJECT_ID, MessageFactory.text("Your request is in."))
    assert posted is not None
    conversation_id, activity_id = posted
    assert conversation_id == "a:personal-alexw"
    [request] = setup.connector.requests
    assert request.path.startswith("/v3/conversations/a:personal-alexw/activities")
    assert request.body["text"] == "Your request is in."
    assert activity_id == "activity-1"
    assert "Authorization" not in request.headers  # no app id: no token


async def test_a_person_never_met_gets_a_new_1to1_chat_with_the_tenant(setup: Setup) -> None:
    await setup.meet()  # Alex's turn taught the bot the tenant's connector and its own account
    posted = await setup.messenger.send(MEGAN_OBJECT_ID, MessageFactory.text("Please approve."))
    assert posted == ("a:created-1", "activity-2")
    create, send = setup.connector.requests
    assert create.path == "/v3/conversations"
    assert create.body["isGroup"] is False
    assert create.body["tenantID"] == TENANT_ID  # the SDK's spelling; Teams reads either
    assert create.body["channelData"] == {"tenant": {"id": TENANT_ID}}
    # Never met: Teams takes the Entra object id as the member of a personal chat.
    assert create.body["members"] == [{"id": MEGAN_OBJECT_ID, "aadObjectId": MEGAN_OBJECT_ID}]
    assert create.body["bot"]["id"] == "28:dlbot-test"
    assert send.path.startswith("/v3/conversations/a:created-1/activities")
    assert send.body["text"] == "Please approve."


async def test_the_new_chat_is_remembered_for_the_next_message(setup: Setup) -> None:
    await setup.meet()
    await setup.messenger.send(MEGAN_OBJECT_ID, MessageFactory.text("one"))
    again = await setup.messenger.send(MEGAN_OBJECT_ID, MessageFactory.text("two"))
    assert again is not None and again[0] == "a:created-1"
    assert [r.path for r in setup.connector.requests].count("/v3/conversations") == 1


async def test_a_person_met_elsewhere_gets_a_chat_with_their_teams_user_id(setup: Setup) -> None:
    await setup.meet(
        conversation_id="19:group@thread.v2",
        conversation_type="groupChat",
        object_id=MEGAN_OBJECT_ID,
        user_id="29:1megan-teams-id",
    )
    await setup.messenger.send(MEGAN_OBJECT_ID, MessageFactory.text("Please approve."))
    create = setup.connector.requests[0]
    assert create.body["members"][0]["id"] == "29:1megan-teams-id"


@pytest.mark.parametrize("status", [403, 404])
async def test_when_teams_refuses_to_open_the_chat_send_returns_none(
    setup: Setup, status: int
) -> None:
    await setup.meet()
    setup.connector.refuse_create = status
    assert await setup.messenger.send(MEGAN_OBJECT_ID, MessageFactory.text("hi")) is None
    assert setup.connector.sent() == []  # and no apology went anywhere
    assert await setup.services.references.get(MEGAN_OBJECT_ID) is None


async def test_other_failures_to_open_a_chat_reach_the_caller(setup: Setup) -> None:
    await setup.meet()
    setup.connector.refuse_create = 503
    with pytest.raises(Exception, match="refused by the test"):
        await setup.messenger.send(MEGAN_OBJECT_ID, MessageFactory.text("hi"))


async def test_a_stored_chat_that_is_gone_is_replaced_by_a_new_one(setup: Setup) -> None:
    await setup.meet(conversation_id="a:personal-alexw")
    setup.connector.refuse_conversations["a:personal-alexw"] = 404
    posted = await setup.messenger.send(ALEX_OBJECT_ID, MessageFactory.text("hi"))
    assert posted is not None and posted[0].startswith("a:created-")
    reference = await setup.services.references.get(ALEX_OBJECT_ID)
    assert reference is not None and reference.conversation.id == posted[0]


async def test_a_message_is_updated_in_place(setup: Setup) -> None:
    await setup.meet(conversation_id="a:personal-alexw")
    conversation_id, activity_id = await setup.messenger.send(
        ALEX_OBJECT_ID, MessageFactory.text("Pending")
    ) or ("", "")
    updated = await setup.messenger.update(
        conversation_id, activity_id, MessageFactory.text("Approved")
    )
    assert updated is True
    update = setup.connector.requests[-1]
    assert update.method == "PUT"
    assert update.path == f"/v3/conversations/a:personal-alexw/activities/{activity_id}"
    assert update.body["text"] == "Approved"
    assert update.body["id"] == activity_id


async def test_an_update_in_an_unknown_conversation_is_false(setup: Setup) -> None:
    assert await setup.messenger.update("a:nowhere", "1", MessageFactory.text("x")) is False
    assert setup.connector.requests == []


async def test_an_update_teams_refuses_is_false(setup: Setup) -> None:
    await setup.meet(conversation_id="a:personal-alexw")
    setup.connector.refuse_conversations["a:personal-alexw"] = 403
    assert await setup.messenger.update("a:personal-alexw", "1", MessageFactory.text("x")) is False


async def test_without_any_tenant_configured_nobody_new_can_be_reached(redis_url: str) -> None:
    services = build_services(Settings(_env_file=None, redis_url=redis_url))
    try:
        assert await services.messenger.send(MEGAN_OBJECT_ID, MessageFactory.text("x")) is None
    finally:
        await services.redis.aclose()


async def test_the_callers_activity_is_left_as_it_was(setup: Setup) -> None:
    await setup.meet(conversation_id="a:personal-alexw")
    activity = MessageFactory.text("the same card for every owner")
    await setup.messenger.send(ALEX_OBJECT_ID, activity)
    await setup.messenger.send(MEGAN_OBJECT_ID, activity)
    assert activity.conversation is None and activity.recipient is None
    assert activity.reply_to_id is None and activity.service_url is None
