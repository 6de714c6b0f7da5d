"""Where requests live: the RequestStore port, and the in-memory store beside it.

The Redis store (approvals.redis_store) and this one pass the same contract tests
(tests/approvals/test_store_contract.py); this one serves tests and single-process demos.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from approvals.errors import ConcurrentUpdate, RequestNotFound
from approvals.models import ApprovalRequest, RequestKind, RequestStatus


class RequestStore(Protocol):
    async def create(self, request: ApprovalRequest) -> tuple[ApprovalRequest, bool]:
        """Store a new open request, unless the requester already has an open request of the
        same kind for the same list: then that one comes back, with False, and nothing is
        stored. Atomic across any number of processes."""
        ...

    async def get(self, request_id: str) -> ApprovalRequest | None: ...

    async def replace(self, new: ApprovalRequest, expected_version: int) -> ApprovalRequest:
        """Compare-and-set: store `new` only if the stored request is still at
        `expected_version` (else ConcurrentUpdate; RequestNotFound when there is none). A
        request reaching a final status stops being the requester's open request."""
        ...

    async def open_request(
        self, requester_id: str, list_id: str, kind: RequestKind
    ) -> ApprovalRequest | None:
        """The requester's open (pending or approved) request of this kind for the list."""
        ...

    async def requests_of(self, requester_id: str, limit: int = 20) -> list[ApprovalRequest]:
        """The requester's requests, newest first."""
        ...

    async def recent(
        self, limit: int, statuses: Collection[RequestStatus] | None = None
    ) -> list[ApprovalRequest]:
        """Every requester's requests, newest first (by created_at, then id descending), at
        most `limit`; only those in `statuses` when given. For admins (`dlbot requests list`):
        it reads through the requests it leaves out, so a narrow filter over a long history
        costs reads of that history."""
        ...

    async def open_requests(self, updated_before: datetime, limit: int) -> list[ApprovalRequest]:
        """Open (pending or approved) requests last changed before `updated_before` (aware),
        least recently changed first (then by id), at most `limit`; for finding requests whose
        next job was lost. A request set aside at the version it is now is left out."""
        ...

    async def set_aside(self, request_id: str, version: int) -> None:
        """Leave this version of the request out of open_requests: it has been looked at, and
        needs no more sweeping until it changes. Its next version is listed again. Nothing
        happens when the request is already past `version`, final, or unknown."""
        ...


OpenKey = tuple[str, str, RequestKind]


def open_key(request: ApprovalRequest) -> OpenKey:
    return (request.requester.object_id, request.list_key, request.kind)


class InMemoryRequestStore:
    """A RequestStore in a dict. No method awaits between reading and writing, so each one is
    atomic on its event loop, just as each Redis script is atomic on the server."""

    def __init__(self) -> None:
        self._requests: dict[str, ApprovalRequest] = {}
        self._open: dict[OpenKey, str] = {}
        self._of_requester: dict[str, list[str]] = {}
        self._open_ids: set[str] = set()  # as the Redis store's index of open requests
        self._set_aside: dict[str, int] = {}  # id -> the version set aside

    async def create(self, request: ApprovalRequest) -> tuple[ApprovalRequest, bool]:
        if not request.is_open:
            raise ValueError(f"only an open request can be created, not a {request.status} one")
        key = open_key(request)
        existing = self._requests.get(self._open.get(key, ""))
        if existing is not None and existing.is_open:
            return existing, False
        self._requests[request.id] = request
        self._open[key] = request.id
        self._of_requester.setdefault(request.requester.object_id, []).append(request.id)
        self._open_ids.add(request.id)
        return request, True

    async def get(self, request_id: str) -> ApprovalRequest | None:
        return self._requests.get(request_id)

    async def replace(self, new: ApprovalRequest, expected_version: int) -> ApprovalRequest:
        stored = self._requests.get(new.id)
        if stored is None:
            raise RequestNotFound(new.id)
        if stored.version != expected_version:
            raise ConcurrentUpdate(new.id, expected_version)
        self._requests[new.id] = new
        key = open_key(new)
        if not new.is_open and self._open.get(key) == new.id:
            del self._open[key]
        if not new.is_open:
            self._open_ids.discard(new.id)
            self._set_aside.pop(new.id, None)
        return new

    async def open_request(
        self, requester_id: str, list_id: str, kind: RequestKind
    ) -> ApprovalRequest | None:
        found = self._requests.get(self._open.get((requester_id, list_id, kind), ""))
        return found if found is not None and found.is_open else None

    async def requests_of(self, requester_id: str, limit: int = 20) -> list[ApprovalRequest]:
        ids = self._of_requester.get(requester_id, [])
        return [self._requests[i] for i in reversed(ids[-limit:])] if limit > 0 else []

    async def recent(
        self, limit: int, statuses: Collection[RequestStatus] | None = None
    ) -> list[ApprovalRequest]:
        if limit <= 0:
            return []
        newest_first = sorted(self._requests.values(), key=lambda r: (r.created_at, r.id))[::-1]
        wanted = [r for r in newest_first if statuses is None or r.status in statuses]
        return wanted[:limit]

    async def open_requests(self, updated_before: datetime, limit: int) -> list[ApprovalRequest]:
        if limit <= 0:
            return []
        listed = [
            request
            for request in map(self._requests.__getitem__, self._open_ids)
            if request.updated_at < updated_before
            and self._set_aside.get(request.id) != request.version
        ]
        return sorted(listed, key=lambda r: (r.updated_at, r.id))[:limit]

    async def set_aside(self, request_id: str, version: int) -> None:
        stored = self._requests.get(request_id)
        if stored is not None and request_id in self._open_ids and stored.version == version:
            self._set_aside[request_id] = version


if TYPE_CHECKING:  # mypy proves the in-memory store satisfies the port
    _store: RequestStore = InMemoryRequestStore()
