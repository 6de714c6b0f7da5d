"""LeaveList on the in-memory directory and the real approval service (in-memory store and
fakes): every decision, and what submit stores and carries out for each."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from approvals.audit import InMemoryAudit
from approvals.models import Person, RequestKind, RequestStatus
from approvals.ports import JobName
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore
from approvals.testing import (
    InMemoryJobQueue,
    InMemoryMembershipWriter,
    InMemoryNotifier,
    StaticApprovers,
)
from skills.leave_dl import (
    LeaveAlreadyRequested,
    LeaveDecisionKind,
    LeaveInstead,
    LeaveList,
    LeaveNeedsApproval,
    LeaveRefusal,
    LeaveRefused,
    MemberThroughGroup,
    NotAMember,
    RemoveNow,
    RemoveNowReason,
)
from skills.memory_directory import InMemoryListDirectory
from skills.ports import DirectoryList, Restriction
from tests.skills.factories import (
    ADELE,
    ALEX,
    HENRIETTA,
    LEE,
    MEGAN,
    NESTOR,
    PATTI,
    demo_approvers,
    demo_list,
    demo_lists,
    demo_people,
    demo_person,
)


def _ids() -> dict[str, str]:
    return {item.name: item.object_id for item in demo_lists()}


def demo_directory() -> InMemoryListDirectory:
    directory = InMemoryListDirectory(demo_lists(), demo_people())
    ids = _ids()
    directory.add_member(ids["marketing"], ALEX)  # depart Open
    directory.add_member(ids["leadership-team"], ALEX)  # depart Closed, Patti owns it
    directory.add_member(ids["leadership-team"], PATTI)
    directory.add_member(ids["finance-emea"], LEE)  # Lee owns it and is on it
    directory.add_member(ids["engineering-all"], ids["engineering-platform"])
    directory.add_member(ids["engineering-platform"], HENRIETTA)
    directory.add_member(ids["former-interns"], ALEX)  # ownerless
    directory.add_member(ids["onprem-engineering"], ALEX)  # dir-synced
    return directory


@dataclass
class World:
    directory: InMemoryListDirectory = field(default_factory=demo_directory)
    approvers: StaticApprovers = field(default_factory=demo_approvers)
    store: InMemoryRequestStore = field(default_factory=InMemoryRequestStore)
    jobs: InMemoryJobQueue = field(default_factory=InMemoryJobQueue)
    writer: InMemoryMembershipWriter = field(default_factory=InMemoryMembershipWriter)

    @property
    def service(self) -> ApprovalService:
        return ApprovalService(
            store=self.store,
            approvers=self.approvers,
            notifier=InMemoryNotifier(),
            jobs=self.jobs,
            writer=self.writer,
            audit=InMemoryAudit(),
        )

    @property
    def leave(self) -> LeaveList:
        return LeaveList(self.directory, self.service, self.approvers)

    def change(self, name: str, **fields: object) -> DirectoryList:
        changed = dataclasses.replace(demo_list(name), **fields)  # type: ignore[arg-type]
        self.directory.add_list(changed)
        return changed


@pytest.fixture
def world() -> World:
    return World()


def person(object_id: str) -> Person:
    return demo_person(object_id)


async def test_a_list_that_does_not_exist_is_refused_with_check_the_name(world: World) -> None:
    preview = await world.leave.preview(person(ALEX), "nope@contoso.com")

    assert preview.list is None
    assert preview.decision == LeaveRefused(LeaveRefusal.NOT_FOUND, LeaveInstead.CHECK_THE_NAME)


async def test_a_room_list_is_refused_because_it_holds_rooms_not_people(world: World) -> None:
    preview = await world.leave.preview(person(ALEX), demo_list("building-1-rooms").object_id)

    assert preview.decision == LeaveRefused(LeaveRefusal.ROOM_LIST, LeaveInstead.NOTHING_TO_LEAVE)


async def test_a_dynamic_list_is_refused_with_update_your_profile(world: World) -> None:
    preview = await world.leave.preview(person(ALEX), demo_list("sales-all-dynamic").object_id)

    assert preview.decision == LeaveRefused(LeaveRefusal.DYNAMIC_LIST, LeaveInstead.UPDATE_PROFILE)


async def test_someone_not_on_the_list_is_told_there_is_nothing_to_do(world: World) -> None:
    outcome = await world.leave.submit(person(ALEX), "book-club@contoso.com")

    assert outcome.decision == NotAMember()
    assert outcome.request is None
    assert await world.service.requests_of(ALEX) == []


async def test_a_member_through_a_member_group_is_told_which_group_and_nothing_is_asked(
    world: World,
) -> None:
    outcome = await world.leave.submit(person(HENRIETTA), demo_list("engineering-all").object_id)

    assert outcome.decision == MemberThroughGroup(("Engineering Platform",))
    assert outcome.decision.kind is LeaveDecisionKind.MEMBER_THROUGH_GROUP
    assert outcome.request is None


async def test_a_dir_synced_list_is_refused_and_names_its_owners(world: World) -> None:
    preview = await world.leave.preview(person(ALEX), demo_list("onprem-engineering").object_id)

    assert preview.decision == LeaveRefused(LeaveRefusal.DIR_SYNCED, LeaveInstead.ASK_ONPREM_ADMIN)
    assert preview.owners == ("Grady Archie",)


async def test_an_open_list_removes_at_once_without_asking_anyone(world: World) -> None:
    outcome = await world.leave.submit(person(ALEX), "marketing@contoso.com")

    assert outcome.decision == RemoveNow(RemoveNowReason.OPEN_LIST)
    assert outcome.created and outcome.request is not None
    assert outcome.request.kind is RequestKind.LEAVE
    assert outcome.request.status is RequestStatus.APPROVED
    assert outcome.request.auto_approved == "open list"
    assert world.jobs.names() == [JobName.EXECUTE]


async def test_the_removal_runs_once_and_records_removed(world: World) -> None:
    world.writer.members[demo_list("marketing").object_id] = {ALEX}
    outcome = await world.leave.submit(person(ALEX), "marketing@contoso.com")
    assert outcome.request is not None

    await world.jobs.run_all(world.service)

    done = await world.service.get(outcome.request.id)
    assert done.status is RequestStatus.COMPLETED
    assert done.execution.outcome == "removed"
    assert ALEX not in world.writer.members[demo_list("marketing").object_id]
    assert len(world.writer.calls) == 1


async def test_a_closed_list_goes_to_its_owners_for_approval(world: World) -> None:
    outcome = await world.leave.submit(person(ALEX), "leadership@contoso.com")

    decision = outcome.decision
    assert isinstance(decision, LeaveNeedsApproval)
    assert [a.object_id for a in decision.approvers] == [PATTI]
    assert decision.restriction is Restriction.CLOSED and not decision.orphaned
    assert outcome.request is not None
    assert outcome.request.status is RequestStatus.PENDING
    assert [a.object_id for a in outcome.request.approvers] == [PATTI]
    assert world.jobs.names() == [JobName.DELIVER_CARDS]


async def test_an_approval_required_depart_restriction_goes_to_the_owners_too(
    world: World,
) -> None:
    world.change("marketing", depart_restriction=Restriction.APPROVAL_REQUIRED)

    preview = await world.leave.preview(person(ALEX), "marketing@contoso.com")

    assert isinstance(preview.decision, LeaveNeedsApproval)
    assert preview.decision.restriction is Restriction.APPROVAL_REQUIRED


async def test_an_owner_leaving_their_own_closed_list_is_removed_at_once(world: World) -> None:
    outcome = await world.leave.submit(person(PATTI), "leadership@contoso.com")

    assert outcome.decision == RemoveNow(RemoveNowReason.REQUESTER_OWNS_LIST)
    assert outcome.request is not None
    assert outcome.request.auto_approved == "requester owns the list"


async def test_an_ownerless_closed_list_goes_to_the_fallback_approvers(world: World) -> None:
    world.change("former-interns", depart_restriction=Restriction.CLOSED)

    preview = await world.leave.preview(person(ALEX), "former-interns@contoso.com")

    decision = preview.decision
    assert isinstance(decision, LeaveNeedsApproval) and decision.orphaned
    assert {a.object_id for a in decision.approvers} == {ADELE, NESTOR}


async def test_asking_to_leave_twice_returns_the_open_request(world: World) -> None:
    first = await world.leave.submit(person(ALEX), "leadership@contoso.com")

    second = await world.leave.submit(person(ALEX), "leadership@contoso.com")

    assert isinstance(second.decision, LeaveAlreadyRequested)
    assert first.request is not None and second.request is not None
    assert second.request.id == first.request.id and not second.created
    assert len(await world.service.requests_of(ALEX)) == 1


async def test_an_open_join_request_does_not_count_as_a_leave_request(world: World) -> None:
    leadership = demo_list("leadership-team").ref
    await world.service.submit(
        kind=RequestKind.JOIN, requester=person(MEGAN), group=leadership, justification="x"
    )
    world.directory.add_member(leadership.object_id, MEGAN)

    preview = await world.leave.preview(person(MEGAN), leadership.object_id)

    assert isinstance(preview.decision, LeaveNeedsApproval)


async def test_submit_decides_again_on_live_data(world: World) -> None:
    preview = await world.leave.preview(person(ALEX), "marketing@contoso.com")
    assert isinstance(preview.decision, RemoveNow)
    world.directory.remove_member(demo_list("marketing").object_id, ALEX)

    outcome = await world.leave.submit(person(ALEX), "marketing@contoso.com")

    assert outcome.decision == NotAMember() and outcome.request is None
