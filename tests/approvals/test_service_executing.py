"""Carrying out an approved request: exactly once, retried while Exchange is passing through
trouble, failed (and the admins told) when retrying cannot help."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from approvals import state
from approvals.errors import PermanentWriteError, TransientWriteError
from approvals.models import ApprovalRequest, ListRef, NewList, RequestKind, RequestStatus
from approvals.ports import JobName, NoticeKind
from tests.approvals import demo
from tests.approvals.conftest import Harness

ALEX = demo.ALEX.object_id
THROTTLED = TransientWriteError("Exchange is throttling", "x-throttled")


async def approved(harness: Harness) -> ApprovalRequest:
    request = await harness.ask()
    return await harness.service.decide(request.id, demo.MEGAN, approve=True)


def last_redraws(harness: Harness) -> set[RequestStatus]:
    """What each approver's card shows after its last redraw."""
    return set(
        {card.approver_id: shown.status for card, shown in harness.notifier.updates}.values()
    )


async def test_executing_adds_the_member_and_records_what_exchange_did(harness: Harness) -> None:
    request = await approved(harness)
    harness.clock.advance(seconds=30)

    await harness.service.execute(request.id)

    done = await harness.service.get(request.id)
    assert done.status is RequestStatus.COMPLETED
    assert done.execution.model_dump() == {
        "attempts": 1,
        "outcome": "added",
        "error": "",
        "exchange_request_id": "exchange-1",
        "finished_at": harness.clock.now,
        "alternatives": (),
    }
    assert harness.writer.calls == [(demo.FINANCE_EMEA, demo.ALEX)]
    executed = harness.audit.events[-1]
    assert (executed.event, executed.cmdlet, executed.result, executed.exchange_request_id) == (
        "executed",
        "Add-DistributionGroupMember",
        "added",
        "exchange-1",
    )


async def test_executing_a_completed_request_again_does_nothing(harness: Harness) -> None:
    request = await approved(harness)
    await harness.service.execute(request.id)
    done = await harness.service.get(request.id)

    await harness.service.execute(request.id)

    assert len(harness.writer.calls) == 1
    assert await harness.service.get(request.id) == done
    assert harness.notifier.notices_to(ALEX).count(NoticeKind.COMPLETED) == 1


async def test_executing_a_request_nobody_approved_does_nothing(harness: Harness) -> None:
    request = await harness.ask()
    await harness.service.execute(request.id)
    assert harness.writer.calls == []
    assert (await harness.service.get(request.id)).status is RequestStatus.PENDING


async def test_someone_already_a_member_completes_as_already_member(harness: Harness) -> None:
    harness.writer.members[demo.FINANCE_EMEA.object_id] = {ALEX}
    request = await approved(harness)
    await harness.service.execute(request.id)
    done = await harness.service.get(request.id)
    assert (done.status, done.execution.outcome) == (RequestStatus.COMPLETED, "already_member")


async def test_a_transient_failure_is_recorded_and_raised_for_the_queue_to_retry(
    harness: Harness,
) -> None:
    harness.writer.script.extend([THROTTLED])
    request = await approved(harness)

    with pytest.raises(TransientWriteError):
        await harness.service.execute(request.id)

    waiting = await harness.service.get(request.id)
    assert waiting.status is RequestStatus.APPROVED
    assert (waiting.execution.attempts, waiting.execution.error) == (1, "Exchange is throttling")
    assert waiting.execution.exchange_request_id == "x-throttled"
    assert harness.events()[-1] == "attempt_failed"
    assert harness.audit.events[-1].detail == "attempt 1 of 8: Exchange is throttling"


async def test_the_queue_retrying_after_transient_failures_completes_with_every_attempt_counted(
    harness: Harness,
) -> None:
    harness.writer.script.extend([THROTTLED, THROTTLED])
    request = await approved(harness)

    await harness.run_jobs()

    done = await harness.service.get(request.id)
    assert (done.status, done.execution.attempts) == (RequestStatus.COMPLETED, 3)
    assert [f.job.job for f in harness.jobs.failures] == [JobName.EXECUTE, JobName.EXECUTE]
    assert harness.events()[-3:] == ["attempt_failed", "attempt_failed", "executed"]


