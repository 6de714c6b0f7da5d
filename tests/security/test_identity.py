"""Issue 8, item 1 (identity): with an app id configured, only the Bot Connector's signed
activities for this bot, from an allowed tenant, reach a turn.

The real product with DLBOT_BOT_APP_ID set, its OpenID metadata and signing keys served from
loopback (tests/playground/doubles.TokenIssuer). Alex's request to join Finance EMEA is pending;
an owner's approval and Alex's own "add me" are posted with every kind of bad token and from a
foreign tenant: each is refused before any turn runs, and the sandbox shows no change.

The edge's own refusals (every bad token against an echo bot, tenants that disagree, the order
of the checks) are in tests/bot/test_app.py; this file proves the same gate holds in front of
the approval workflow.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from approvals.keys import AUDIT_STREAM
from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.bot.test_app import APP_ID, _bad_authorizations
from tests.playground.doubles import TokenIssuer
from tests.reliability.world import World, world, world_settings

ALEX, MEGAN = demo.ALEX, demo.MEGAN
FOREIGN_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def issuer() -> Iterator[TokenIssuer]:
    with TokenIssuer() as running:
        yield running


@pytest.fixture
async def product(
    redis_url: str, sandbox: ThreadedSandbox, issuer: TokenIssuer
) -> AsyncIterator[World]:
    settings = world_settings(
        redis_url,
        sandbox,
        bot_app_id=APP_ID,
        bot_app_password="not-used-offline",
        bot_openid_metadata_url=issuer.metadata_url,
        bot_token_issuer=issuer.issuer,
    )
    # No worker: with an app id, sending a card would need a token from the real Entra ID.
    async with world(settings, sandbox, worker=False) as running:
        yield running


async def _pending(product: World) -> ApprovalRequest:
    submitted = await product.dlbot.approvals.submit(
        kind=RequestKind.JOIN, requester=ALEX, group=demo.FINANCE_EMEA, justification="EMEA"
    )
    return submitted.request


def _approve(product: World, request: ApprovalRequest, **fields: Any) -> dict[str, Any]:
    return product.activity(
        MEGAN,
        type="invoke",
        name="adaptiveCard/action",
        text=None,
        value={
            "action": {
                "type": "Action.Execute",
                "verb": "approve",
                "data": {"requestId": request.id},
            }
        },
        **fields,
    )


async def _audit_events(product: World) -> int:
    return int(await product.dlbot.edge.redis.xlen(AUDIT_STREAM))


async def _nothing_happened(product: World, request: ApprovalRequest, audit_before: int) -> None:
    assert (await product.dlbot.approvals.get(request.id)).status is RequestStatus.PENDING
    assert await _audit_events(product) == audit_before
    assert product.connector.requests == []
    assert product.writes() == 0
    assert "alexw@contoso.com" not in product.members("finance-emea")


async def test_an_approval_without_a_valid_channel_token_is_401_and_nothing_changes(
    product: World, issuer: TokenIssuer
) -> None:
    request = await _pending(product)
    audit_before = await _audit_events(product)
    click = _approve(product, request)
    message = product.activity(ALEX, text="add me to finance emea")
    refused = 0

    for name, header in _bad_authorizations(issuer, product.connector_url).items():
        headers = None if header is None else {"Authorization": header}
        for activity in (click, message):
            status, answer = await product.post(activity, headers=headers)
            assert status == 401, (name, answer)
            assert "Traceback" not in json.dumps(answer)
            refused += 1

    assert product.dlbot.edge.metrics.refused("unauthenticated") == refused
    await _nothing_happened(product, request, audit_before)


async def test_the_same_click_with_the_channels_token_is_let_in(
    product: World, issuer: TokenIssuer
) -> None:
    # The control: the refusals above are the tokens' fault, not the test's plumbing.
    request = await _pending(product)
    token = issuer.token(audience=APP_ID, service_url=product.connector_url)
    refresh = _approve(product, request)
    refresh["value"]["action"]["verb"] = "refresh"

    status, answer = await product.post(refresh, headers={"Authorization": f"Bearer {token}"})

    assert status == 200
    assert "Finance EMEA" in json.dumps(answer)


@pytest.mark.parametrize(
    "tenant",
    [
        {"channelData": {"tenant": {"id": FOREIGN_TENANT}}},
        {"channelData": {}},
        {"conversation": {"id": "a:x", "conversationType": "personal", "tenantId": FOREIGN_TENANT}},
    ],
    ids=["foreign tenant", "no tenant", "tenants disagree"],
)
async def test_a_signed_approval_from_a_tenant_not_allowed_is_403_and_nothing_changes(
    product: World, issuer: TokenIssuer, tenant: dict[str, Any]
) -> None:
    request = await _pending(product)
    audit_before = await _audit_events(product)
    token = issuer.token(audience=APP_ID, service_url=product.connector_url)
    click = _approve(product, request)
    click.update(tenant)

    status, _ = await product.post(click, headers={"Authorization": f"Bearer {token}"})

    assert status == 403
    await _nothing_happened(product, request, audit_before)
