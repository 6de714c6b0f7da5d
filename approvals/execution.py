"""Carrying out an approved request in Exchange, exactly once: the writer's call for its kind,
then COMPLETED or FAILED by compare-and-set, with the audit, the people told and the admins
alerted. Built by ApprovalService, whose plumbing it shares (compare-and-set with reload, the
audit, best-effort notices); the service's execute job hands each request id here.

A transient failure is recorded and re-raised for the job queue to retry, until the last
allowed attempt fails the request; a permanent one fails it at once. Every write is safe to
repeat (the writer's contract), so a job run twice, or after a crash part way, changes nothing
twice; a CREATE retried after a lost answer tells the writer its list may already exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Protocol

from approvals import state
from approvals.audit import AuditAction
from approvals.errors import (
    InvalidTransition,
    ListNameTaken,
    PermanentWriteError,
    TransientWriteError,
)
from approvals.models import ApprovalRequest, ListRef, Person, RequestKind, RequestStatus
from approvals.ports import (
    JobName,
    JobQueue,
    MembershipHooks,
    MembershipWriter,
    NewListHooks,
    NoticeKind,
    WriteResult,
)

log = logging.getLogger(__name__)

# The cmdlet each kind of request runs, as the audit names it.
CMDLETS = {
    RequestKind.JOIN: "Add-DistributionGroupMember",
    RequestKind.LEAVE: "Remove-DistributionGroupMember",
    RequestKind.CREATE: "New-DistributionGroup",
}

Step = Callable[[ApprovalRequest], ApprovalRequest]


class _Record(Protocol):
    async def __call__(
        self, action: AuditAction, request: ApprovalRequest, **fields: str
    ) -> None: ...


class Executor:
    def __init__(
        self,
        *,
        writer: MembershipWriter,
        jobs: JobQueue,
        new_lists: NewListHooks | None,
        membership: list[MembershipHooks],
        max_attempts: int,
        clock: Callable[[], datetime],
        get: Callable[[str], Awaitable[ApprovalRequest]],
        change: Callable[[ApprovalRequest, Step], Awaitable[ApprovalRequest]],
        record: _Record,
        tell: Callable[[Person, NoticeKind, ApprovalRequest], Awaitable[None]],
        alert: Callable[[ApprovalRequest, str], Awaitable[None]],
    ) -> None:
        self._writer = writer
        self._jobs = jobs
        self._new_lists = new_lists
        # The service's own list: hooks attached to it later are heard here too.
        self._membership = membership
        self._max_attempts = max_attempts
        self._clock = clock
        self._get = get
        self._change = change
        self._record = record
        self._tell = tell
        self._alert = alert

    async def execute(self, request_id: str) -> None:
        """Make the approved change in Exchange, once. A transient failure is recorded and
        re-raised for the job queue to retry, until the last allowed attempt fails the request;
        a permanent failure fails it at once and alerts the admins."""
        request = await self._get(request_id)
        if request.status is not RequestStatus.APPROVED:
            return  # not approved, or already carried out: nothing to do, ever
        try:
            result = await self._write(request)
        except ListNameTaken as exc:
            alternatives = await self._alternatives(request)
            await self._fail(request, exc.message, exc.exchange_request_id, alternatives)
            return
        except PermanentWriteError as exc:
            await self._fail(request, exc.message, exc.exchange_request_id)
            return
        except TransientWriteError as exc:
            if request.execution.attempts + 1 >= self._max_attempts:
                await self._fail(request, exc.message, exc.exchange_request_id)
                return
            await self._record_attempt(request, exc)
            raise
        await self._complete(request, result)

    async def _write(self, request: ApprovalRequest) -> WriteResult:
        """The Exchange change the request asks for (the writer makes each safe to repeat)."""
        if request.kind is RequestKind.JOIN:
            return await self._writer.add_member(request.group, request.requester)
        if request.kind is RequestKind.LEAVE:
            return await self._writer.remove_member(request.group, request.requester)
        if request.new_list is None:
            raise PermanentWriteError(f"request {request.id} asks to create a list but names none")
        # Any earlier attempt may have created the list and lost the answer.
        return await self._writer.create_list(
            request.new_list, may_already_exist=request.execution.attempts > 0
        )

    async def _complete(self, request: ApprovalRequest, result: WriteResult) -> None:
        try:
            completed = await self._change(
                request,
                partial(
                    state.complete,
                    outcome=result.outcome,
                    exchange_request_id=result.exchange_request_id,
                    now=self._clock(),
                    created=result.created,
                ),
            )
        except InvalidTransition as ended:
            if ended.request.status is RequestStatus.CANCELLED:
                await self._changed_after_cancel(ended.request, result)
            return  # otherwise another worker finished it first and told everyone
        await self._jobs.enqueue(JobName.UPDATE_CARDS, completed.id)
        if completed.kind is RequestKind.CREATE and self._new_lists is not None:
            try:
                await self._new_lists.created(completed)
            except Exception:  # the list exists; the next directory sync indexes it anyway
                log.exception("indexing the list request %s created failed", completed.id)
        await self._record(
            AuditAction.EXECUTED,
            completed,
            cmdlet=CMDLETS[completed.kind],
            result=result.outcome,
            exchange_request_id=result.exchange_request_id,
        )
        await self._membership_changed(completed, failed=False)
        await self._tell(completed.requester, NoticeKind.COMPLETED, completed)

    async def _membership_changed(self, request: ApprovalRequest, *, failed: bool) -> None:
        if request.kind is RequestKind.CREATE:
            return
        for hooks in self._membership:
            try:
                if failed:
                    await hooks.failed(request)
                else:
                    await hooks.completed(request)
            except Exception as exc:
                # The change itself stands and this job will not run again for it: the admins
                # must hear that its time-box (or its end, or its review record) was not kept.
                log.exception("recording the membership of request %s failed", request.id)
                await self._alert(request, f"the time-boxed membership was not recorded: {exc!r}")

    async def _changed_after_cancel(self, request: ApprovalRequest, result: WriteResult) -> None:
        """An admin cancelled the request while its change was running in Exchange: the change
        is made all the same, so the audit trail says so and the admins hear of it. A removal
        that went through is heard of like any (a time-boxed membership ends rather than being
        kept; a review's record drops the member); an addition is left to the admins."""
        problem = (
            f"request {request.id} was cancelled while {CMDLETS[request.kind]} ran; Exchange "
            f"made the change ({result.outcome}): undo it by hand if it should not stand"
        )
        await self._record(
            AuditAction.EXECUTED,
            request,
            cmdlet=CMDLETS[request.kind],
            result=result.outcome,
            exchange_request_id=result.exchange_request_id,
            detail=problem,
        )
        if request.kind is RequestKind.LEAVE:
            execution = request.execution.model_copy(
                update={
                    "outcome": result.outcome,
                    "exchange_request_id": result.exchange_request_id,
                }
            )
            await self._membership_changed(
                request.model_copy(update={"execution": execution}), failed=False
            )
        await self._alert(request, problem)

    async def _record_attempt(self, request: ApprovalRequest, exc: TransientWriteError) -> None:
        try:
            attempted = await self._change(
                request,
                partial(
                    state.record_attempt,
                    error=exc.message,
                    exchange_request_id=exc.exchange_request_id,
                    now=self._clock(),
                ),
            )
        except InvalidTransition:
            return
        await self._record(
            AuditAction.ATTEMPT_FAILED,
            attempted,
            cmdlet=CMDLETS[attempted.kind],
            result="transient",
            exchange_request_id=exc.exchange_request_id,
            detail=f"attempt {attempted.execution.attempts} of {self._max_attempts}: {exc.message}",
        )

    async def _fail(
        self,
        request: ApprovalRequest,
        error: str,
        exchange_request_id: str = "",
        alternatives: tuple[ListRef, ...] | None = None,
    ) -> None:
        """`alternatives`: not None when a new list's name was taken, then what to offer."""
        fail: Step = partial(
            state.fail, error=error, exchange_request_id=exchange_request_id, now=self._clock()
        )
        if alternatives is not None:
            fail = partial(_name_taken, fail, alternatives)
        try:
            failed = await self._change(request, fail)
        except InvalidTransition:
            return
        await self._jobs.enqueue(JobName.UPDATE_CARDS, failed.id)
        await self._record(
            AuditAction.FAILED,
            failed,
            cmdlet=CMDLETS[failed.kind],
            result="failed",
            exchange_request_id=exchange_request_id,
            detail=error,
        )
        await self._membership_changed(failed, failed=True)
        await self._tell(failed.requester, NoticeKind.FAILED, failed)
        await self._alert(failed, error)

    async def _alternatives(self, request: ApprovalRequest) -> tuple[ListRef, ...]:
        if self._new_lists is None or request.new_list is None:
            return ()
        try:
            return await self._new_lists.alternatives(request.new_list)
        except Exception:  # the requester is still told the name was taken, without ideas
            log.exception("finding other names for request %s failed", request.id)
            return ()


def _name_taken(
    fail: Step, alternatives: tuple[ListRef, ...], request: ApprovalRequest
) -> ApprovalRequest:
    failed = fail(request)
    execution = failed.execution.model_copy(
        update={"outcome": "name_taken", "alternatives": alternatives}
    )
    return failed.model_copy(update={"execution": execution})
