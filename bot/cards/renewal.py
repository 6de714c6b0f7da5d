"""The card that asks a member whether to renew a time-limited membership (7 days and 1 day
before its end), and what it turns into once they tap Renew."""

from __future__ import annotations

from typing import Any

from approvals.grants import Grant
from bot import texts
from bot.cards.actions import Verb
from bot.cards.approval import SCHEMA


def renewal_card(grant: Grant, days_before: int) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": [
            {
                "type": "TextBlock",
                "text": texts.renewal_heading(grant, days_before),
                "size": "Medium",
                "weight": "Bolder",
                "wrap": True,
            },
            {"type": "TextBlock", "text": texts.renewal_body(grant), "wrap": True},
        ],
        "actions": [
            {
                "type": "Action.Execute",
                "title": texts.RENEW_BUTTON,
                "verb": Verb.RENEW.value,
                # The grant's id only names what to look up; who may renew is the clicker.
                "data": {"requestId": grant.id},
                "style": "positive",
            }
        ],
    }
