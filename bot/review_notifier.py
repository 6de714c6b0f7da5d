"""Approvals' ReviewNotifier over Teams: the access review card to each reviewer, sent
proactively by the worker, and redrawn to the outcome once the review is complete or closed;
and, when a review closes unanswered, one plain message to each fallback approver and admin."""

from __future__ import annotations

import logging

from botbuilder.core import MessageFactory

from approvals.models import Approver, CardRef
from approvals.reviews import Review
from bot import texts
from bot.cards.review import review_card
from bot.notifier import Messenger, card_activity
from bot.texts.review import review_closed_message

log = logging.getLogger(__name__)


class TeamsReviewNotifier:
    def __init__(self, messenger: Messenger, *, admin_object_ids: tuple[str, ...] = ()) -> None:
        self._messenger = messenger
        self._admins = admin_object_ids

    async def send_review(
        self, reviewer: Approver, review: Review, *, reminder: bool = False
    ) -> CardRef | None:
        activity = card_activity(
            review_card(review, reminder=reminder), texts.review_heading(review)
        )
        posted = await self._messenger.send(reviewer.object_id, activity)
        if posted is None:
            return None
        conversation_id, activity_id = posted
        return CardRef(
            approver_id=reviewer.object_id,
            conversation_id=conversation_id,
            activity_id=activity_id,
            reminder=reminder,
        )

    async def update_review(self, card: CardRef, review: Review) -> None:
        activity = card_activity(review_card(review), texts.review_heading(review))
        if not await self._messenger.update(card.conversation_id, card.activity_id, activity):
            log.warning("could not update review card %s for %s", review.id, card.approver_id)

    async def review_closed(self, review: Review, tell: tuple[Approver, ...]) -> None:
        text = review_closed_message(review)
        log.info("review %s closed unanswered: %s", review.id, text)
        # One message each, though someone may be both a fallback approver and an admin.
        for object_id in dict.fromkeys((*(a.object_id for a in tell), *self._admins)):
            if await self._messenger.send(object_id, MessageFactory.text(text)) is None:
                log.warning("could not tell %s that review %s closed", object_id, review.id)
