"""CREATE requests: asked of the creation approvers (not owners), decided by them as they are
at decision time, made once, indexed at once, and a name taken after approval reported with
free alternatives instead of retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as redis

from approvals import keys
from approvals.creation import CreationApproverMode, CreationApprovers, InMemoryCreatorDirectory
from approvals.errors import ListNameTaken, NotAnApprover
from approvals.lifecycle import Timings
from approvals.models import Approver, NewList, Person, RequestKind, RequestStatus
from approvals.ports import DirectoryEntry, JobName, NoticeKind
from approvals.redis_store import RedisRequestStore
from approvals.service import ApprovalService
from approvals.store import RequestStore
from skills.create_dl import NewListIndexer, planned_ref
from skills.find_dl import ListIndex
from skills.index_store import ListSnapshotStore, follow_index, restore_index
from skills.memory_creation import InMemoryCreationDirectory
from skills.policies import CreationPolicy
from tests.approvals import demo
from tests.approvals.conftest import Harness

IT = "it-admins@contoso.com"


def _entry(person: Person) -> DirectoryEntry:
    return DirectoryEntry(person.object_id, person.display_name, person.address)


def _spec(name: str = "Q3 Launch", address: str = "q3-launch@contoso.com") -> NewList:
    return NewList(
        name=name,
        display_name=name,
        alias=address.partition("@")[0],
        address=address,
        owners=(demo.ALEX, demo.MEGAN),
        members=(demo.LEE,),
        join_restriction="Open",
    )


class World:
    def __init__(
        self,
        *,
        mode: CreationApproverMode = CreationApproverMode.IT_GROUP,
        store: RequestStore | None = None,
        snapshots: ListSnapshotStore | None = None,
        timings: Timings = Timings(),
        fallback: tuple[Approver, ...] = (),
    ) -> None:
        self.harness = Harness() if store is None else Harness(store=store)
        self.creators = InMemoryCreatorDirectory(
            {IT: [_entry(demo.ADELE), _entry(demo.GRADY)]},
            managers={demo.ALEX.object_id: _entry(demo.PATTI)},
        )
        self.names = InMemoryCreationDirectory(("contoso.com",))
        self.index = ListIndex()
        self.snapshots = snapshots
        self.service = ApprovalService(
            store=self.harness.store,
            approvers=self.harness.approvers,
            notifier=self.harness.notifier,
            jobs=self.harness.jobs,
            writer=self.harness.writer,
            audit=self.harness.audit,
            clock=self.harness.clock,
            timings=timings,
            creation_approvers=CreationApprovers(
                self.creators, mode=mode, approver_identities=(IT,), fallback=fallback
            ),
            new_lists=NewListIndexer(
                self.names, snapshots or _NoSnapshots(), self.index, CreationPolicy()
            ),
        )

    async def ask(self, spec: NewList | None = None, requester: Person = demo.ALEX) -> str:
        spec = spec or _spec()
        result = await self.service.submit(
            kind=RequestKind.CREATE,
            requester=requester,
            group=planned_ref(spec),
            justification="for the launch",
            new_list=spec,
        )
        await self.harness.jobs.run_all(self.service)
        return result.request.id

    async def approve(self, request_id: str, who: Person = demo.ADELE) -> None:
        await self.service.decide(request_id, who, approve=True)
        await self.harness.jobs.run_all(self.service)


class _NoSnapshots:
    """Where the in-memory tests put snapshots: nowhere (the Redis one is tested below)."""

    async def upsert(self, item: object) -> None:
        return None


async def test_a_new_list_is_asked_of_the_creation_approvers_without_the_requester() -> None:
    world = World()

    request_id = await world.ask(requester=demo.ADELE)

    request = await world.service.get(request_id)
    assert [a.object_id for a in request.approvers] == [demo.GRADY.object_id]
    assert {a.via for a in request.approvers} == {"creation approver"}
    assert world.harness.notifier.carded() == [demo.GRADY.object_id]


async def test_in_manager_mode_the_requesters_manager_approves() -> None:
    world = World(mode=CreationApproverMode.MANAGER)

    request = await world.service.get(await world.ask())

    assert [(a.object_id, a.via) for a in request.approvers] == [(demo.PATTI.object_id, "manager")]


async def test_in_manager_mode_someone_without_a_manager_goes_to_the_creation_approvers() -> None:
    world = World(mode=CreationApproverMode.MANAGER)

    request = await world.service.get(await world.ask(requester=demo.LEE))

    assert {a.object_id for a in request.approvers} == {
        demo.ADELE.object_id,
        demo.GRADY.object_id,
    }


async def test_a_creation_approver_approves_and_the_list_is_made_once_and_indexed() -> None:
    world = World()
    request_id = await world.ask()

    await world.approve(request_id)

    done = await world.service.get(request_id)
    assert done.status is RequestStatus.COMPLETED
    assert done.group.object_id.startswith("created-")
    assert len(world.harness.writer.calls) == 1
    indexed = world.index.get(done.group.object_id)
    assert indexed is not None and indexed.address == "q3-launch@contoso.com"
    assert [m.list.object_id for m in world.index.search("q3 launch")] == [done.group.object_id]
    assert world.harness.notifier.notices_to(demo.ALEX.object_id)[-1] is NoticeKind.COMPLETED
    assert world.harness.events() == ["submitted", "cards_sent", "approved", "executed"]
    executed = world.harness.audit.events[-1]
    assert (executed.cmdlet, executed.result) == ("New-DistributionGroup", "created")


async def test_someone_no_longer_a_creation_approver_cannot_decide() -> None:
    world = World()
    request_id = await world.ask()
    world.creators.people_of[IT] = [_entry(demo.GRADY)]  # Adele left the IT group

    with pytest.raises(NotAnApprover):
        await world.service.decide(request_id, demo.ADELE, approve=True)

    assert (await world.service.get(request_id)).status is RequestStatus.PENDING


async def test_a_lists_owner_is_not_a_creation_approver() -> None:
    world = World()
    request_id = await world.ask()

    with pytest.raises(NotAnApprover):
        await world.service.decide(request_id, demo.MEGAN, approve=True)


async def test_the_same_planned_list_asked_twice_returns_the_first_and_another_is_new() -> None:
    world = World()
    first = await world.ask()

    again = await world.ask()
    other = await world.ask(_spec("Q4 Launch", "q4-launch@contoso.com"))

    assert again == first and other != first


async def test_a_name_taken_after_approval_fails_at_once_with_free_alternatives() -> None:
    world = World()
    request_id = await world.ask()
    world.names.add("Q3 Launch 2", "Q3 Launch 2", "someone", "someone@contoso.com")
    world.harness.writer.script.append(ListNameTaken("taken", "exchange-1"))

    await world.approve(request_id)

    failed = await world.service.get(request_id)
    assert failed.status is RequestStatus.FAILED
    assert failed.execution.outcome == "name_taken"
    assert [a.address for a in failed.execution.alternatives] == [
        "q3-launch-3@contoso.com",
        "q3-launch-4@contoso.com",
        "q3-launch-5@contoso.com",
    ]
    assert [a.display_name for a in failed.execution.alternatives][0] == "Q3 Launch 3"
    assert len(world.harness.writer.calls) == 1
    assert JobName.EXECUTE not in world.harness.jobs.names()
    assert world.harness.notifier.notices_to(demo.ALEX.object_id)[-1] is NoticeKind.FAILED
    assert world.harness.events()[-1] == "failed" and world.harness.notifier.alerts


async def test_an_overdue_new_list_request_escalates_to_nobody_rather_than_failing() -> None:
    week = Timings(timedelta(days=2), timedelta(days=4), timedelta(days=7))
    world = World(timings=week)
    spec = _spec()
    submitted = await world.service.submit(
        kind=RequestKind.CREATE, requester=demo.ALEX, group=planned_ref(spec), new_list=spec
    )
    request_id = submitted.request.id
    world.harness.clock.advance(days=4)

    await world.service.lifecycle.escalate(request_id)

    escalated = world.harness.audit.events[-1]
    assert (escalated.event, escalated.result) == ("escalated", "skipped")
    assert (await world.service.get(request_id)).status is RequestStatus.PENDING


async def test_an_overdue_new_list_request_escalates_to_the_fallback_approvers() -> None:
    week = Timings(timedelta(days=2), timedelta(days=4), timedelta(days=7))
    patti = demo.approver(demo.PATTI, "fallback")
    world = World(timings=week, fallback=(patti,))
    spec = _spec()
    submitted = await world.service.submit(
        kind=RequestKind.CREATE, requester=demo.ALEX, group=planned_ref(spec), new_list=spec
    )
    world.harness.clock.advance(days=4)

    await world.service.lifecycle.escalate(submitted.request.id)

    escalated = await world.service.get(submitted.request.id)
    assert escalated.escalated_at is not None
    assert patti.object_id in {a.object_id for a in escalated.approvers}
    assert world.harness.audit.events[-1].event == "escalated"
    assert world.harness.audit.events[-1].result != "skipped"


@pytest.fixture
async def connection(redis_url: str) -> AsyncIterator[redis.Redis]:
    opened = redis.Redis.from_url(redis_url, decode_responses=True)
    yield opened
    await opened.aclose()


async def test_with_redis_the_claim_is_released_and_another_replica_finds_the_new_list(
    connection: redis.Redis,
) -> None:
    snapshots = ListSnapshotStore(connection)
    await snapshots.save([])  # the last directory sync, before the list existed
    replica = ListIndex()
    cursor = await restore_index(snapshots, replica)
    world = World(store=RedisRequestStore(connection), snapshots=snapshots)
    first = await world.ask()
    claim = keys.open_request(demo.ALEX.object_id, planned_ref(_spec()).object_id, "create")
    assert await connection.get(claim) == first

    await world.approve(first)

    done = await world.service.get(first)
    assert done.status is RequestStatus.COMPLETED
    # The claim was taken on the planned list; the group changed since, the claim still went.
    assert await connection.exists(claim) == 0
    await follow_index(snapshots, replica, cursor)
    found = replica.get(done.group.object_id)
    assert found is not None and found.address == "q3-launch@contoso.com"


async def test_with_no_creation_approver_left_the_fallback_approvers_are_asked() -> None:
    world = World(fallback=(demo.approver(demo.PATTI),))
    world.creators.people_of[IT] = []  # the IT group was emptied

    request = await world.service.get(await world.ask())

    assert [(a.object_id, a.via) for a in request.approvers] == [(demo.PATTI.object_id, "fallback")]
    assert request.orphaned
