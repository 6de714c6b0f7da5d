"""What the approval workflow needs from the outside, as Protocols it owns.

The exchange package implements the directory and writer ports (structurally: it never imports
approvals), bot/ implements the notifier (Teams cards and messages), and the job queue is saq.
In-memory implementations beside these ports double as test fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from approvals.models import (
    FALLBACK_VIA,
    ApprovalRequest,
    Approver,
    CardRef,
    ListRef,
    NewList,
    Person,
)


@dataclass(frozen=True)
class DirectoryEntry:
    """A recipient as the directory knows it now (an owner, or a member of an owner group)."""

    object_id: str
    display_name: str
    address: str
    is_group: bool = False
    disabled: bool = False


class OwnerDirectory(Protocol):
    """Live owner data, read at submit and again at decision time."""

    async def owners(self, group: ListRef) -> list[DirectoryEntry]:
        """The list's ManagedBy, resolved to recipients (people or groups)."""
        ...

    async def group_members(self, group_object_id: str) -> list[DirectoryEntry]:
        """Direct members of an owner group, to expand it to people."""
        ...


@dataclass(frozen=True)
class ApproverSet:
    approvers: tuple[Approver, ...]
    orphaned: bool  # no usable owner; `approvers` are the fallback approvers
    # Who is asked instead when none of `approvers` can be reached (or the requester is the only
    # one), read now like the owners; empty when no fallback is configured.
    fallback: tuple[Approver, ...] = ()

    def owned_by(self, person: Person) -> bool:
        """Whether `person` owns the list (directly or through an owner group). Being one of
        the admins' fallback approvers of an orphaned list does not make anyone an owner."""
        return not self.orphaned and any(
            a.object_id == person.object_id and a.via != FALLBACK_VIA for a in self.approvers
        )

    def asked_for(self, requester: Person) -> tuple[tuple[Approver, ...], bool]:
        """Who a request of `requester` goes to, and whether that makes it orphaned: nobody
        approves their own request, so the requester is left out, and when nobody else remains
        the fallback approvers are asked instead."""
        others = tuple(a for a in self.approvers if a.object_id != requester.object_id)
        if others:
            return others, self.orphaned
        return tuple(a for a in self.fallback if a.object_id != requester.object_id), True

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.display_name for a in self.approvers)


class ApproverSource(Protocol):
    async def current_approvers(self, group: ListRef) -> ApproverSet: ...


class CreationApproverSource(Protocol):
    """Who approves a new list (CREATE): not owners, since the list has none yet, but the
    admins' creation approvers or the requester's manager; read at submit and at decision."""

    async def creation_approvers(self, requester: Person) -> ApproverSet: ...


class NewListHooks(Protocol):
    """What the workflow needs around making a list, from the package that knows the index
    and the naming rules (skills implements it; approvals never imports skills)."""

    async def created(self, request: ApprovalRequest) -> None:
        """The list exists (`request.group`): make it findable at once."""
        ...

    async def alternatives(self, spec: NewList) -> tuple[ListRef, ...]:
        """Free names and addresses like `spec`'s, which another recipient took meanwhile."""
        ...


@dataclass(frozen=True)
class WriteResult:
    outcome: str  # "added" | "already_member" | "removed" | "not_a_member" | "created"
    exchange_request_id: str
    # create_list only: the list as Exchange made it.
    created: ListRef | None = None


class MembershipWriter(Protocol):
    """Makes the approved change in Exchange; must be safe to repeat (idempotent).

    Raises approvals.errors.TransientWriteError when trying again later may work (Exchange
    throttled, unavailable, unreachable) and approvals.errors.PermanentWriteError when it cannot
    (no permission, list synced from on-premises, list or person gone), each with a message a
    person can act on and the Exchange client-request-id of the call for the audit.
    """

    async def add_member(self, group: ListRef, person: Person) -> WriteResult:
        """Make `person` a member of `group`; "already a member" is success."""
        ...

    async def remove_member(self, group: ListRef, person: Person) -> WriteResult:
        """Take `person` off `group`; "not a member" is success."""
        ...

    async def create_list(self, spec: NewList, *, may_already_exist: bool) -> WriteResult:
        """Make the list; `created` names it. `may_already_exist`: an earlier attempt may have
        made it with its response lost, so a list that now holds the name and address and
        matches `spec` is success, not a collision (the contract's replay rule)."""
        ...


