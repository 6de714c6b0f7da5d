"""Issue 8, item 4: Exchange misbehaving. Through a window where 30 percent of its answers are
429, 503 or a dropped connection, every approved request still completes, once; a failure no
retry can fix (a list synced from on-premises, a role that lacks the cmdlet) is reported once,
in plain words, to the requester and to the admins.

The faults are the sandbox's (exchange/sandbox/faults.py), drawn from a seeded generator; the
client's own retry rules per status are in tests/exchange/test_client_faults.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from approvals.audit import AuditAction, RedisStreamAudit
from approvals.models import ApprovalRequest, ListRef, Person, RequestKind, RequestStatus
from bot.settings import Settings
from exchange.sandbox.faults import Fault, FaultKind
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.reliability.world import ADD, World, eventually, personal, world, world_settings

MEGAN, LEE, GRADY, ADELE = demo.MEGAN, demo.LEE, demo.GRADY, demo.ADELE
# People not on Finance EMEA, one approved request each during the faulty window.
REQUESTERS = (demo.ALEX, demo.PATTI, demo.DIEGO, demo.JONI, demo.JOHN, demo.ANNA)
FAULT_SHARE = 0.3


@pytest.fixture
def settings(redis_url: str, sandbox: ThreadedSandbox) -> Settings:
    # Adele (also the fallback approver) is the admin who hears what no retry fixes.
    return world_settings(redis_url, sandbox, admin_alerts=ADELE.object_id)


@pytest.fixture
async def product(settings: Settings, sandbox: ThreadedSandbox) -> AsyncIterator[World]:
    async with world(settings, sandbox, worker=True) as running:
        await running.install(*REQUESTERS, MEGAN, LEE, GRADY, ADELE)
        yield running


def _faulty_window(sandbox: ThreadedSandbox) -> None:
    """30 percent of every cmdlet's calls fail, a third each way. The plan tries its faults in
    order, so each one's chance is of the calls the ones before it let through."""
    sandbox.server.faults.reseed(8)
    share = FAULT_SHARE / 3
    kinds: tuple[FaultKind, ...] = ("throttle", "unavailable", "drop")
    for n, kind in enumerate(kinds):
        chance = share / (1 - n * share)
        sandbox.inject(Fault(kind=kind, probability=chance, retry_after="0.05"))


async def _ask(product: World, requester: Person, group: ListRef) -> ApprovalRequest:
    submitted = await product.dlbot.approvals.submit(
        kind=RequestKind.JOIN, requester=requester, group=group, justification="needed"
    )
    return await product.cards_out(submitted.request.id, len(submitted.request.approvers))


async def test_every_approved_request_completes_once_through_a_window_of_exchange_faults(
    product: World, sandbox: ThreadedSandbox
) -> None:
    _faulty_window(sandbox)
    asked = [await _ask(product, requester, demo.FINANCE_EMEA) for requester in REQUESTERS]
    for request in asked:
        status, answer = await product.click(LEE, "approve", {"requestId": request.id})
        assert status == 200 and "Approved by Lee Gu" in json.dumps(answer)

    async def all_completed() -> bool:
        done = [await product.dlbot.approvals.get(r.id) for r in asked]
        return all(r.status is RequestStatus.COMPLETED for r in done)

    await eventually(all_completed, within=90)
    sandbox.clear_faults()

    failed = [r for r in sandbox.requests if r.fault in ("throttle", "unavailable", "drop")]
    assert len(failed) >= 0.15 * len(sandbox.requests)  # the window really was faulty
    members = product.members("finance-emea")
    for request in asked:
        assert members.count(request.requester.address) == 1
    assert product.writes() == len(asked)  # no change made twice


def _sent_to(product: World, who: Person) -> list[str]:
    return [
        json.dumps(r.body)
        for r in product.connector.requests
        if r.method == "POST" and r.path.startswith(f"/v3/conversations/{personal(who)}/")
    ]


async def _approved_then_failed(product: World, request: ApprovalRequest, owner: Person) -> None:
    status, _ = await product.click(owner, "approve", {"requestId": request.id})
    assert status == 200

    async def failed() -> bool:
        return (await product.dlbot.approvals.get(request.id)).status is RequestStatus.FAILED

    await eventually(failed)


@pytest.mark.parametrize("cause", ["dir-synced list", "missing role"])
async def test_a_failure_no_retry_fixes_is_reported_once_to_the_requester_and_the_admins(
    product: World, sandbox: ThreadedSandbox, cause: str
) -> None:
    requester = demo.ALEX
    if cause == "dir-synced list":
        # Asked as if the list were synced from on-premises only after the request was made
        # (the join dialog refuses such lists up front).
        group, owner, why = demo.ONPREM_ENGINEERING, GRADY, "on-premises"
    else:
        group, owner, why = demo.FINANCE_EMEA, MEGAN, "role"
    request = await _ask(product, requester, group)
    told_before = len(_sent_to(product, requester))
    alerts_before = len(_sent_to(product, ADELE))
    if cause == "missing role":
        app = sandbox.server.demo_app
        assert app is not None
        app.granted_cmdlets = {"Get-DistributionGroup", "Get-Recipient", "Get-User"}

    await _approved_then_failed(product, request, owner)

    def failure_notices() -> list[str]:
        sent = _sent_to(product, requester)[told_before:]
        return [text for text in sent if "I couldn't add you" in text]

    async def everyone_told() -> bool:
        alerts = _sent_to(product, ADELE)[alerts_before:]
        return len(failure_notices()) >= 1 and len(alerts) >= 1

    await eventually(everyone_told)
    attempts = len([r for r in sandbox.requests if r.cmdlet == ADD])
    told = failure_notices()
    alerts = [a for a in _sent_to(product, ADELE)[alerts_before:] if request.id in a]
    assert len(told) == 1 and len(alerts) == 1
    assert "Traceback" not in told[0] + alerts[0]
    assert why in alerts[0]
    assert attempts == 1  # nothing a retry could fix was retried
    events = await RedisStreamAudit(product.dlbot.edge.redis).read()
    failures = [e for e in events if e.request_id == request.id and e.event == AuditAction.FAILED]
    assert len(failures) == 1
    assert requester.address not in product.members(group.address.split("@")[0])
