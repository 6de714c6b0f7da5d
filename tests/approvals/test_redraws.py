"""The ledger of requests whose cards may owe a redraw, in memory and on the real redis-server:
entries come back oldest first once old enough, and dropping or moving one is skipped when a
newer change noted it again meanwhile. And the sweep that reads it: a redraw Teams keeps
refusing is tried again now and then for a day, then given up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from approvals.models import ApprovalRequest, CardRef, RequestKind, RequestStatus
from approvals.ports import JobName
from approvals.redraws import InMemoryRedrawLedger, RedisRedrawLedger, RedrawLedger
from approvals.service import REDRAW_GIVE_UP, ApprovalService
from approvals.testing import InMemoryJobQueue, InMemoryNotifier
from tests.approvals import demo
from tests.approvals.conftest import Harness

T0 = datetime(2026, 3, 2, 9, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def ledger(request: pytest.FixtureRequest) -> AsyncIterator[RedrawLedger]:
    if request.param == "memory":
        yield InMemoryRedrawLedger()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisRedrawLedger(client)
    finally:
        await client.aclose()


async def test_entries_noted_before_the_cutoff_come_back_oldest_first(
    ledger: RedrawLedger,
) -> None:
    await ledger.owe("b", T0 + timedelta(seconds=5))
    await ledger.owe("a", T0)
    await ledger.owe("c", T0 + timedelta(minutes=1))

    assert await ledger.due(T0 + timedelta(seconds=30), 10) == [
        ("a", T0),
        ("b", T0 + timedelta(seconds=5)),
    ]
    assert await ledger.due(T0 + timedelta(seconds=30), 1) == [("a", T0)]


async def test_settling_drops_an_entry_unless_it_was_noted_again_meanwhile(
    ledger: RedrawLedger,
) -> None:
    await ledger.owe("a", T0)
    await ledger.owe("b", T0)
    [(_, seen), _] = await ledger.due(T0 + timedelta(minutes=1), 10)
    await ledger.owe("b", T0 + timedelta(seconds=1))  # a newer change of b

    await ledger.settle("a", seen)
    await ledger.settle("b", seen)

    assert await ledger.due(T0 + timedelta(minutes=1), 10) == [("b", T0 + timedelta(seconds=1))]


async def test_postponing_moves_an_entry_past_the_cutoff_unless_it_was_noted_again(
    ledger: RedrawLedger,
) -> None:
    later = T0 + timedelta(minutes=10)
    await ledger.owe("a", T0)
    await ledger.owe("b", T0)
    await ledger.owe("b", T0 + timedelta(seconds=1))

    await ledger.postpone("a", T0, later)
    await ledger.postpone("b", T0, later)

    assert await ledger.due(T0 + timedelta(minutes=1), 10) == [("b", T0 + timedelta(seconds=1))]
    assert await ledger.due(later + timedelta(seconds=1), 10) == [
        ("b", T0 + timedelta(seconds=1)),
        ("a", later),
    ]


class TeamsDown(InMemoryNotifier):
    """Teams as the notifier sees it, refusing every card redraw while `down`."""

    down = False

    async def update_card(self, card: CardRef, request: ApprovalRequest) -> None:
        if self.down:
            raise ConnectionError("Teams is unavailable")
        await super().update_card(card, request)


class Redraws:
    """The workflow on in-memory parts with one ledger shared by every service built, as
    every process shares the Redis one; cards out to Megan and Lee, then Megan denies."""

    def __init__(self) -> None:
        self.notifier = TeamsDown()
        self.harness = Harness(notifier=self.notifier, jobs=InMemoryJobQueue(max_retries=1))
        self.ledger = InMemoryRedrawLedger()

    @property
    def service(self) -> ApprovalService:
        h = self.harness
        return ApprovalService(
            store=h.store,
            approvers=h.approvers,
            notifier=h.notifier,
            jobs=h.jobs,
            writer=h.writer,
            audit=h.audit,
            clock=h.clock,
            redraws=self.ledger,
        )

    async def denied(self) -> ApprovalRequest:
        asked = await self.service.submit(
            kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA
        )
        await self.harness.jobs.run_all(self.service)
        denied = await self.service.decide(asked.request.id, demo.MEGAN, approve=False)
        await self.harness.jobs.run_all(self.service)
        return denied

    async def sweep(self, **after: float) -> None:
        """Time passes, then the per-minute sweep runs, and whatever it queued."""
        self.harness.clock.advance(**after)
        await self.service.resume_stalled()
        await self.harness.jobs.run_all(self.service)

    def redraws_run(self) -> int:
        return sum(1 for q in self.harness.jobs.ran if q.job is JobName.UPDATE_CARDS)

    async def owed(self) -> list[tuple[str, datetime]]:
        return await self.ledger.due(self.harness.clock() + timedelta(days=365), 10)


async def test_a_redraw_teams_keeps_refusing_is_retried_for_a_day_then_given_up_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = Redraws()
    world.notifier.down = True
    denied = await world.denied()
    assert denied.status is RequestStatus.DENIED

    with caplog.at_level(logging.WARNING, logger="approvals.service"):
        while world.harness.clock() - denied.updated_at < REDRAW_GIVE_UP - timedelta(hours=1):
            await world.sweep(minutes=10)
        assert [request_id for request_id, _ in await world.owed()] == [denied.id]
        retried = world.redraws_run()

        for _ in range(6 * 3):  # three hours more
            await world.sweep(minutes=10)
        assert await world.owed() == []
        given_up = world.redraws_run()
        assert retried < given_up <= retried + 6 * 2

        for _ in range(6 * 24):  # a day more: nothing is queued again
            await world.sweep(minutes=10)
        assert world.redraws_run() == given_up

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r for r in warnings if "gave up" in r.getMessage() and denied.id in r.getMessage()]
    # The cards still show Approve/Deny, and the request says so.
    assert world.notifier.updates == []
    assert (await world.service.get(denied.id)).cards_owed_since is not None


async def test_a_redraw_owed_since_before_a_long_outage_of_the_workers_is_still_tried() -> None:
    world = Redraws()
    world.notifier.down = True
    denied = await world.denied()
    world.notifier.down = False

    await world.sweep(days=3)  # the first sweep since the decision

    redrawn = [(card, r.status) for card, r in world.notifier.updates]
    assert sorted(redrawn, key=str) == sorted(
        [(card, RequestStatus.DENIED) for card in denied.cards], key=str
    )
    await world.sweep(minutes=11)  # past the retry interval: finds nothing owed any more
    assert await world.owed() == []
    assert len(world.notifier.updates) == 2
