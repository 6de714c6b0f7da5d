"""The end of a time-limited membership against the sandbox tenant over loopback HTTPS: one
Remove-DistributionGroupMember at the end; and a list moved on-premises meanwhile (IsDirSynced)
refuses it, which ends the grant as end_failed, alerts the admins and tells the member."""

from __future__ import annotations

from approvals.exchange_adapters import ExchangeMembershipWriter
from approvals.grants import GrantStatus
from exchange.client import ExchangeClient
from exchange.sandbox.server import SandboxServer
from tests.approvals import demo
from tests.approvals.grant_world import GrantWorld

REMOVE = "Remove-DistributionGroupMember"


def removals(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.requests if r.cmdlet == REMOVE)


def is_member(sandbox: SandboxServer) -> bool:
    members = sandbox.tenant.group_snapshot("finance-emea")["members"]
    return any(m["primary_smtp_address"] == demo.ALEX.address for m in members)


async def joined_for_3_days(client: ExchangeClient) -> tuple[GrantWorld, str]:
    world = GrantWorld(exchange_writer=ExchangeMembershipWriter(client))
    request = await world.ask_for(3)
    await world.service.decide(request.id, demo.MEGAN, approve=True)
    await world.run_jobs()
    return world, request.id


async def test_the_end_removes_the_member_from_exchange_once(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    world, grant_id = await joined_for_3_days(client)
    assert is_member(sandbox)
    await world.after(days=3)
    await world.grants.end(f"{grant_id}.0")  # a duplicate run of the end job
    await world.after(days=3)
    assert not is_member(sandbox)
    assert removals(sandbox) == 1
    assert world.grant_notices.what()[-1] == "ended"


async def test_a_list_moved_on_premises_keeps_the_member_and_says_so_to_admins_and_member(
    sandbox: SandboxServer, client: ExchangeClient
) -> None:
    world, grant_id = await joined_for_3_days(client)
    with sandbox.tenant.lock:
        synced = sandbox.tenant.name_holder("finance-emea")
        assert synced is not None
        synced.is_dir_synced = True
    await world.after(days=3)
    grant = await world.grants.get(grant_id)
    assert grant is not None and grant.status is GrantStatus.END_FAILED
    assert is_member(sandbox)
    assert world.grant_notices.what()[-1] == "end failed"
    (alert,) = world.notifier.alerts
    assert "on-premises" in alert[1]
    (ended,) = [e for e in world.audit.events if e.event == "membership_ended"]
    assert ended.result == "failed" and "on-premises" in ended.detail
