"""The card data of a time limit and of Renew is untrusted: only a whole number of days in
range, or "as asked", is taken; anything else is a bad action, never a stack trace."""

from __future__ import annotations

from typing import Any

import pytest

from bot.cards.actions import AS_ASKED, BadCardAction, Verb, parse_card_action


def click(verb: str, **data: Any) -> dict[str, Any]:
    return {"action": {"type": "Action.Execute", "verb": verb, "data": data}}


@pytest.mark.parametrize(("days", "taken"), [("7", 7), (30, 30), (AS_ASKED, None), ("", None)])
def test_an_approvers_time_limit_is_taken_in_whole_days(days: Any, taken: int | None) -> None:
    action = parse_card_action(click("approve", requestId="req12345678", days=days))
    assert (action.verb, action.days) == (Verb.APPROVE, taken)


@pytest.mark.parametrize("days", ["0", "99999", "-3", "7.5", "abc", True, [7], "٣"])
def test_a_time_limit_outside_the_choices_is_a_bad_action(days: Any) -> None:
    with pytest.raises(BadCardAction):
        parse_card_action(click("approve", requestId="req12345678", days=days))


def test_renew_names_the_membership_by_its_id_only() -> None:
    action = parse_card_action(click("renew", requestId="req12345678", member="someone-else"))
    assert (action.verb, action.request_id) == (Verb.RENEW, "req12345678")
