"""A card click, parsed from the untrusted invoke payload into the little the bot acts on.

Nothing in the card's data is believed: the request id only names what to look up, and who
clicked comes from the authenticated activity, never from the card.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Verb(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    REFRESH = "refresh"  # Universal Actions refresh: redraw the card for whoever is looking
    WITHDRAW = "withdraw"  # the requester cancels their own pending request (my requests card)
    RENEW = "renew"  # a member renews a time-limited membership; requestId names the grant
    # Owner access reviews (bot/cards/review.py): requestId names the review, `page` the page
    # to show next; the Keep / Remove choices ride along as inputs.
    REVIEW_PAGE = "review_page"
    REVIEW_FINISH = "review_finish"
    REVIEW_KEEP_ALL = "review_keep_all"


# The approval card's duration choice that keeps the time asked for (Adaptive Cards allow no
# empty choice value).
AS_ASKED = "asked"


class CardAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: Verb
    request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    reason: str = Field(default="", max_length=500)
    # An approver's time limit for a JOIN (the card's choice set), in days; None: as asked.
    days: int | None = Field(default=None, ge=1, le=3650)
    # A review card's page to show (review verbs only).
    page: int = Field(default=0, ge=0, le=100_000)


class BadCardAction(ValueError):
    """The invoke did not carry an action this bot understands."""


def parse_card_action(value: Any) -> CardAction:
    """The action in an adaptiveCard/action invoke's `value`, or BadCardAction."""
    if not isinstance(value, dict):
        raise BadCardAction("the invoke carries no action")
    action = value.get("action")
    if not isinstance(action, dict) or action.get("type") != "Action.Execute":
        raise BadCardAction("only Action.Execute is supported")
    data = action.get("data")
    data = data if isinstance(data, dict) else {}
    reason = data.get("reason", "")
    days = data.get("days")
    if days in ("", None, AS_ASKED):
        days = None  # the choice set's "as asked"
    elif isinstance(days, bool) or not (
        (isinstance(days, str) and days.isascii() and days.isdigit()) or isinstance(days, int)
    ):
        raise BadCardAction("unusable card action (days)")
    try:
        return CardAction(
            verb=action.get("verb"),
            request_id=data.get("requestId"),
            reason=reason.strip() if isinstance(reason, str) else "",
            days=days,
            page=data.get("page", 0),
        )
    except ValidationError as exc:
        fields = ", ".join(str(error["loc"][0]) for error in exc.errors())
        raise BadCardAction(f"unusable card action ({fields})") from exc
