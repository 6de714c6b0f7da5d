"""The "take me off a list" use case: what would happen (preview), then doing it (submit).

Both read the list live and decide in this order (the first that applies wins):

    list not found                         REFUSED NOT_FOUND
    room list / dynamic list               REFUSED ROOM_LIST / DYNAMIC_LIST
    not a member                           NOT_A_MEMBER (nothing to do)
    a member only through a member group   MEMBER_THROUGH_GROUP (say which; cannot remove)
    synchronised from on-premises          REFUSED DIR_SYNCED
    an open leave request for it already   ALREADY_REQUESTED (one per person and list)
    the requester owns the list            REMOVE_NOW "requester owns the list"
    MemberDepartRestriction Open           REMOVE_NOW "open list"
    otherwise (Closed, ApprovalRequired)   NEEDS_APPROVAL (owners, or fallback when orphaned)

Membership comes before the dir-synced refusal because "you're not on it" is the truth a person
needs first. The admin's block list and Closed-lists policy are about joining and stop nobody
leaving; a list people must stay on is one whose MemberDepartRestriction is Closed, and its
owners decide.
Leaving asks for no reason: approvers see who wants to leave, which is what they decide on.

The results are typed data; bot/ turns them into words in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from approvals.models import ApprovalRequest, Approver, Person, RequestKind
from approvals.ports import ApproverSource
from skills.ports import (
    DirectoryList,
    ListDirectory,
    ListKind,
    MembershipKind,
    RequestSubmitter,
    Restriction,
)


class LeaveDecisionKind(StrEnum):
    NOT_A_MEMBER = "not_a_member"
    MEMBER_THROUGH_GROUP = "member_through_group"
    ALREADY_REQUESTED = "already_requested"
    REMOVE_NOW = "remove_now"
    NEEDS_APPROVAL = "needs_approval"
    REFUSED = "refused"


class RemoveNowReason(StrEnum):
    """Why nobody approves; the value is what the request records as `auto_approved`."""

    OPEN_LIST = "open list"
    REQUESTER_OWNS_LIST = "requester owns the list"


class LeaveRefusal(StrEnum):
    NOT_FOUND = "not_found"
    DIR_SYNCED = "dir_synced"
    ROOM_LIST = "room_list"
    DYNAMIC_LIST = "dynamic_list"


class LeaveInstead(StrEnum):
    """What the person can do instead of leaving through the bot."""

    CHECK_THE_NAME = "check_the_name"  # search again, or give the list's address
    ASK_ONPREM_ADMIN = "ask_onprem_admin"  # IT (or the owners) remove you on-premises
    NOTHING_TO_LEAVE = "nothing_to_leave"  # room lists hold rooms, never people
    UPDATE_PROFILE = "update_profile"  # membership follows profile fields (department ...)


LEAVE_INSTEAD: dict[LeaveRefusal, LeaveInstead] = {
    LeaveRefusal.NOT_FOUND: LeaveInstead.CHECK_THE_NAME,
    LeaveRefusal.DIR_SYNCED: LeaveInstead.ASK_ONPREM_ADMIN,
    LeaveRefusal.ROOM_LIST: LeaveInstead.NOTHING_TO_LEAVE,
    LeaveRefusal.DYNAMIC_LIST: LeaveInstead.UPDATE_PROFILE,
}


# The decisions: one small type each, so a dialog can `match` on them -------------------------


@dataclass(frozen=True)
class NotAMember:
    kind: ClassVar[LeaveDecisionKind] = LeaveDecisionKind.NOT_A_MEMBER


@dataclass(frozen=True)
class MemberThroughGroup:
    """The mail comes through member groups; removing the person from this list changes
    nothing, so the bot does not try. `via` runs from the list down: the first group is the
    one that is a member of this list, the last holds the person."""

    via: tuple[str, ...]
    kind: ClassVar[LeaveDecisionKind] = LeaveDecisionKind.MEMBER_THROUGH_GROUP


@dataclass(frozen=True)
class LeaveAlreadyRequested:
    request: ApprovalRequest  # the open one: its approvers and status say who was asked
    kind: ClassVar[LeaveDecisionKind] = LeaveDecisionKind.ALREADY_REQUESTED


@dataclass(frozen=True)
class RemoveNow:
    reason: RemoveNowReason
    kind: ClassVar[LeaveDecisionKind] = LeaveDecisionKind.REMOVE_NOW


@dataclass(frozen=True)
class LeaveNeedsApproval:
    approvers: tuple[Approver, ...]  # who will be asked; never the requester
    orphaned: bool  # no usable owner: these are the admins' fallback approvers
    restriction: Restriction  # the list's MemberDepartRestriction (Closed or ApprovalRequired)
    kind: ClassVar[LeaveDecisionKind] = LeaveDecisionKind.NEEDS_APPROVAL


@dataclass(frozen=True)
class LeaveRefused:
    reason: LeaveRefusal
    instead: LeaveInstead
    kind: ClassVar[LeaveDecisionKind] = LeaveDecisionKind.REFUSED


LeaveDecision = (
    NotAMember
    | MemberThroughGroup
    | LeaveAlreadyRequested
    | RemoveNow
    | LeaveNeedsApproval
    | LeaveRefused
)


def leave_refused(reason: LeaveRefusal) -> LeaveRefused:
    return LeaveRefused(reason, LEAVE_INSTEAD[reason])


@dataclass(frozen=True)
class LeavePreview:
    requester: Person
    list: DirectoryList | None  # None only for REFUSED NOT_FOUND
    # Display names of the approvers as read now: for NEEDS_APPROVAL who will be asked,
    # otherwise the owners (to name whom to ask, e.g. for a dir-synced list). Empty when the
    # decision came before owners were read.
    owners: tuple[str, ...]
    decision: LeaveDecision


@dataclass(frozen=True)
class LeaveOutcome:
    # What happened. Usually the preview's decision, re-read at submit; ALREADY_REQUESTED when
    # another ask for the same list landed first.
    decision: LeaveDecision
    request: ApprovalRequest | None  # stored (or already open); None when nothing was asked
    created: bool  # a new request was stored by this call
    preview: LeavePreview  # the fresh preview submit acted on


class LeaveList:
    def __init__(
        self,
        directory: ListDirectory,
        approvals: RequestSubmitter,
        approver_source: ApproverSource,
    ) -> None:
        self._directory = directory
        self._approvals = approvals
        self._approvers = approver_source

    async def preview(self, requester: Person, list_identity: str) -> LeavePreview:
        """What asking to leave would do now. Reads the list live; changes nothing."""
        group = await self._directory.get_list(list_identity)
        if group is None:
            return LeavePreview(requester, None, (), leave_refused(LeaveRefusal.NOT_FOUND))

        def answer(decision: LeaveDecision, owners: tuple[str, ...] = ()) -> LeavePreview:
            return LeavePreview(requester, group, owners, decision)

        if group.kind is ListKind.ROOM:
            return answer(leave_refused(LeaveRefusal.ROOM_LIST))
        if group.kind is ListKind.DYNAMIC:
            return answer(leave_refused(LeaveRefusal.DYNAMIC_LIST))
        membership = await self._directory.membership(group, requester.object_id)
        if membership.kind is MembershipKind.NONE:
            return answer(NotAMember())
        if membership.kind is MembershipKind.NESTED:
            return answer(MemberThroughGroup(membership.via))
        if group.dir_synced:
            current = await self._approvers.current_approvers(group.ref)
            return answer(leave_refused(LeaveRefusal.DIR_SYNCED), current.names)
        existing = await self._approvals.open_request(
            requester.object_id, group.object_id, RequestKind.LEAVE
        )
        if existing is not None:
            return answer(LeaveAlreadyRequested(existing))
        current = await self._approvers.current_approvers(group.ref)
        if current.owned_by(requester):
            return answer(RemoveNow(RemoveNowReason.REQUESTER_OWNS_LIST), current.names)
        if group.depart_restriction is Restriction.OPEN:
            return answer(RemoveNow(RemoveNowReason.OPEN_LIST), current.names)
        asked, orphaned = current.asked_for(requester)
        decision = LeaveNeedsApproval(asked, orphaned, group.depart_restriction)
        return answer(decision, tuple(a.display_name for a in asked))

    async def submit(self, requester: Person, list_identity: str) -> LeaveOutcome:
        """Ask to leave: decides again on live data (the membership or the owners may have
        changed since the preview), then stores the request, approved at once when no approval
        is needed. Exchange's "not a member" at execution time counts as done."""
        preview = await self.preview(requester, list_identity)
        decision = preview.decision
        if isinstance(decision, LeaveAlreadyRequested):
            return LeaveOutcome(decision, decision.request, False, preview)
        if not isinstance(decision, RemoveNow | LeaveNeedsApproval):
            return LeaveOutcome(decision, None, False, preview)
        assert preview.list is not None
        result = await self._approvals.submit(
            kind=RequestKind.LEAVE,
            requester=requester,
            group=preview.list.ref,
            auto_approved=decision.reason.value if isinstance(decision, RemoveNow) else "",
        )
        if not result.created:
            # Another ask (a second tap, another replica) stored its request first.
            already = LeaveAlreadyRequested(result.request)
            return LeaveOutcome(already, result.request, False, preview)
        return LeaveOutcome(decision, result.request, True, preview)


if TYPE_CHECKING:  # mypy proves the approval service fits the port this use case needs
    from approvals.service import ApprovalService

    def _conforms(service: ApprovalService) -> RequestSubmitter:
        return service
