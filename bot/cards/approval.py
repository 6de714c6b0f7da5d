"""The approval card an approver sees: actionable while the request waits, the outcome after.

Built from the stored request only. Every approver's card is redrawn from the same request after
each transition, so all of them end up showing the same outcome.
"""

from __future__ import annotations

from typing import Any

from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from bot import texts
from bot.cards.actions import AS_ASKED, Verb

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _when(request: ApprovalRequest) -> str:
    return request.created_at.strftime("%d %b %Y %H:%M UTC")


def approval_card(
    request: ApprovalRequest,
    *,
    actionable: bool,
    refresh_user_ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The card for one viewer; `actionable` only for a current approver of a pending request."""
    requester = request.requester
    facts = [
        {"title": "Requested by", "value": f"{requester.display_name} ({requester.address})"},
        {"title": "List", "value": request.group.address},
        {"title": "Asked", "value": _when(request)},
    ]
    if request.justification:
        facts.append({"title": "Why", "value": request.justification})
    duration = texts.card_duration(request)
    if duration:
        facts.append({"title": "How long", "value": duration})
    if request.new_list is not None:
        # A new list: the approver decides on exactly what will be made.
        facts[1:2] = [{"title": t, "value": v} for t, v in texts.create_facts(request.new_list)]
    body: list[dict[str, Any]] = [
        {
            "type": "Container",
            "style": "emphasis",
            "bleed": True,
            "items": [
                _text(texts.card_heading(request), size="Small", isSubtle=True),
                _text(request.group.display_name, size="Large", weight="Bolder", spacing="None"),
            ],
        },
        {"type": "FactSet", "facts": facts},
    ]
    if request.orphaned:
        body.append(_text(texts.card_orphaned_note(request), isSubtle=True))
    waiting_note = texts.card_waiting_note(request)
    if waiting_note:
        body.append(_text(waiting_note, weight="Bolder", color="Warning"))
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": body,
    }
    waiting = request.status is RequestStatus.PENDING
    if actionable and waiting:
        body.append(
            {
                "type": "Input.Text",
                "id": "reason",
                "label": "Your reason (optional)",
                "placeholder": f"Shown to {requester.display_name}",
                "maxLength": 500,
            }
        )
        if request.kind is RequestKind.JOIN:
            body.append(_duration_choice(request))
        card["actions"] = [
            _execute("Approve", Verb.APPROVE, request.id, style="positive"),
            _execute("Deny", Verb.DENY, request.id, style="destructive"),
        ]
    else:
        colour = "Good" if request.status is RequestStatus.COMPLETED else "Default"
        if request.status in (RequestStatus.DENIED, RequestStatus.FAILED):
            colour = "Attention"
        body.append(_text(texts.card_outcome(request), weight="Bolder", color=colour))
    if waiting and refresh_user_ids:
        # Teams redraws the card for these people on open, so a card forwarded to anyone
        # else shows no buttons, and an approver always sees the live state.
        card["refresh"] = {
            "action": _execute("Refresh", Verb.REFRESH, request.id),
            "userIds": list(refresh_user_ids),
        }
    return card


# The times an approver may pick for a join (days); never longer than the time asked for.
DURATION_CHOICES = (7, 30, 90, 180, 365)


def _duration_choice(request: ApprovalRequest) -> dict[str, Any]:
    """Approve for a limited time: AS_ASKED keeps what was asked (or no end); the service caps
    any choice by the time asked and the admin's maximum, whatever the card sends."""
    asked = request.membership_days
    offered = [d for d in DURATION_CHOICES if asked is None or d < asked]
    return {
        "type": "Input.ChoiceSet",
        "id": "days",
        "label": texts.DURATION_CHOICE_LABEL,
        "style": "compact",
        "value": AS_ASKED,
        "choices": [{"title": texts.duration_choice(None, asked), "value": AS_ASKED}]
        + [{"title": texts.duration_choice(d, asked), "value": str(d)} for d in offered],
    }


def _execute(title: str, verb: Verb, request_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb.value,
        "data": {"requestId": request_id},
        **extra,
    }


def message_card(text: str) -> dict[str, Any]:
    """A one-line card, for invoke answers that replace a card with a sentence."""
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": [_text(text)]}
