"""The owner access review card: one page of members at a time, Keep / Remove for each, and
Keep all / Finish review; once the review is complete, or closed unanswered, its outcome and
no buttons.

A list of thousands would make one card far larger than Teams accepts (about 28 KB), so the card
shows PAGE_SIZE members and Previous / Next, which are Action.Execute: the bot answers with the
card of the page asked for, and records the choices of the page being left (Teams sends every
input with each action). Members are named in inputs by their place in the review's snapshot
("m<index>"), never by anything the bot would trust: the click's data only says which review
and page, and what was chosen for whom.
"""

from __future__ import annotations

import re
from typing import Any

from approvals.reviews import Choice, Review
from bot import texts
from bot.cards.actions import Verb
from bot.cards.approval import SCHEMA

PAGE_SIZE = 20

_INPUT = re.compile(r"m(\d{1,7})")


def pages(review: Review) -> int:
    return max(1, -(-len(review.members) // PAGE_SIZE))


def review_card(review: Review, *, page: int = 0, reminder: bool = False) -> dict[str, Any]:
    page = min(max(page, 0), pages(review) - 1)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": texts.review_heading(review),
            "size": "Medium",
            "weight": "Bolder",
            "wrap": True,
        }
    ]
    if not review.is_open:
        body.append({"type": "TextBlock", "text": texts.review_outcome(review), "wrap": True})
        return _card(body, [])
    body.append(
        {"type": "TextBlock", "text": texts.review_intro(review, reminder=reminder), "wrap": True}
    )
    body.append(
        {
            "type": "TextBlock",
            "text": texts.review_page(page, pages(review)),
            "isSubtle": True,
            "spacing": "Small",
        }
    )
    chosen = review.choices()
    first = page * PAGE_SIZE
    for index in range(first, min(first + PAGE_SIZE, len(review.members))):
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": f"m{index}",
                "label": texts.review_member_label(review.members[index]),
                "value": chosen.get(index, Choice.KEEP).value,
                "choices": [
                    {"title": texts.REVIEW_KEEP, "value": Choice.KEEP.value},
                    {"title": texts.REVIEW_REMOVE, "value": Choice.REMOVE.value},
                ],
            }
        )
    actions: list[dict[str, Any]] = []
    if page > 0:
        actions.append(_action(Verb.REVIEW_PAGE, texts.REVIEW_PREVIOUS, review, page - 1))
    if page + 1 < pages(review):
        actions.append(_action(Verb.REVIEW_PAGE, texts.REVIEW_NEXT, review, page + 1))
    actions.append(_action(Verb.REVIEW_FINISH, texts.REVIEW_FINISH, review, page, "positive"))
    actions.append(_action(Verb.REVIEW_KEEP_ALL, texts.REVIEW_KEEP_ALL, review, page))
    return _card(body, actions)


def _action(verb: Verb, title: str, review: Review, page: int, style: str = "") -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": title,
        "verb": verb.value,
        "data": {"requestId": review.id, "page": page},
    }
    if style:
        action["style"] = style
    return action


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5"}
    card["body"] = body
    if actions:
        card["actions"] = actions
    return card


def review_choices(data: Any) -> dict[int, Choice]:
    """The Keep / Remove choices in a click's data; anything else in it is ignored (indexes
    outside the review are dropped by the review itself)."""
    if not isinstance(data, dict):
        return {}
    found: dict[int, Choice] = {}
    for key, value in data.items():
        match = _INPUT.fullmatch(key) if isinstance(key, str) else None
        if match is None or value not in (Choice.KEEP.value, Choice.REMOVE.value):
            continue
        if len(found) == PAGE_SIZE:
            break  # more than one page holds: not from our card, the rest is ignored
        found[int(match.group(1))] = Choice(value)
    return found
