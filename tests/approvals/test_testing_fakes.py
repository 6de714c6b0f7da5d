"""The in-memory fakes other packages test against behave as their docstrings promise."""

from __future__ import annotations

import pytest

from approvals.errors import PermanentWriteError
from approvals.ports import JobName, NoticeKind
from approvals.testing import InMemoryJobQueue, InMemoryMembershipWriter, InMemoryNotifier
from tests.approvals import demo
from tests.approvals.conftest import Harness


async def test_a_job_already_queued_for_a_request_is_not_queued_twice() -> None:
    jobs = InMemoryJobQueue()
    await jobs.enqueue(JobName.EXECUTE, "r1")
    await jobs.enqueue(JobName.EXECUTE, "r1", delay_seconds=5)
    await jobs.enqueue(JobName.EXECUTE, "r2")
    await jobs.enqueue(JobName.UPDATE_CARDS, "r1")
    assert [(q.job, q.request_id) for q in jobs.pending()] == [
        (JobName.EXECUTE, "r1"),
        (JobName.EXECUTE, "r2"),
        (JobName.UPDATE_CARDS, "r1"),
    ]


async def test_a_job_that_keeps_failing_is_retried_then_given_up(harness: Harness) -> None:
    harness.jobs = InMemoryJobQueue(max_retries=2)
    await harness.jobs.enqueue(JobName.UPDATE_CARDS, "NoSuchRequest000")

    await harness.run_jobs()

    assert len(harness.jobs.ran) == 3 and len(harness.jobs.dead) == 1
    assert harness.jobs.pending() == []


async def test_the_writer_follows_its_script_then_succeeds() -> None:
    writer = InMemoryMembershipWriter([None, PermanentWriteError("no")])
    assert (await writer.add_member(demo.FINANCE_EMEA, demo.ALEX)).outcome == "added"
    with pytest.raises(PermanentWriteError):
        await writer.add_member(demo.FINANCE_EMEA, demo.LEE)
    assert (await writer.add_member(demo.FINANCE_EMEA, demo.ALEX)).outcome == "already_member"
    assert len(writer.calls) == 3


async def test_an_unreachable_person_gets_no_card_and_no_notice(harness: Harness) -> None:
    request = await harness.ask(run_jobs=False)
    notifier = InMemoryNotifier(unreachable=[demo.MEGAN.object_id])
    assert await notifier.send_card(demo.approver(demo.MEGAN), request) is None
    assert not await notifier.notify(demo.MEGAN, NoticeKind.APPROVED, request)
    card = await notifier.send_card(demo.approver(demo.LEE), request)
    assert card is not None and card.approver_id == demo.LEE.object_id
    assert notifier.carded() == [demo.LEE.object_id] and notifier.notices == []
