"""JoinList on the sandbox tenant through the real Exchange client, owners resolved live, and
on the real approval service: the decisions a person meets in the demo."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from approvals.approvers import OwnerApprovers
from approvals.audit import InMemoryAudit
from approvals.exchange_adapters import ExchangeMembershipWriter, ExchangeOwnerDirectory
from approvals.models import RequestKind, RequestStatus
from approvals.ports import ApproverSource, MembershipWriter
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore
from approvals.testing import InMemoryJobQueue, InMemoryMembershipWriter, InMemoryNotifier
from exchange.client import ExchangeClient
from skills.exchange_directory import ExchangeListDirectory
from skills.find_dl import ListIndex
from skills.join_dl import (
    AddNow,
    AddNowReason,
    AlreadyMember,
    AlreadyMemberNested,
    AlreadyRequested,
    Instead,
    JoinList,
    NeedsApproval,
    RefusalReason,
    Refused,
)
from skills.memory_directory import InMemoryListDirectory
from skills.policies import ClosedLists, Policy
from tests.skills.factories import (
    ALEX,
    HENRIETTA,
    MEGAN,
    demo_approvers,
    demo_list,
    demo_lists,
    demo_people,
    demo_person,
)
from tests.skills.fakes import FakeApprovals


@dataclass
class Live:
    directory: ExchangeListDirectory
    approvers: OwnerApprovers
    approvals: FakeApprovals

    def join(self, policy: Policy | None = None) -> JoinList:
        return JoinList(self.directory, self.approvals, self.approvers, policy or Policy())


@pytest.fixture
def live(client: ExchangeClient) -> Live:
    return Live(
        ExchangeListDirectory(client),
        OwnerApprovers(ExchangeOwnerDirectory(client), fallback=()),
        FakeApprovals(),
    )


async def test_finance_emea_needs_megan_or_lee_to_approve(live: Live) -> None:
    preview = await live.join().preview(demo_person(ALEX), "finance-emea@contoso.com")

    assert isinstance(preview.decision, NeedsApproval)
    assert set(preview.owners) == {"Megan Bowen", "Lee Gu"}
    assert not preview.decision.orphaned and preview.decision.justification_required


async def test_alex_is_already_on_marketing(live: Live) -> None:
    preview = await live.join().preview(demo_person(ALEX), "marketing@contoso.com")

    assert preview.decision == AlreadyMember()


async def test_henrietta_gets_engineering_all_through_engineering_platform(live: Live) -> None:
    preview = await live.join().preview(demo_person(HENRIETTA), "engineering@contoso.com")

    assert preview.decision == AlreadyMemberNested(("Engineering Platform",))


async def test_book_club_is_open_so_alex_is_added_at_once(live: Live) -> None:
    preview = await live.join().preview(demo_person(ALEX), "book-club@contoso.com")

    assert preview.decision == AddNow(AddNowReason.OPEN_LIST)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("onprem-engineering@contoso.com", RefusalReason.DIR_SYNCED),
        ("building1-rooms@contoso.com", RefusalReason.ROOM_LIST),
        ("sales-all@contoso.com", RefusalReason.DYNAMIC_LIST),
        ("nobody-has-this@contoso.com", RefusalReason.NOT_FOUND),
    ],
)
async def test_lists_nobody_joins_through_the_bot_are_refused_with_the_reason(
    live: Live, address: str, reason: RefusalReason
) -> None:
    preview = await live.join().preview(demo_person(ALEX), address)

    assert isinstance(preview.decision, Refused)
    assert preview.decision.reason is reason


async def test_a_dir_synced_list_names_its_owner_to_ask(live: Live) -> None:
    preview = await live.join().preview(demo_person(ALEX), "onprem-engineering@contoso.com")

    assert preview.owners == ("Grady Archie",)
    assert preview.decision == Refused(RefusalReason.DIR_SYNCED, Instead.ASK_ONPREM_ADMIN)


async def test_the_closed_leadership_list_asks_patti_by_default(live: Live) -> None:
    preview = await live.join().preview(demo_person(ALEX), "leadership@contoso.com")

    assert isinstance(preview.decision, NeedsApproval)
    assert preview.owners == ("Patti Fernandez",)


async def test_the_closed_leadership_list_is_refused_when_the_policy_says_so(live: Live) -> None:
    policy = Policy(closed_lists=ClosedLists.REFUSE)

    preview = await live.join(policy).preview(demo_person(ALEX), "leadership@contoso.com")

    assert preview.decision == Refused(RefusalReason.CLOSED_BY_POLICY, Instead.ASK_OWNERS)


async def test_megan_owns_finance_emea_so_she_is_added_at_once(live: Live) -> None:
    preview = await live.join().preview(demo_person(MEGAN), "finance-emea@contoso.com")

    assert preview.decision == AddNow(AddNowReason.REQUESTER_OWNS_LIST)


async def test_the_hidden_list_is_not_searchable_but_joinable_by_its_address(live: Live) -> None:
    index = ListIndex([item async for page in live.directory.all_lists() for item in page])

    hits = [m.list.name for m in index.search("executive assistants", limit=50)]
    (exact,) = index.search("exec-assistants@contoso.com")
    preview = await live.join().preview(demo_person(ALEX), exact.list.object_id)

    assert "exec-assistants" not in hits
    assert exact.list.hidden
    assert isinstance(preview.decision, NeedsApproval)


async def test_asking_twice_on_exchange_gives_the_first_request_back(live: Live) -> None:
    join = live.join()
    first = await join.submit(demo_person(ALEX), "finance-emea@contoso.com", "Q3 budget")

    again = await join.preview(demo_person(ALEX), "finance-emea@contoso.com")

    assert first.created and first.request is not None
    assert again.decision == AlreadyRequested(first.request)


# With the real approval service -----------------------------------------------------------------


@dataclass
class Service:
    store: InMemoryRequestStore
    jobs: InMemoryJobQueue
    notifier: InMemoryNotifier
    service: ApprovalService


def service_with(approvers: ApproverSource, writer: MembershipWriter) -> Service:
    store, jobs, notifier = InMemoryRequestStore(), InMemoryJobQueue(), InMemoryNotifier()
    service = ApprovalService(
        store=store,
        approvers=approvers,
        notifier=notifier,
        jobs=jobs,
        writer=writer,
        audit=InMemoryAudit(),
    )
    return Service(store, jobs, notifier, service)


async def test_the_real_service_asks_the_owners_once_per_person_and_list(
    client: ExchangeClient,
) -> None:
    approvers = OwnerApprovers(ExchangeOwnerDirectory(client), fallback=())
    real = service_with(approvers, InMemoryMembershipWriter())
    join = JoinList(ExchangeListDirectory(client), real.service, approvers, Policy())

    first = await join.submit(demo_person(ALEX), "finance-emea@contoso.com", "Q3 budget")
    second = await join.submit(demo_person(ALEX), "finance-emea@contoso.com", "again")
    await real.jobs.run_all(real.service)

    assert first.created and first.request is not None
    assert first.request.status is RequestStatus.PENDING
    assert {a.display_name for a in first.request.approvers} == {"Megan Bowen", "Lee Gu"}
    assert second.decision == AlreadyRequested(first.request)
    assert sorted(a.display_name for a, _, _ in real.notifier.cards) == ["Lee Gu", "Megan Bowen"]


async def test_joining_an_open_list_through_the_real_service_adds_the_person_in_exchange(
    client: ExchangeClient,
) -> None:
    approvers = OwnerApprovers(ExchangeOwnerDirectory(client), fallback=())
    real = service_with(approvers, ExchangeMembershipWriter(client))
    directory = ExchangeListDirectory(client)
    join = JoinList(directory, real.service, approvers, Policy())

    outcome = await join.submit(demo_person(ALEX), "book-club@contoso.com")
    await real.jobs.run_all(real.service)

    assert outcome.request is not None
    assert outcome.request.auto_approved == "open list"
    stored = await real.service.get(outcome.request.id)
    assert stored.status is RequestStatus.COMPLETED
    after = await join.preview(demo_person(ALEX), "book-club@contoso.com")
    assert after.decision == AlreadyMember()


async def test_the_in_memory_directory_and_the_real_service_work_together() -> None:
    # What a dialog test does: no Exchange, no Redis, the real workflow.
    directory = InMemoryListDirectory(demo_lists(), demo_people())
    approvers = demo_approvers()
    writer = InMemoryMembershipWriter()
    real = service_with(approvers, writer)
    join = JoinList(directory, real.service, approvers, Policy())

    outcome = await join.submit(demo_person(ALEX), demo_list("book-club").object_id)
    await real.jobs.run_all(real.service)

    assert outcome.request is not None and outcome.request.kind is RequestKind.JOIN
    assert writer.members == {demo_list("book-club").object_id: {ALEX}}
