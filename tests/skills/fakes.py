"""A small stand-in for the approval service, as the join use case sees it (RequestSubmitter)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from approvals.models import (
    ApprovalRequest,
    ListRef,
    Person,
    RequestKind,
    RequestStatus,
)


@dataclass(frozen=True)
class Submitted:
    request: ApprovalRequest
    created: bool


@dataclass(frozen=True)
class SubmitCall:
    kind: RequestKind
    requester: Person
    group: ListRef
    justification: str
    auto_approved: str


@dataclass
class FakeApprovals:
    """Keeps one open request per (requester, list, kind), as the real service does, and
    records every submit. `race` makes the next submit find a request stored meanwhile."""

    open: dict[tuple[str, str, RequestKind], ApprovalRequest] = field(default_factory=dict)
    calls: list[SubmitCall] = field(default_factory=list)
    race: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def submit(
        self,
        *,
        kind: RequestKind,
        requester: Person,
        group: ListRef,
        justification: str = "",
        auto_approved: str = "",
        membership_days: int | None = None,
    ) -> Submitted:
        self.calls.append(SubmitCall(kind, requester, group, justification, auto_approved))
        key = (requester.object_id, group.object_id, kind)
        if self.race:
            self.race = False
            self.put_open(requester, group)
        if key in self.open:
            return Submitted(self.open[key], created=False)
        self.open[key] = self.request(requester, group, justification, auto_approved)
        return Submitted(self.open[key], created=True)

    async def open_request(
        self, requester_id: str, group_id: str, kind: RequestKind
    ) -> ApprovalRequest | None:
        return self.open.get((requester_id, group_id, kind))

    def put_open(self, requester: Person, group: ListRef) -> ApprovalRequest:
        request = self.request(requester, group, "asked earlier", "")
        self.open[(requester.object_id, group.object_id, RequestKind.JOIN)] = request
        return request

    def request(
        self, requester: Person, group: ListRef, justification: str, auto_approved: str
    ) -> ApprovalRequest:
        now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
        return ApprovalRequest(
            id=f"request-{next(self._ids)}",
            kind=RequestKind.JOIN,
            status=RequestStatus.APPROVED if auto_approved else RequestStatus.PENDING,
            requester=requester,
            group=group,
            justification=justification,
            auto_approved=auto_approved,
            created_at=now,
            updated_at=now,
        )


if TYPE_CHECKING:  # the fake fits the port the use case is written against
    from skills.ports import RequestSubmitter

    _fits: RequestSubmitter = FakeApprovals()
