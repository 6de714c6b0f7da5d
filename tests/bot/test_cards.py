"""Approval cards show actions only while a request waits, and card data is never trusted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from approvals.models import (
    ApprovalRequest,
    Approver,
    Decision,
    ListRef,
    NewList,
    Person,
    RequestKind,
    RequestStatus,
)
from bot.cards.actions import BadCardAction, Verb, parse_card_action
from bot.cards.approval import approval_card

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALEX = Person(object_id="alex", display_name="Alex Wilber", address="alexw@contoso.com")
MEGAN = Approver(object_id="megan", display_name="Megan Bowen", address="meganb@contoso.com")


def request(status: RequestStatus = RequestStatus.PENDING, **changes: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "id": "req12345678",
        "kind": RequestKind.JOIN,
        "status": status,
        "requester": ALEX,
        "group": ListRef(
            object_id="g", address="finance-emea@contoso.com", display_name="Finance EMEA"
        ),
        "justification": "I joined the EMEA finance team",
        "approvers": (MEGAN,),
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return ApprovalRequest(**values)


def _texts(card: dict[str, Any]) -> str:
    return repr(card)


def test_a_pending_card_for_an_approver_has_approve_and_deny_with_a_reason_box() -> None:
    card = approval_card(request(), actionable=True)

    assert card["version"] == "1.5"
    assert [(a["type"], a["verb"]) for a in card["actions"]] == [
        ("Action.Execute", "approve"),
        ("Action.Execute", "deny"),
    ]
    assert all(a["data"] == {"requestId": "req12345678"} for a in card["actions"])
    assert any(item.get("id") == "reason" for item in card["body"])
    assert "I joined the EMEA finance team" in _texts(card)


def test_a_card_for_someone_who_is_not_an_approver_has_no_buttons() -> None:
    assert "actions" not in approval_card(request(), actionable=False)


def test_a_decided_card_shows_who_decided_and_why_and_has_no_buttons() -> None:
    decided = request(
        RequestStatus.DENIED,
        decision=Decision(approved=False, actor=MEGAN, reason="Finance only", at=NOW),
    )

    card = approval_card(decided, actionable=True)

    assert "actions" not in card
    assert 'Declined by Megan Bowen: "Finance only".' in _texts(card)


def test_refresh_names_the_approvers_teams_ids_while_pending() -> None:
    card = approval_card(request(), actionable=True, refresh_user_ids=("29:megan",))
    assert card["refresh"]["userIds"] == ["29:megan"]
    assert card["refresh"]["action"]["verb"] == "refresh"


def _invoke(verb: Any = "approve", data: Any = None, kind: str = "Action.Execute") -> Any:
    return {"action": {"type": kind, "verb": verb, "data": data or {"requestId": "req12345678"}}}


def test_an_approve_click_is_parsed_with_its_typed_reason() -> None:
    action = parse_card_action(_invoke(data={"requestId": "req12345678", "reason": "  ok  "}))
    assert (action.verb, action.request_id, action.reason) == (Verb.APPROVE, "req12345678", "ok")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "approve",
        {"action": "approve"},
        _invoke(kind="Action.Submit"),
        _invoke(verb="delete-everything"),
        _invoke(verb=None),
        _invoke(data={"requestId": "../../etc"}),
        _invoke(data={"requestId": "x" * 200}),
        _invoke(data={"requestId": 12345678}),
        _invoke(data={"requestId": "req12345678", "reason": "x" * 501}),
    ],
)
def test_anything_else_is_a_bad_card_action(value: Any) -> None:
    with pytest.raises(BadCardAction):
        parse_card_action(value)


def test_a_fallback_approver_is_told_why_they_hold_the_card_of_a_list_or_a_new_list() -> None:
    orphaned_join = approval_card(request(orphaned=True), actionable=True)
    assert "this list has no owner who can approve" in _texts(orphaned_join)
    new_list = NewList(
        name="Q3 Launch", display_name="Q3 Launch", alias="q3", address="q3@contoso.com"
    )
    orphaned_create = approval_card(
        request(kind=RequestKind.CREATE, new_list=new_list, orphaned=True), actionable=True
    )
    assert "nobody the creation policy names can approve" in _texts(orphaned_create)
    assert "no owner who can approve" not in _texts(orphaned_create)
