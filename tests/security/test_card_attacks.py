"""Issue 8, item 1 (cards): nobody gets onto a list by clicking, or forging, a card.

The real product (bot, worker, Redis, sandbox tenant) with approval cards out for Alex's
request to join Finance EMEA (owners: Megan and Lee). Every attack is a card click posted over
HTTP, as Teams would post it for that person; each must be refused with words the person can
read, and the sandbox must show no change: no Add-DistributionGroupMember, Alex not a member.

Who clicked comes from the activity (signed by the Bot Connector: tests/security/test_identity.py
proves unsigned ones never get this far), never from the card's data.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from approvals.models import ApprovalRequest, Person, RequestKind, RequestStatus
from bot import texts
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.reliability.world import World, eventually, world, world_settings

ALEX, MEGAN, LEE, PATTI = demo.ALEX, demo.MEGAN, demo.LEE, demo.PATTI
SALES_TEAM = demo.SALES_TEAM  # owned by John Doe and Anna Smith, nobody in this test


@pytest.fixture
async def product(redis_url: str, sandbox: ThreadedSandbox) -> AsyncIterator[World]:
    async with world(world_settings(redis_url, sandbox), sandbox, worker=True) as running:
        await running.install(ALEX, MEGAN, LEE, PATTI)
        yield running


async def _asked(product: World, requester: Person = ALEX) -> ApprovalRequest:
    submitted = await product.dlbot.approvals.submit(
        kind=RequestKind.JOIN,
        requester=requester,
        group=demo.FINANCE_EMEA,
        justification="I moved to the EMEA finance team",
    )
    cards = len(submitted.request.approvers)
    return await product.cards_out(submitted.request.id, cards)


async def _unchanged(product: World, request: ApprovalRequest) -> None:
    assert (await product.dlbot.approvals.get(request.id)).status is RequestStatus.PENDING
    assert product.writes() == 0
    assert request.requester.address not in product.members("finance-emea")


def _shown(answer: Any) -> str:
    return json.dumps(answer)


async def test_someone_who_owns_nothing_cannot_approve_or_deny_and_nothing_changes(
    product: World,
) -> None:
    request = await _asked(product)

    for verb in ("approve", "deny"):
        status, answer = await product.click(PATTI, verb, {"requestId": request.id})
        assert status == 200
        assert texts.CARD_NOT_AN_APPROVER in _shown(answer)

    await _unchanged(product, request)


# Card data claiming someone else's identity, or not being an action at all.
FORGED_DATA: dict[str, tuple[Any, Any]] = {
    "claims to be Megan": ("approve", {"requestId": "{id}", "approverId": MEGAN.object_id}),
    "carries Megan's aad id": (
        "approve",
        {"requestId": "{id}", "aadObjectId": MEGAN.object_id, "from": {"id": "29:megan"}},
    ),
    "verb in capitals": ("APPROVE", {"requestId": "{id}"}),
    "unknown verb": ("add", {"requestId": "{id}", "member": "alexw@contoso.com"}),
    "no verb": (None, {"requestId": "{id}"}),
    "no request id": ("approve", {}),
    "wildcard request id": ("approve", {"requestId": "*"}),
    "request id with a pattern": ("approve", {"requestId": "{id}*"}),
    "request id as a redis key": ("approve", {"requestId": "dlbot:request:{id}"}),
    "request id as a list": ("approve", {"requestId": ["{id}"]}),
    "request id as an object": ("approve", {"requestId": {"$ne": ""}}),
    "data as a string": ("approve", "{id}"),
    "10 KB request id": ("approve", {"requestId": "a" * 10_240}),
    "10 KB reason": ("approve", {"requestId": "{id}", "reason": "x" * 10_240}),
}


def _fill(value: Any, request_id: str) -> Any:
    return json.loads(json.dumps(value).replace("{id}", request_id))


@pytest.mark.parametrize("attacker", [PATTI, ALEX], ids=["a stranger", "the requester"])
async def test_forged_card_data_is_refused_and_nothing_changes(
    product: World, attacker: Person
) -> None:
    request = await _asked(product)
    refused = 0

    for name, (verb, data) in FORGED_DATA.items():
        status, answer = await product.click(attacker, verb, _fill(data, request.id))
        shown = _shown(answer)
        assert status == 200, name
        assert "Approved by" not in shown and "Traceback" not in shown, name
        refused += 1

    assert refused == len(FORGED_DATA)
    await _unchanged(product, request)


async def test_a_submit_action_or_a_foreign_invoke_name_is_not_a_decision(
    product: World,
) -> None:
    request = await _asked(product)
    submit = product.activity(
        MEGAN,
        type="invoke",
        name="adaptiveCard/action",
        text=None,
        value={"action": {"type": "Action.Submit", "verb": "approve", "data": {}}},
    )
    submit["value"]["action"]["data"] = {"requestId": request.id}
    other_name = dict(submit, name="task/submit")

    for activity in (submit, other_name):
        status, answer = await product.post(activity)
        assert status in (200, 400, 501), answer
        assert "Approved by" not in _shown(answer)

    await _unchanged(product, request)


async def test_an_owner_cannot_use_her_card_to_decide_another_lists_request(
    product: World,
) -> None:
    own = await _asked(product)
    elsewhere = await product.dlbot.approvals.submit(
        kind=RequestKind.JOIN, requester=ALEX, group=SALES_TEAM, justification="covering sales"
    )
    megan_card = own.card_of(MEGAN.object_id)
    assert megan_card is not None

    # Megan clicks the button on her Finance EMEA card, its data edited to the Sales request.
    status, answer = await product.click(
        MEGAN,
        "approve",
        {"requestId": elsewhere.request.id},
        conversation_id=megan_card.conversation_id,
    )

    assert status == 200
    assert texts.CARD_NOT_AN_APPROVER in _shown(answer)
    assert (await product.dlbot.approvals.get(elsewhere.request.id)).status is (
        RequestStatus.PENDING
    )
    assert product.writes() == 0
    assert "alexw@contoso.com" not in product.members("sales-team")


async def test_a_requester_who_owns_the_list_cannot_approve_their_own_request(
    product: World,
) -> None:
    # Megan owns Finance EMEA but is not on it: her request goes to Lee alone.
    request = await _asked(product, requester=MEGAN)
    assert [a.object_id for a in request.approvers] == [LEE.object_id]

    status, answer = await product.click(MEGAN, "approve", {"requestId": request.id})

    assert status == 200
    assert texts.CARD_OWN_REQUEST in _shown(answer)
    await _unchanged(product, request)


async def test_clicks_replayed_after_the_decision_change_nothing(product: World) -> None:
    request = await _asked(product)
    status, answer = await product.click(MEGAN, "approve", {"requestId": request.id})
    assert status == 200 and "Approved by Megan Bowen" in _shown(answer)

    async def completed() -> bool:
        done = await product.dlbot.approvals.get(request.id)
        return done.status is RequestStatus.COMPLETED

    await eventually(completed)
    replays = [(MEGAN, "approve"), (MEGAN, "deny"), (LEE, "deny"), (LEE, "approve")] * 3

    for who, verb in replays:
        status, answer = await product.click(who, verb, {"requestId": request.id})
        assert status == 200
        assert "Approved by Megan Bowen" in _shown(answer)

    assert (await product.dlbot.approvals.get(request.id)).status is RequestStatus.COMPLETED
    assert product.writes() == 1
    assert product.members("finance-emea").count("alexw@contoso.com") == 1
