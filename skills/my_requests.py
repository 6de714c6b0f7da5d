"""A person's own requests: the open ones and the most recent finished ones, and withdrawing one.

Only ever the person's own: the list comes from the requester index, and a withdrawal goes
through approvals' state machine, which checks the actor is the requester whatever a card's data
names. The results are typed data; bot/ turns them into words and cards in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Final, Protocol

from approvals.errors import NotCancellable, NotTheRequester, RequestNotFound
from approvals.grants import Grant, GrantStatus
from approvals.models import ApprovalRequest, Person, RequestStatus
from skills.text import words

# How many of each are shown: a chat card stays readable, and the store read stays small.
MAX_OPEN: Final = 10
MAX_RECENT: Final = 5
# How far back the requester index is read to find them (newest first).
READ_WINDOW: Final = 50


class RequestHistory(Protocol):
    """What this use case needs from approvals.service.ApprovalService."""

    async def requests_of(self, requester_id: str, limit: int = 20) -> list[ApprovalRequest]: ...

    async def cancel(self, request_id: str, actor: Person) -> ApprovalRequest: ...


class GrantHistory(Protocol):
    """What this use case needs from approvals.grant_service.GrantService."""

    async def grants_of(self, member_id: str, limit: int = 20) -> list[Grant]: ...


@dataclass(frozen=True)
class RequestsOverview:
    open: tuple[ApprovalRequest, ...]  # pending or approved and being done, newest first
    recent: tuple[ApprovalRequest, ...]  # finished ones, newest first
    # Time-limited memberships still running (or whose removal is under way), newest first.
    memberships: tuple[Grant, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.open and not self.recent and not self.memberships


class WithdrawKind(StrEnum):
    WITHDRAWN = "withdrawn"
    TOO_LATE = "too_late"  # decided, being done, or finished: nothing to withdraw
    NOT_FOUND = "not_found"  # no such request of this person's


@dataclass(frozen=True)
class Withdrawn:
    request: ApprovalRequest  # now CANCELLED
    kind: ClassVar[WithdrawKind] = WithdrawKind.WITHDRAWN


@dataclass(frozen=True)
class TooLate:
    request: ApprovalRequest  # as it is now
    kind: ClassVar[WithdrawKind] = WithdrawKind.TOO_LATE


@dataclass(frozen=True)
class NoSuchRequest:
    kind: ClassVar[WithdrawKind] = WithdrawKind.NOT_FOUND


WithdrawResult = Withdrawn | TooLate | NoSuchRequest


class MyRequests:
    def __init__(self, approvals: RequestHistory, grants: GrantHistory | None = None) -> None:
        self._approvals = approvals
        self._grants = grants

    async def overview(self, person: Person) -> RequestsOverview:
        """The person's open requests and their latest finished ones, each newest first."""
        mine = await self._approvals.requests_of(person.object_id, READ_WINDOW)
        open_ = tuple(r for r in mine if r.is_open)[:MAX_OPEN]
        recent = tuple(r for r in mine if not r.is_open)[:MAX_RECENT]
        running: tuple[Grant, ...] = ()
        if self._grants is not None:
            grants = await self._grants.grants_of(person.object_id, READ_WINDOW)
            running = tuple(g for g in grants if g.status is not GrantStatus.ENDED)[:MAX_OPEN]
        return RequestsOverview(open_, recent, running)

    async def open_matching(self, person: Person, query: str) -> tuple[ApprovalRequest, ...]:
        """The person's open requests whose list the query names: every word typed starts a
        word of the list's name or address ("fin emea" names Finance EMEA); all of them when
        the query is empty."""
        wanted = words(query)
        mine = (await self.overview(person)).open
        if not wanted:
            return mine
        return tuple(r for r in mine if _names_list(wanted, r))

    async def withdraw(self, person: Person, request_id: str) -> WithdrawResult:
        """Cancel one of the person's pending requests. Someone else's request answers as if
        it did not exist, so a forged card learns nothing."""
        try:
            return Withdrawn(await self._approvals.cancel(request_id, person))
        except (RequestNotFound, NotTheRequester):
            return NoSuchRequest()
        except NotCancellable as too_late:
            return TooLate(too_late.request)


def _names_list(wanted: list[str], request: ApprovalRequest) -> bool:
    group = request.group
    have = words(f"{group.display_name} {group.address.partition('@')[0]} {group.address}")
    return all(any(word.startswith(w) for word in have) for w in wanted)


def is_withdrawable(request: ApprovalRequest) -> bool:
    """Whether the requester can still withdraw it: only while nobody has decided."""
    return request.status is RequestStatus.PENDING


if TYPE_CHECKING:  # mypy proves the approval service fits the port this use case needs
    from approvals.service import ApprovalService

    def _conforms(service: ApprovalService) -> RequestHistory:
        return service
