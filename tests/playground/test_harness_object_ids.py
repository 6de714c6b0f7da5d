"""A Playground whose users' ids are their object ids reaches people the bot never met: the
bot opens the 1:1 chat with the object id (as Teams allows), and the owner acts on the card."""

from __future__ import annotations

import pytest
from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext

from bot.app import EdgeServices
from bot.invoke import CARD_TYPE, card_invoke_response
from tests.playground.harness import PEOPLE, Playground, UserIds, eventually
from tests.playground.test_harness import card, card_message

pytestmark = pytest.mark.asyncio(loop_scope="module")


class ClickRecorder(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(f"echo: {turn_context.activity.text}")

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        who = turn_context.activity.from_property.aad_object_id
        return card_invoke_response(
            card(f"{turn_context.activity.value['action']['verb']} by {who}")
        )


@pytest.fixture(scope="module")
def playground_bot() -> ClickRecorder:
    return ClickRecorder()


@pytest.fixture(scope="module")
def playground_user_ids() -> UserIds:
    return "object"


async def test_a_card_reaches_an_owner_never_met_and_the_owner_clicks_it(
    playground: Playground, playground_services: EdgeServices
) -> None:
    await playground.install()  # Alex opens the app: the bot learns the tenant's connector
    await eventually(
        lambda: playground_services.references.tenant_route(playground.config["tenantId"])
    )
    posted = await playground_services.messenger.send(PEOPLE["leeg"], card_message("Pending"))
    assert posted is not None
    conversation_id, activity_id = posted
    assert conversation_id != playground.personal_chat_id
    # That chat is in no UI, nor on the stream; the click proves the card is in it.
    answer = await playground.invoke_card(
        "approve",
        {"id": "r1"},
        reply_to_id=activity_id,
        from_id=PEOPLE["leeg"],
        conversation_id=conversation_id,
    )
    assert answer == {"type": CARD_TYPE, "value": card(f"approve by {PEOPLE['leeg']}")}


async def test_the_opened_chat_is_used_again(
    playground: Playground, playground_services: EdgeServices
) -> None:
    first = await playground_services.messenger.send(PEOPLE["adelev"], MessageFactory.text("1"))
    again = await playground_services.messenger.send(PEOPLE["adelev"], MessageFactory.text("2"))
    assert first is not None and again is not None
    assert first[0] == again[0]
