"""What an approval request is, as stored in Redis (JSON) and passed between the packages.

Every value is immutable: a transition makes a new request with `version + 1`, and the store only
accepts it if the stored version is still the one it was made from (compare-and-set), so "first
decision wins" and "executed once" hold across any number of bot and worker processes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class RequestKind(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    CREATE = "create"


class RequestStatus(StrEnum):
    PENDING = "pending"  # waiting for one approver to decide
    APPROVED = "approved"  # decided or needing no approval; the change is queued or running
    COMPLETED = "completed"  # the change is made in Exchange (or was already true)
    FAILED = "failed"  # the change could not be made; final, people were told why
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# Who an admin's cancel is recorded as (audit actor, and the card's "cancelled by").
ADMIN_CANCEL_ACTOR = "admin (dlbot requests cancel)"

# A person has at most one request in these states per (kind, list): a second ask returns it.
OPEN_STATUSES = frozenset({RequestStatus.PENDING, RequestStatus.APPROVED})
FINAL_STATUSES = frozenset(set(RequestStatus) - OPEN_STATUSES)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Frozen):
    """Someone in the directory, by the Entra object id that Teams also sends (aadObjectId)."""

    object_id: str
    display_name: str
    address: str = ""


class ListRef(_Frozen):
    """A distribution list, identified by its Entra object id (aliases are not unique)."""

    object_id: str
    address: str
    display_name: str


# Approver.via of the approvers asked when a list's owners cannot approve.
FALLBACK_VIA = "fallback"


class NewList(_Frozen):
    """What a CREATE request asks for: the list exactly as it will be made (validated before it
    is stored, so approvers see the final name and address)."""

    name: str  # the final name (naming policy's prefix and suffix applied): Name, unique
    # DisplayName as sent: the words typed; Exchange adds its naming policy's prefix and suffix
    # to it, which makes it `name` when dlbot's policy settings match the tenant's.
    display_name: str
    alias: str
    address: str
    description: str = ""
    owners: tuple[Person, ...] = ()
    members: tuple[Person, ...] = ()
    join_restriction: str = "ApprovalRequired"  # "Open" | "ApprovalRequired" | "Closed"
    # True: only senders inside the organisation may mail the list (Exchange's default).
    internal_senders_only: bool = True


def planned_list_id(address: str) -> str:
    """The stand-in object id of a list that does not exist yet, from its planned address.

    One open request per (person, list) then holds for planned lists too: two different lists
    asked for by one person differ in address, and the same list asked twice is the same key.
    """
    return f"{_PLANNED}{address.casefold()}"


def is_planned_list_id(object_id: str) -> bool:
    return object_id.startswith(_PLANNED)


_PLANNED = "new:"  # no Entra object id starts so (they are GUIDs)


class Approver(Person):
    # How this person came to approve: "owner", "owner group <name>", or "fallback".
    via: str = "owner"


class CardRef(_Frozen):
    """Where one approver's card was posted, so every approver's card can be updated."""

    approver_id: str
    conversation_id: str
    activity_id: str
    # A reminder card, posted beside the approver's first card (both stay live and both are
    # redrawn to the outcome), so it is kept next to that one rather than replacing it.
    reminder: bool = False


class Decision(_Frozen):
    approved: bool
    actor: Person
    reason: str = ""
    at: datetime


class Execution(_Frozen):
    attempts: int = 0
    outcome: str = ""  # e.g. "added", "already_member"
    error: str = ""  # the last failure, in words a person can act on
    exchange_request_id: str = ""  # Exchange's client-request-id of the write, for the audit
    finished_at: datetime | None = None
    # CREATE failed because the name or address was taken meanwhile: free ones to offer instead
    # (planned lists, no object id), found when it failed.
    alternatives: tuple[ListRef, ...] = ()


class ApprovalRequest(_Frozen):
    id: str
    version: int = 0
    kind: RequestKind
    status: RequestStatus
    requester: Person
    group: ListRef
    justification: str = ""
    # CREATE only: the list to make. Its `group` names the planned list until it exists, then
    # the list as Exchange made it (object id filled in on completion).
    new_list: NewList | None = None
    approvers: tuple[Approver, ...] = ()
    orphaned: bool = False  # the list had no usable owner: fallback approvers were asked
    auto_approved: str = ""  # why no approval was needed: "open list", "requester owns the list"
    decision: Decision | None = None
    cards: tuple[CardRef, ...] = ()
    execution: Execution = Field(default_factory=Execution)
    # Set when an admin cancelled the request (`dlbot requests cancel`), with their reason; a
    # requester's own cancel leaves it None.
    cancelled_by: Person | None = None
    cancel_reason: str = ""
    # Lifecycle timers of a pending request (approvals.lifecycle): when the approvers were
    # reminded, and when it was escalated to the fallback approvers; each step happens once.
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    # Set by the change that left the posted cards showing an older status (a decision, cancel,
    # expiry, completion), in the same compare-and-set; cleared once every card is redrawn. The
    # sweep redraws a request still owing one after a grace period (approvals.redraws).
    cards_owed_since: datetime | None = None
    # The correlation id of the activity that asked (docs/operations.md): every job the worker
    # runs for this request logs it again, so one search finds the whole story.
    correlation_id: str = ""
    # Time-boxed membership (approvals.grant_service): a JOIN made for this many days (asked,
    # set by the approver, or the admin's maximum for the list); None is for good.
    membership_days: int | None = None
    # The membership grant this request renews (JOIN) or ends (LEAVE made when its time ran out).
    grant_id: str = ""
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def list_key(self) -> str:
        """Which list "one open request per person and list" counts this request against.

        A CREATE's `group` changes when Exchange makes the list; its key must not, or the claim
        taken at submit would never be released.
        """
        if self.new_list is not None:
            return planned_list_id(self.new_list.address)
        return self.group.object_id

    def approver(self, object_id: str) -> Approver | None:
        return next((a for a in self.approvers if a.object_id == object_id), None)

    def card_of(self, approver_id: str) -> CardRef | None:
        """The card posted to this approver, if any."""
        return next((c for c in self.cards if c.approver_id == approver_id), None)

    @property
    def asked_fallback(self) -> bool:
        """The fallback approvers were asked: the list has no usable owner (`orphaned`), or its
        owners could not be reached in Teams (then `orphaned` stays False)."""
        return any(a.via == FALLBACK_VIA for a in self.approvers)