async def test_the_last_allowed_attempt_failing_fails_the_request_and_alerts_the_admins(
    harness: Harness,
) -> None:
    harness.max_execution_attempts = 3
    harness.writer.script.extend([THROTTLED] * 5)
    request = await approved(harness)

    await harness.run_jobs()

    failed = await harness.service.get(request.id)
    assert (failed.status, failed.execution.attempts) == (RequestStatus.FAILED, 3)
    assert len(harness.writer.calls) == 3 and len(harness.jobs.failures) == 2
    assert harness.notifier.notices_to(ALEX)[-1] is NoticeKind.FAILED
    assert [problem for _, problem in harness.notifier.alerts] == ["Exchange is throttling"]
    assert last_redraws(harness) == {RequestStatus.FAILED}


async def test_a_permanent_failure_fails_at_once_tells_the_requester_and_alerts_the_admins(
    harness: Harness,
) -> None:
    harness.writer.script.append(
        PermanentWriteError("Finance EMEA is synchronised from on-premises", "x-synced")
    )
    request = await approved(harness)

    await harness.run_jobs()

    failed = await harness.service.get(request.id)
    assert failed.status is RequestStatus.FAILED
    assert failed.execution.error == "Finance EMEA is synchronised from on-premises"
    assert failed.execution.exchange_request_id == "x-synced"
    assert len(harness.writer.calls) == 1 and harness.jobs.failures == []
    assert harness.notifier.notices_to(ALEX)[-1] is NoticeKind.FAILED
    [(alerted, problem)] = harness.notifier.alerts
    assert alerted.status is RequestStatus.FAILED and "on-premises" in problem
    assert last_redraws(harness) == {RequestStatus.FAILED}
    assert harness.audit.events[-1].event == "failed"
    assert harness.audit.events[-1].exchange_request_id == "x-synced"


async def test_a_leave_request_removes_the_member_and_not_a_member_counts_as_done(
    harness: Harness,
) -> None:
    harness.writer.members[demo.FINANCE_EMEA.object_id] = {demo.ALEX.object_id}
    for expected in ("removed", "not_a_member"):
        result = await harness.service.submit(
            kind=RequestKind.LEAVE,
            requester=demo.ALEX,
            group=demo.FINANCE_EMEA,
            auto_approved="open list",
        )
        await harness.run_jobs()
        done = await harness.service.get(result.request.id)
        assert done.status is RequestStatus.COMPLETED
        assert done.execution.outcome == expected
    assert harness.writer.members[demo.FINANCE_EMEA.object_id] == set()
    assert harness.audit.events[-1].cmdlet == "Remove-DistributionGroupMember"


async def test_a_create_request_makes_the_list_and_names_it_on_the_request(
    harness: Harness,
) -> None:
    spec = NewList(
        name="Q3 Launch",
        display_name="Q3 Launch",
        alias="q3-launch",
        address="q3-launch@contoso.example",
        owners=(demo.ALEX,),
        members=(demo.ALEX,),
    )
    planned = ListRef(object_id="", address=spec.address, display_name=spec.display_name)
    request = state.new_request(
        kind=RequestKind.CREATE, requester=demo.ALEX, group=planned, now=datetime.now(UTC)
    ).model_copy(update={"new_list": spec, "status": RequestStatus.APPROVED})
    await harness.store.create(request)
    # The first attempt's answer is lost: the retry must take the list it finds for success.
    harness.writer.script.append(TransientWriteError("Exchange did not answer", "x-lost"))
    harness.writer.created[spec.address] = ListRef(
        object_id="made-by-the-lost-call", address=spec.address, display_name=spec.display_name
    )
    with pytest.raises(TransientWriteError):
        await harness.service.execute(request.id)
    await harness.service.execute(request.id)
    done = await harness.service.get(request.id)
    assert done.status is RequestStatus.COMPLETED
    assert done.group.object_id == "made-by-the-lost-call"
    assert harness.audit.events[-1].cmdlet == "New-DistributionGroup"
