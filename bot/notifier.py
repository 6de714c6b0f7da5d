"""Approvals' Notifier port over Teams: approval cards to approvers, notices to requesters.

Everything is proactive (the worker, not a turn, sends it), through the messenger, which uses
the stored conversation reference or opens the 1:1 chat.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from approvals.models import ApprovalRequest, Approver, CardRef, Person
from approvals.ports import NoticeKind
from bot import texts
from bot.cards.approval import approval_card
from bot.references import TeamsUser

log = logging.getLogger(__name__)


class Messenger(Protocol):
    async def send(self, object_id: str, activity: Activity) -> tuple[str, str] | None: ...

    async def update(self, conversation_id: str, activity_id: str, activity: Activity) -> bool: ...


def card_activity(card: dict[str, Any], summary: str) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    # What Teams shows in notifications and the chat list instead of "sent a card".
    activity.summary = summary
    return activity


class TeamsUsers(Protocol):
    async def user(self, object_id: str) -> TeamsUser | None: ...


class TeamsNotifier:
    def __init__(
        self,
        messenger: Messenger,
        *,
        teams_users: TeamsUsers | None = None,
        admin_object_ids: tuple[str, ...] = (),
    ) -> None:
        self._messenger = messenger
        self._teams_users = teams_users
        self._admins = admin_object_ids

    async def _refresh_ids(self, approver: Approver) -> tuple[str, ...]:
        """The approver's Teams user id, when the bot has met them: Teams then redraws the
        card live for them, and anyone the card is forwarded to sees no buttons."""
        if self._teams_users is None:
            return ()
        known = await self._teams_users.user(approver.object_id)
        return (known.user_id,) if known else ()

    async def send_card(self, approver: Approver, request: ApprovalRequest) -> CardRef | None:
        refresh_ids = await self._refresh_ids(approver)
        card = approval_card(request, actionable=True, refresh_user_ids=refresh_ids)
        summary = texts.card_summary_prefix(request) + texts.card_summary(request)
        posted = await self._messenger.send(approver.object_id, card_activity(card, summary))
        if posted is None:
            return None
        conversation_id, activity_id = posted
        return CardRef(
            approver_id=approver.object_id,
            conversation_id=conversation_id,
            activity_id=activity_id,
        )

    async def update_card(self, card: CardRef, request: ApprovalRequest) -> None:
        approver = request.approver(card.approver_id)
        refresh_ids = await self._refresh_ids(approver) if approver else ()
        drawn = approval_card(
            request, actionable=approver is not None, refresh_user_ids=refresh_ids
        )
        summary = f"{request.group.display_name}: {texts.card_outcome(request)}"
        updated = await self._messenger.update(
            card.conversation_id, card.activity_id, card_activity(drawn, summary)
        )
        if not updated:
            log.warning(
                "could not update the card of request %s for %s", request.id, card.approver_id
            )

    async def notify(self, person: Person, kind: NoticeKind, request: ApprovalRequest) -> bool:
        text = texts.notice(kind, request)
        if text is None:
            return True
        return await self._messenger.send(person.object_id, MessageFactory.text(text)) is not None

    async def alert_admins(self, request: ApprovalRequest, problem: str) -> None:
        text = texts.admin_alert(request, problem)
        # The log line is the alert of last resort: it reaches whoever watches the logs.
        log.error("admin alert: %s", text)
        for admin in self._admins:
            await self._messenger.send(admin, MessageFactory.text(text))
