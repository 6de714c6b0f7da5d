"""The activity handler: a thin router. Messages go to the dialogs, card clicks to approvals.

Who is speaking comes from the activity Teams signed (from.aadObjectId), never from card data.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from botbuilder.core import ConversationState, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.dialogs import DialogSet, DialogTurnStatus
from botbuilder.schema import Activity, ChannelAccount, InvokeResponse

from approvals.errors import AlreadyDecided, NotAnApprover, RequestNotFound, SelfApproval
from approvals.models import ApprovalRequest, Person, RequestStatus
from approvals.service import ApprovalService
from bot import texts
from bot.cards.actions import BadCardAction, CardAction, Verb, parse_card_action
from bot.cards.approval import approval_card, message_card
from bot.dialogs.intent import IntentKind, understand
from bot.dialogs.join_dialog import JoinDialog
from bot.invoke import card_invoke_response, error_invoke_response

log = logging.getLogger(__name__)

CARD_ACTION_INVOKE = "adaptiveCard/action"


class PersonLookup(Protocol):
    async def person(self, object_id: str) -> Person | None: ...


class DlBot(TeamsActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    def __init__(
        self,
        *,
        conversation_state: ConversationState,
        join_dialog: JoinDialog,
        people: PersonLookup,
        approvals: ApprovalService,
    ) -> None:
        super().__init__()
        self._conversation_state = conversation_state
        self._dialogs = DialogSet(conversation_state.create_property("DialogState"))
        self._dialogs.add(join_dialog)
        self._people = people
        self._approvals = approvals

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self._conversation_state.save_changes(turn_context)

    # Messages -----------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        text = (TurnContext.remove_recipient_mention(activity) or activity.text or "").strip()
        dialog_context = await self._dialogs.create_context(turn_context)
        if dialog_context.active_dialog is not None:
            result = await dialog_context.continue_dialog()
            if result.status != DialogTurnStatus.Empty:
                return
        intent = understand(text)
        if intent.kind is IntentKind.HELP:
            await turn_context.send_activity(MessageFactory.text(texts.HELP))
        elif intent.kind is IntentKind.GREETING:
            await turn_context.send_activity(MessageFactory.text(texts.WELCOME))
        elif intent.kind is IntentKind.CANCEL:
            await turn_context.send_activity(MessageFactory.text(texts.NOTHING_TO_CANCEL))
        elif intent.kind is IntentKind.UNKNOWN:
            await turn_context.send_activity(MessageFactory.text(texts.NOT_UNDERSTOOD))
        else:
            requester = await self._requester(turn_context)
            if requester is not None:
                options = {"query": intent.query, "requester": requester.model_dump()}
                await dialog_context.begin_dialog(JoinDialog.__name__, options)

    async def on_teams_members_added(
        self, members_added: list[ChannelAccount], team_info: Any, turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(member.id == bot_id for member in members_added):
            await turn_context.send_activity(MessageFactory.text(texts.WELCOME))

    async def _requester(self, turn_context: TurnContext) -> Person | None:
        object_id = _object_id(turn_context.activity)
        if object_id is None:
            await turn_context.send_activity(MessageFactory.text(texts.NO_TEAMS_IDENTITY))
            return None
        person = await self._people.person(object_id)
        if person is None:
            await turn_context.send_activity(MessageFactory.text(texts.UNKNOWN_PERSON))
        return person

    # Card clicks ----------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name != CARD_ACTION_INVOKE:
            return await super().on_invoke_activity(turn_context)
        # The SDK's own adaptive-card path serialises the body twice under CloudAdapter
        # (see ../shared/real-client.md); answering here avoids it.
        try:
            action = parse_card_action(turn_context.activity.value)
        except BadCardAction as problem:
            return error_invoke_response(400, str(problem))
        object_id = _object_id(turn_context.activity)
        if object_id is None:
            return error_invoke_response(401, texts.NO_TEAMS_IDENTITY)
        try:
            card = await self._act(action, object_id, turn_context.activity)
        except RequestNotFound:
            card = message_card(texts.CARD_UNKNOWN_REQUEST)
        return card_invoke_response(card)

    async def _act(self, action: CardAction, object_id: str, activity: Activity) -> dict[str, Any]:
        if action.verb is Verb.REFRESH:
            request = await self._approvals.get(action.request_id)
            return self._card_for(request, object_id, activity)
        actor = await self._people.person(object_id)
        if actor is None:
            return message_card(texts.UNKNOWN_PERSON)
        try:
            request = await self._approvals.decide(
                action.request_id,
                actor,
                approve=action.verb is Verb.APPROVE,
                reason=action.reason,
            )
        except AlreadyDecided as already:
            return self._card_for(already.request, object_id, activity)
        except SelfApproval:
            return message_card(texts.CARD_OWN_REQUEST)
        except NotAnApprover:
            log.warning(
                "refused %s on request %s by %s: not an approver now",
                action.verb,
                action.request_id,
                object_id,
            )
            return message_card(texts.CARD_NOT_AN_APPROVER)
        return self._card_for(request, object_id, activity)

    def _card_for(
        self, request: ApprovalRequest, object_id: str, activity: Activity
    ) -> dict[str, Any]:
        """The card as this viewer should see it; an approver's keeps refreshing while pending."""
        actionable = (
            request.status is RequestStatus.PENDING and request.approver(object_id) is not None
        )
        teams_id = activity.from_property.id if activity.from_property else None
        refresh = (teams_id,) if actionable and teams_id else ()
        return approval_card(request, actionable=actionable, refresh_user_ids=refresh)


def _object_id(activity: Activity) -> str | None:
    sender = activity.from_property
    object_id = getattr(sender, "aad_object_id", None) if sender else None
    return object_id or None
