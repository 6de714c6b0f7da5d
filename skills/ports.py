"""What the use cases need to know about the directory, as Protocols owned here.

exchange/ implements ListDirectory over the Exchange client (structurally; it never imports
skills). The in-memory directory beside it doubles as the test fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from approvals.models import ApprovalRequest, ListRef, Person, RequestKind


class ListKind(StrEnum):
    DISTRIBUTION = "distribution"
    SECURITY = "security"  # mail-enabled security group
    ROOM = "room"  # room list: holds rooms, not people
    DYNAMIC = "dynamic"  # membership computed from a filter; nobody can join by hand


class Restriction(StrEnum):
    OPEN = "Open"
    APPROVAL_REQUIRED = "ApprovalRequired"
    CLOSED = "Closed"


@dataclass(frozen=True)
class DirectoryList:
    object_id: str  # ExternalDirectoryObjectId
    name: str
    display_name: str
    alias: str
    address: str  # PrimarySmtpAddress
    kind: ListKind
    join_restriction: Restriction
    depart_restriction: Restriction
    owners: tuple[str, ...] = ()  # ManagedBy as Exchange gives it: recipient names
    other_addresses: tuple[str, ...] = ()  # secondary SMTP addresses, lower case
    description: str = ""
    hidden: bool = False  # HiddenFromAddressListsEnabled: found by exact address only
    dir_synced: bool = False  # mastered on-premises: the bot cannot write to it
    distinguished_name: str = ""

    @property
    def ref(self) -> ListRef:
        return ListRef(
            object_id=self.object_id, address=self.address, display_name=self.display_name
        )


class MembershipKind(StrEnum):
    NONE = "none"
    DIRECT = "direct"
    NESTED = "nested"  # through a group that is itself a member


@dataclass(frozen=True)
class Membership:
    kind: MembershipKind
    via: tuple[str, ...] = field(default=())  # display names of the member groups, for NESTED


class ListDirectory(Protocol):
    async def get_list(self, identity: str) -> DirectoryList | None:
        """A list by object id or address, read live; None when it does not exist."""
        ...

    async def membership(self, group: DirectoryList, person_object_id: str) -> Membership:
        """Whether the person already gets the list's mail, without paging large lists."""
        ...

    async def person(self, object_id: str) -> Person | None:
        """A person by Entra object id (the aadObjectId Teams sends)."""
        ...

    def all_lists(self) -> AsyncIterator[list[DirectoryList]]:
        """Every list, a page at a time, for the search index."""
        ...


# What the join use case needs from the approval workflow -------------------------------------
# approvals.service.ApprovalService satisfies these structurally; typing them here keeps skills
# independent of the service class (and lets a dialog test hand in a small fake).


class Submitted(Protocol):
    """What a submit gives back: the request (new, or the open one it found) and which."""

    @property
    def request(self) -> ApprovalRequest: ...

    @property
    def created(self) -> bool: ...


class RequestSubmitter(Protocol):
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
        """Store a request; a second ask for the same (requester, list, kind) returns the first.
        `membership_days`: a JOIN for that long only (time-boxed membership)."""
        ...

    async def open_request(
        self, requester_id: str, group_id: str, kind: RequestKind
    ) -> ApprovalRequest | None:
        """The person's open (pending or approved) request for the list, if any."""
        ...
