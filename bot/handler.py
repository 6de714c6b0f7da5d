"""The activity handler: a thin router. Messages go to the dialogs, card clicks to approvals.

Who is speaking comes from the activity Teams signed (from.aadObjectId), never from card data.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from botbuilder.core import ConversationState, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.dialogs import DialogContext, DialogSet, DialogTurnStatus
from botbuilder.schema import Activity, ChannelAccount, InvokeResponse

from approvals.errors import AlreadyDecided, NotAnApprover, RequestNotFound, SelfApproval
from approvals.models import ApprovalRequest, Person, RequestStatus
from approvals.review_service import ReviewService
from approvals.reviews import Choice, NotAReviewer, ReviewClosed
from approvals.service import ApprovalService
from bot import texts
from bot.cards.actions import BadCardAction, CardAction, Verb, parse_card_action
from bot.cards.approval import approval_card, message_card
from bot.cards.my_requests import my_requests_card
from bot.cards.review import review_card, review_choices
from bot.dialogs.create_dialog import CreateDialog
from bot.dialogs.intent import Intent, IntentKind, understand
from bot.dialogs.join_dialog import JoinDialog
from bot.dialogs.leave_dialog import LeaveDialog
from bot.invoke import card_invoke_response, error_invoke_response
from bot.notifier import card_activity
from exchange.errors import ObjectNotFound
from skills.my_requests import (
    GrantHistory,
    MyRequests,
    NoSuchRequest,
    TooLate,
    is_withdrawable,
)
from skills.renew_membership import RenewMembership

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
        leave_dialog: LeaveDialog | None = None,
        create_dialog: CreateDialog | None = None,
        renewals: RenewMembership | None = None,
        grants: GrantHistory | None = None,
        reviews: ReviewService | None = None,
    ) -> None:
        super().__init__()
        # Owner access reviews: their cards' clicks (answered only when wired in).
        self._reviews = reviews
        # Time-limited memberships: the Renew button (answered only when wired in).
        self._renewals = renewals
        self._conversation_state = conversation_state
        self._dialogs = DialogSet(conversation_state.create_property("DialogState"))
        self._dialogs.add(join_dialog)
        self._people = people
        self._approvals = approvals
        # "Leave" is offered only when its dialog is wired in (bot.services always does).
        self._can_leave = leave_dialog is not None
        if leave_dialog is not None:
            self._dialogs.add(leave_dialog)
        self._my_requests = MyRequests(approvals, grants)
        self._can_create = create_dialog is not None
        if create_dialog is not None:
            self._dialogs.add(create_dialog)

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self._conversation_state.save_changes(turn_context)

    # Messages -----------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        # The SDK's mention removal crashes on an activity naming no recipient (Teams always
        # names one; a forged activity need not): there is then no mention of us to remove.
        unmentioned = TurnContext.remove_recipient_mention(activity) if activity.recipient else None
        text = (unmentioned or activity.text or "").strip()
        dialog_context = await self._dialogs.create_context(turn_context)
        if dialog_context.active_dialog is not None:
            result = await dialog_context.continue_dialog()
            if result.status != DialogTurnStatus.Empty:
                return
        intent = understand(text)
        if await self._day_two(turn_context, dialog_context, intent):
            return
        if intent.kind is IntentKind.CREATE:
            await self._begin_create(turn_context, dialog_context, intent)
            return
        if intent.kind is IntentKind.HELP:
            await turn_context.send_activity(MessageFactory.text(texts.HELP))
        elif intent.kind is IntentKind.GREETING:
            await turn_context.send_activity(MessageFactory.text(texts.WELCOME))
        elif intent.kind is IntentKind.CANCEL:
            await turn_context.send_activity(MessageFactory.text(texts.NOTHING_TO_CANCEL))
        elif intent.kind is IntentKind.UNKNOWN:
            await turn_context.send_activity(MessageFactory.text(texts.NOT_UNDERSTOOD))
        elif intent.duration_problem:
            await turn_context.send_activity(
                MessageFactory.text(texts.duration_problem(intent.duration_problem))
            )
        else:
            requester = await self._requester(turn_context)
            if requester is not None:
                options: dict[str, Any] = {
                    "query": intent.query,
                    "requester": requester.model_dump(),
                    "days": intent.days,
                }
                await dialog_context.begin_dialog(JoinDialog.__name__, options)

    async def _begin_create(
        self, turn_context: TurnContext, dialog_context: DialogContext, intent: Intent
    ) -> None:
        if not self._can_create:
            # Never fall through to a join search: "new list" must not become a search.
            await turn_context.send_activity(MessageFactory.text(texts.NOT_UNDERSTOOD))
            return
        requester = await self._requester(turn_context)
        if requester is not None:
            options = {"query": intent.query, "requester": requester.model_dump()}
            await dialog_context.begin_dialog(CreateDialog.__name__, options)

    async def _day_two(
        self, turn_context: TurnContext, dialog_context: DialogContext, intent: Intent
    ) -> bool:
        """Leaving a list and one's own requests; False when the intent is neither."""
        if intent.kind not in _DAY_TWO:
            return False
        if intent.kind is IntentKind.LEAVE and not self._can_leave:
            # Never fall through to a join search: "leave X" must not become "join X".
            await turn_context.send_activity(MessageFactory.text(texts.NOT_UNDERSTOOD))
            return True
        requester = await self._requester(turn_context)
        if requester is None:
            return True
        if intent.kind is IntentKind.LEAVE:
            options = {"query": intent.query, "requester": requester.model_dump()}
            await dialog_context.begin_dialog(LeaveDialog.__name__, options)
        elif intent.kind is IntentKind.MY_REQUESTS:
            await self._send_requests_card(turn_context, requester)
        else:
            await self._cancel_typed(turn_context, requester, intent.query)
        return True

    async def _send_requests_card(
        self, turn_context: TurnContext, person: Person, note: str = ""
    ) -> None:
        overview = await self._my_requests.overview(person)
        card = my_requests_card(overview, note=note)
        await turn_context.send_activity(card_activity(card, texts.MY_REQUESTS_TITLE))

    async def _cancel_typed(self, turn_context: TurnContext, person: Person, query: str) -> None:
        """ "cancel my request to X": withdraw it when exactly one open request names X;
        otherwise show the requests, so the person taps Cancel on the one they mean."""
        matching = await self._my_requests.open_matching(person, query)
        if len(matching) == 1 and query:
            (request,) = matching
            if is_withdrawable(request):
                result = await self._my_requests.withdraw(person, request.id)
                await turn_context.send_activity(MessageFactory.text(texts.withdraw_text(result)))
            else:
                text = texts.withdraw_text(TooLate(request))
                await turn_context.send_activity(MessageFactory.text(text))
            return
        if query and not matching:
            note = texts.no_open_request(query)
        elif query:
            note = texts.PICK_ONE_TO_CANCEL
        else:
            note = ""
        await self._send_requests_card(turn_context, person, note)

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
        if action.verb is Verb.WITHDRAW:
            return await self._withdraw(action.request_id, object_id)
        if action.verb is Verb.RENEW:
            return await self._renew(action.request_id, object_id)
        if action.verb in _REVIEW_VERBS:
            data = turn_context.activity.value["action"].get("data")
            return await self._review(action, object_id, review_choices(data))
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
                membership_days=action.days if action.verb is Verb.APPROVE else None,
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

    async def _withdraw(self, request_id: str, object_id: str) -> InvokeResponse:
        """A Cancel click on a my-requests card. The state machine checks the clicker is the
        requester; the card's data only names which request. Anyone else gets an error under
        the card they clicked, which stays as it was (it may be their own approval card)."""
        actor = await self._people.person(object_id)
        if actor is None:
            return card_invoke_response(message_card(texts.UNKNOWN_PERSON))
        result = await self._my_requests.withdraw(actor, request_id)
        if isinstance(result, NoSuchRequest):
            return error_invoke_response(404, texts.CARD_NOT_YOUR_REQUEST)
        overview = await self._my_requests.overview(actor)
        return card_invoke_response(my_requests_card(overview, note=texts.withdraw_text(result)))

    async def _renew(self, grant_id: str, object_id: str) -> InvokeResponse:
        """A Renew click on a renewal card: the grant's member only (the use case checks the
        clicker, never the card); the card is replaced by what happened."""
        if self._renewals is None:
            return error_invoke_response(400, texts.RENEW_NOT_YOURS)
        actor = await self._people.person(object_id)
        if actor is None:
            return card_invoke_response(message_card(texts.UNKNOWN_PERSON))
        outcome = await self._renewals.renew(actor, grant_id, texts.renewal_justification)
        return card_invoke_response(message_card(texts.renew_text(outcome)))

    async def _review(
        self, action: CardAction, object_id: str, choices: dict[int, Choice]
    ) -> InvokeResponse:
        """A click on an access review card: the choices on the page are recorded (the service
        checks the clicker against the list's current owners), and the card answers with the
        page asked for, or the outcome."""
        if self._reviews is None:
            return error_invoke_response(404, texts.REVIEW_UNKNOWN)
        actor = await self._people.person(object_id)
        if actor is None:
            return card_invoke_response(message_card(texts.UNKNOWN_PERSON))
        try:
            review = await self._reviews.decide(
                action.request_id,
                actor,
                choices,
                finish=action.verb is Verb.REVIEW_FINISH,
                keep_all=action.verb is Verb.REVIEW_KEEP_ALL,
            )
        except RequestNotFound:
            return card_invoke_response(message_card(texts.REVIEW_UNKNOWN))
        except NotAReviewer:
            log.warning("refused review %s by %s: not an owner now", action.request_id, object_id)
            return error_invoke_response(403, texts.REVIEW_NOT_A_REVIEWER)
        except ReviewClosed as closed:
            review = closed.review  # finished by someone else meanwhile: show the outcome
        except ObjectNotFound:
            # The list was deleted since the review began: nobody owns it now to decide.
            return card_invoke_response(message_card(texts.REVIEW_LIST_GONE))
        return card_invoke_response(review_card(review, page=action.page))

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


_REVIEW_VERBS = frozenset({Verb.REVIEW_PAGE, Verb.REVIEW_FINISH, Verb.REVIEW_KEEP_ALL})
_DAY_TWO = frozenset({IntentKind.LEAVE, IntentKind.MY_REQUESTS, IntentKind.CANCEL_REQUEST})


def _object_id(activity: Activity) -> str | None:
    sender = activity.from_property
    object_id = getattr(sender, "aad_object_id", None) if sender else None
    return object_id or None
