"""The "my requests" card: a person's open requests, each with a Cancel button while nobody has
decided, and their latest finished ones.

Built from the stored requests only, for their requester. A Cancel click carries nothing but the
request id; the handler checks the clicker is its requester, so a forwarded card changes
nothing for anyone else.
"""

from __future__ import annotations

from typing import Any

from approvals.grants import Grant
from approvals.models import ApprovalRequest, RequestStatus
from bot import texts
from bot.cards.actions import Verb
from bot.cards.approval import SCHEMA
from skills.my_requests import RequestsOverview, is_withdrawable

_COLOURS = {
    RequestStatus.COMPLETED: "Good",
    RequestStatus.DENIED: "Attention",
    RequestStatus.FAILED: "Attention",
}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _request_item(request: ApprovalRequest) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        _text(texts.request_title(request), weight="Bolder"),
        _text(request.group.address, isSubtle=True, spacing="None"),
        _text(
            texts.request_status(request),
            spacing="Small",
            color=_COLOURS.get(request.status, "Default"),
        ),
    ]
    if is_withdrawable(request):
        items.append(
            {
                "type": "ActionSet",
                "actions": [
                    {
                        "type": "Action.Execute",
                        "title": texts.WITHDRAW_BUTTON,
                        "verb": Verb.WITHDRAW.value,
                        "data": {"requestId": request.id},
                    }
                ],
            }
        )
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _grant_item(grant: Grant) -> dict[str, Any]:
    """A time-limited membership: until when, and Renew while it runs (the handler checks the
    clicker is its member)."""
    name, line = texts.grant_line(grant)
    items: list[dict[str, Any]] = [
        _text(name, weight="Bolder"),
        _text(grant.group.address, isSubtle=True, spacing="None"),
        _text(line, spacing="Small"),
    ]
    if grant.is_active and not grant.renewal_request_id:
        items.append(
            {
                "type": "ActionSet",
                "actions": [
                    {
                        "type": "Action.Execute",
                        "title": texts.RENEW_BUTTON,
                        "verb": Verb.RENEW.value,
                        "data": {"requestId": grant.id},
                    }
                ],
            }
        )
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def my_requests_card(overview: RequestsOverview, *, note: str = "") -> dict[str, Any]:
    """The card; `note` is a line shown first, e.g. what a Cancel click just did."""
    body: list[dict[str, Any]] = []
    if note:
        body.append(_text(note, weight="Bolder"))
    body.append(_text(texts.MY_REQUESTS_TITLE, size="Medium", weight="Bolder"))
    if overview.empty:
        body.append(_text(texts.NO_REQUESTS))
    if overview.open:
        body.append(_text(texts.MY_REQUESTS_OPEN, size="Small", isSubtle=True))
        body.extend(_request_item(r) for r in overview.open)
    if overview.recent:
        body.append(_text(texts.MY_REQUESTS_RECENT, size="Small", isSubtle=True, spacing="Large"))
        body.extend(_request_item(r) for r in overview.recent)
    if overview.memberships:
        body.append(_text(texts.MY_GRANTS_HEADING, size="Small", isSubtle=True, spacing="Large"))
        body.extend(_grant_item(g) for g in overview.memberships)
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
