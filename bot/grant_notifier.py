"""Approvals' GrantNotifier over Teams: what a member hears about a time-limited membership
(granted or renewed, the renewal prompts as cards, the end), sent proactively by the worker."""

from __future__ import annotations

from botbuilder.core import MessageFactory

from approvals.grants import Grant
from bot import texts
from bot.cards.renewal import renewal_card
from bot.notifier import Messenger, card_activity


class TeamsGrantNotifier:
    def __init__(self, messenger: Messenger) -> None:
        self._messenger = messenger

    async def granted(self, grant: Grant, *, renewed: bool) -> bool:
        return await self._say(grant, texts.granted_text(grant, renewed=renewed))

    async def prompt_renewal(self, grant: Grant, days_before: int) -> bool:
        activity = card_activity(
            renewal_card(grant, days_before), texts.renewal_heading(grant, days_before)
        )
        return await self._messenger.send(grant.member.object_id, activity) is not None

    async def ended(self, grant: Grant, *, failed: bool) -> bool:
        return await self._say(grant, texts.grant_ended(grant, failed=failed))

    async def _say(self, grant: Grant, text: str) -> bool:
        sent = await self._messenger.send(grant.member.object_id, MessageFactory.text(text))
        return sent is not None