class NoticeKind(StrEnum):
    """What a person is told about a request; bot/ turns each into words, in one place."""

    SUBMITTED = "submitted"  # to the requester: who was asked
    SENT_TO_FALLBACK = "sent_to_fallback"  # to the requester: owners unreachable or none
    APPROVED = "approved"  # to the requester: approved, being done
    DENIED = "denied"  # to the requester, with the reason
    COMPLETED = "completed"  # to the requester: you are now a member
    FAILED = "failed"  # to the requester and the admins, with what to do
    CANCELLED = "cancelled"
    REMINDED = "reminded"  # to the requester: nobody decided yet, the approvers were reminded
    ESCALATED = "escalated"  # to the requester: nobody decided in time, fallback approvers asked
    EXPIRED = "expired"  # to the requester: nobody decided in time, the request ended


class Notifier(Protocol):
    async def send_card(self, approver: Approver, request: ApprovalRequest) -> CardRef | None:
        """Post the approval card to one approver; None when Teams cannot reach them."""
        ...

    async def update_card(self, card: CardRef, request: ApprovalRequest) -> None:
        """Redraw one posted card to show the request as it is now."""
        ...

    async def notify(self, person: Person, kind: NoticeKind, request: ApprovalRequest) -> bool:
        """Tell one person something about a request; False when they cannot be reached."""
        ...

    async def alert_admins(self, request: ApprovalRequest, problem: str) -> None:
        """A change failed for good: the admins' channel or list hears about it."""
        ...


class JobName(StrEnum):
    DELIVER_CARDS = "deliver_cards"  # post approval cards (after the request is stored)
    EXECUTE = "execute"  # make the change in Exchange
    UPDATE_CARDS = "update_cards"  # redraw every approver's card after a transition
    # The lifecycle timers of a pending request (approvals.lifecycle), each queued at submit to
    # run at a fixed time after the request was made, and doing nothing once it was decided.
    REMIND = "remind"  # a fresh card to every approver
    ESCALATE = "escalate"  # the fallback approvers asked too
    EXPIRE = "expire"  # the request ends, unanswered
    # Time-boxed membership (approvals.grant_service), keyed per grant and term rather than per
    # request: "<grant id>.<term>.<days before>" and "<grant id>.<term>".
    GRANT_PROMPT = "grant_prompt"  # ask the member whether to renew, days before the end
    GRANT_END = "grant_end"  # the time is up: remove the member
    # Owner access reviews (approvals.review_service), keyed per review.
    REVIEW_CARDS = "review_cards"  # post the review card to each reviewer
    REVIEW_UPDATE = "review_update"  # redraw every posted review card
    REVIEW_REMIND = "review_remind"  # unanswered: a fresh card to each reviewer
    REVIEW_ESCALATE = "review_escalate"  # unanswered still: the fallback approvers asked
    REVIEW_CLOSE = "review_close"  # unanswered after escalation: closed, nobody undecided removed
    REVIEW_REMOVE = "review_remove"  # completed: a LEAVE approved at once per removed member


class JobQueue(Protocol):
    async def enqueue(self, job: JobName, request_id: str, *, delay_seconds: float = 0) -> None:
        """Durably schedule `job` for the request; a job with the same (job, request) key that
        is already queued is not queued twice."""
        ...


class MembershipHooks(Protocol):
    """What happens after a change of membership is made or refused (time-boxed membership,
    approvals.grant_service); the workflow calls these once, after the final compare-and-set."""

    async def completed(self, request: ApprovalRequest) -> None: ...

    async def failed(self, request: ApprovalRequest) -> None: ...
