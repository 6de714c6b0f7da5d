"""MyRequests over the real approval service (in-memory store and fakes): the overview, finding
an open request by the list's name, and withdrawing one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from approvals.audit import InMemoryAudit
from approvals.models import ApprovalRequest, Person, RequestKind, RequestStatus
from approvals.ports import JobName
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore
from approvals.testing import (
    InMemoryJobQueue,
    InMemoryMembershipWriter,
    InMemoryNotifier,
    StaticApprovers,
)
from skills.my_requests import (
    MAX_OPEN,
    MAX_RECENT,
    MyRequests,
    NoSuchRequest,
    TooLate,
    Withdrawn,
    is_withdrawable,
)
from tests.skills.factories import (
    ALEX,
    MEGAN,
    PATTI,
    demo_approvers,
    demo_list,
    demo_lists,
    demo_person,
)


@dataclass
class Clock:
    now: datetime = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)  # every step later than the last: order is defined
        return self.now


@dataclass
class World:
    approvers: StaticApprovers = field(default_factory=demo_approvers)
    store: InMemoryRequestStore = field(default_factory=InMemoryRequestStore)
    jobs: InMemoryJobQueue = field(default_factory=InMemoryJobQueue)
    notifier: InMemoryNotifier = field(default_factory=InMemoryNotifier)
    clock: Clock = field(default_factory=Clock)

    @property
    def service(self) -> ApprovalService:
        return ApprovalService(
            store=self.store,
            approvers=self.approvers,
            notifier=self.notifier,
            jobs=self.jobs,
            writer=InMemoryMembershipWriter(),
            audit=InMemoryAudit(),
            clock=self.clock,
        )

    @property
    def mine(self) -> MyRequests:
        return MyRequests(self.service)

    async def ask(
        self, name: str, *, who: str = ALEX, kind: RequestKind = RequestKind.JOIN, auto: str = ""
    ) -> ApprovalRequest:
        result = await self.service.submit(
            kind=kind,
            requester=demo_person(who),
            group=demo_list(name).ref,
            justification="for work",
            auto_approved=auto,
        )
        return result.request


@pytest.fixture
def world() -> World:
    return World()


def alex() -> Person:
    return demo_person(ALEX)


async def test_nobody_who_asked_nothing_gets_an_empty_overview(world: World) -> None:
    overview = await world.mine.overview(alex())

    assert overview.empty and overview.open == () and overview.recent == ()


async def test_open_and_finished_requests_are_listed_apart_newest_first(world: World) -> None:
    finance = await world.ask("finance-emea")
    leadership = await world.ask("leadership-team", kind=RequestKind.LEAVE)
    exec_assistants = await world.ask("exec-assistants")
    await world.service.decide(exec_assistants.id, demo_person(PATTI), approve=False)

    overview = await world.mine.overview(alex())

    assert [r.id for r in overview.open] == [leadership.id, finance.id]
    assert [r.id for r in overview.recent] == [exec_assistants.id]
    assert overview.recent[0].status is RequestStatus.DENIED


async def test_someone_elses_requests_are_never_listed(world: World) -> None:
    await world.ask("finance-emea", who=PATTI)

    assert (await world.mine.overview(alex())).empty


async def test_the_overview_is_bounded(world: World) -> None:
    names = [item.name for item in demo_lists()]
    assert len(names) >= MAX_OPEN + 2 + MAX_RECENT + 1
    for name in names[: MAX_OPEN + 2]:
        await world.ask(name)
    for name in names[MAX_OPEN + 2 :]:
        request = await world.ask(name)
        await world.service.cancel(request.id, alex())

    overview = await world.mine.overview(alex())

    assert len(overview.open) == MAX_OPEN
    assert len(overview.recent) == MAX_RECENT


async def test_an_open_request_is_found_by_loose_words_of_its_list(world: World) -> None:
    finance = await world.ask("finance-emea")
    await world.ask("leadership-team")

    assert [r.id for r in await world.mine.open_matching(alex(), "fin emea")] == [finance.id]
    assert [r.id for r in await world.mine.open_matching(alex(), "finance-emea")] == [finance.id]
    assert await world.mine.open_matching(alex(), "book club") == ()
    assert len(await world.mine.open_matching(alex(), "")) == 2


async def test_withdrawing_a_pending_request_cancels_it_and_redraws_the_cards(
    world: World,
) -> None:
    request = await world.ask("finance-emea")
    await world.jobs.run_all(world.service)
    assert len((await world.service.get(request.id)).cards) == 2

    result = await world.mine.withdraw(alex(), request.id)

    assert isinstance(result, Withdrawn)
    assert result.request.status is RequestStatus.CANCELLED
    assert JobName.UPDATE_CARDS in world.jobs.names()
    await world.jobs.run_all(world.service)
    assert not is_withdrawable(await world.service.get(request.id))


async def test_someone_elses_request_cannot_be_withdrawn_and_looks_like_none(
    world: World,
) -> None:
    request = await world.ask("finance-emea")

    result = await world.mine.withdraw(demo_person(MEGAN), request.id)

    assert result == NoSuchRequest()
    assert (await world.service.get(request.id)).status is RequestStatus.PENDING


async def test_an_unknown_request_id_is_no_such_request(world: World) -> None:
    assert await world.mine.withdraw(alex(), "doesnotexist1") == NoSuchRequest()


async def test_an_approved_request_is_too_late_to_withdraw(world: World) -> None:
    request = await world.ask("book-club", auto="open list")
    assert not is_withdrawable(request)

    result = await world.mine.withdraw(alex(), request.id)

    assert isinstance(result, TooLate)
    assert result.request.status is RequestStatus.APPROVED
