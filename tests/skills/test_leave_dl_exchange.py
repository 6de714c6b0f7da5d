"""LeaveList on the sandbox tenant through the real Exchange client, owners resolved live, and
the real approval service writing to Exchange: what a person meets in the demo."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from approvals.approvers import OwnerApprovers
from approvals.audit import InMemoryAudit
from approvals.exchange_adapters import ExchangeMembershipWriter, ExchangeOwnerDirectory
from approvals.models import RequestStatus
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore
from approvals.testing import InMemoryJobQueue, InMemoryNotifier
from exchange.client import ExchangeClient
from exchange.sandbox.server import SandboxServer
from skills.exchange_directory import ExchangeListDirectory
from skills.leave_dl import (
    LeaveList,
    LeaveNeedsApproval,
    MemberThroughGroup,
    NotAMember,
    RemoveNow,
    RemoveNowReason,
)
from skills.ports import Restriction
from tests.skills.factories import ALEX, HENRIETTA, NESTOR, PATTI, demo_person


@dataclass
class Live:
    leave: LeaveList
    service: ApprovalService
    jobs: InMemoryJobQueue


@pytest.fixture
def live(client: ExchangeClient) -> Live:
    approvers = OwnerApprovers(ExchangeOwnerDirectory(client), fallback=())
    jobs = InMemoryJobQueue()
    service = ApprovalService(
        store=InMemoryRequestStore(),
        approvers=approvers,
        notifier=InMemoryNotifier(),
        jobs=jobs,
        writer=ExchangeMembershipWriter(client),
        audit=InMemoryAudit(),
    )
    return Live(LeaveList(ExchangeListDirectory(client), service, approvers), service, jobs)


def _members(sandbox: SandboxServer, group: str) -> list[str]:
    return [m["primary_smtp_address"] for m in sandbox.tenant.group_snapshot(group)["members"]]


async def test_alex_leaves_the_open_marketing_list_at_once_and_exchange_drops_him(
    live: Live, sandbox: SandboxServer
) -> None:
    outcome = await live.leave.submit(demo_person(ALEX), "marketing@contoso.com")
    assert outcome.decision == RemoveNow(RemoveNowReason.OPEN_LIST)
    assert outcome.request is not None

    await live.jobs.run_all(live.service)

    done = await live.service.get(outcome.request.id)
    assert done.status is RequestStatus.COMPLETED and done.execution.outcome == "removed"
    assert "alexw@contoso.com" not in _members(sandbox, "marketing")


async def test_nestor_leaving_the_closed_leadership_list_needs_patti(live: Live) -> None:
    preview = await live.leave.preview(demo_person(NESTOR), "leadership@contoso.com")

    assert preview.list is not None
    assert preview.list.depart_restriction is Restriction.CLOSED
    assert isinstance(preview.decision, LeaveNeedsApproval)
    assert [a.object_id for a in preview.decision.approvers] == [PATTI]


async def test_alex_is_not_on_leadership(live: Live) -> None:
    preview = await live.leave.preview(demo_person(ALEX), "leadership@contoso.com")

    assert preview.decision == NotAMember()


async def test_henrietta_gets_engineering_through_a_member_group(live: Live) -> None:
    preview = await live.leave.preview(demo_person(HENRIETTA), "engineering@contoso.com")

    assert preview.decision == MemberThroughGroup(("Engineering Platform",))


async def test_a_removal_exchange_finds_already_done_counts_as_done(
    live: Live, sandbox: SandboxServer, client: ExchangeClient
) -> None:
    outcome = await live.leave.submit(demo_person(ALEX), "marketing@contoso.com")
    assert outcome.request is not None
    # Someone removes Alex in Outlook before the worker gets to it.
    await client.remove_distribution_group_member("marketing@contoso.com", "alexw@contoso.com")

    await live.jobs.run_all(live.service)

    done = await live.service.get(outcome.request.id)
    assert done.status is RequestStatus.COMPLETED and done.execution.outcome == "not_a_member"
