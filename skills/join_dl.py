"""The "add me to a list" use case: what would happen (preview), then doing it (submit).

Both read the list live and decide by design.md's policy defaults, in this order (the first
that applies wins):

    list not found                       REFUSED NOT_FOUND
    room list / dynamic list             REFUSED ROOM_LIST / DYNAMIC_LIST
    already a member (direct / nested)   ALREADY_MEMBER / ALREADY_MEMBER_NESTED
    on the admin's block list            REFUSED BLOCKED (with the admin's message)
    synchronised from on-premises        REFUSED DIR_SYNCED
    an open request for it already       ALREADY_REQUESTED (one per person and list)
    the requester owns the list          ADD_NOW "requester owns the list"
    MemberJoinRestriction Open           ADD_NOW "open list"
    Closed, and the policy refuses       REFUSED CLOSED_BY_POLICY
    otherwise                            NEEDS_APPROVAL (owners, or fallback when orphaned)

A membership is checked before the policy refusals because "you are already on it" is the
truth a person needs; room and dynamic lists come first because their membership is not
something a person holds.

The results are typed data; bot/ turns them into words in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from approvals.models import FALLBACK_VIA, ApprovalRequest, Approver, Person, RequestKind
from approvals.ports import ApproverSet, ApproverSource
from skills.errors import InvalidJustification
from skills.policies import ClosedLists, Policy, clean_justification, justification_problem
from skills.ports import (
    DirectoryList,
    ListDirectory,
    ListKind,
    MembershipKind,
    RequestSubmitter,
    Restriction,
)


class DecisionKind(StrEnum):
    ALREADY_MEMBER = "already_member"
    ALREADY_MEMBER_NESTED = "already_member_nested"
    ALREADY_REQUESTED = "already_requested"
    ADD_NOW = "add_now"
    NEEDS_APPROVAL = "needs_approval"
    REFUSED = "refused"


class AddNowReason(StrEnum):
    """Why nobody approves; the value is what the request records as `auto_approved`."""

    OPEN_LIST = "open list"
    REQUESTER_OWNS_LIST = "requester owns the list"


class RefusalReason(StrEnum):
    NOT_FOUND = "not_found"
    DIR_SYNCED = "dir_synced"
    ROOM_LIST = "room_list"
    DYNAMIC_LIST = "dynamic_list"
    BLOCKED = "blocked"
    CLOSED_BY_POLICY = "closed_by_policy"


class Instead(StrEnum):
    """What the person can do instead of joining through the bot."""

    CHECK_THE_NAME = "check_the_name"  # search again, or give the list's address
    ASK_ONPREM_ADMIN = "ask_onprem_admin"  # IT (or the owners) add you in on-premises AD
    USE_ROOM_FINDER = "use_room_finder"  # room lists hold rooms: book one in Outlook
    UPDATE_PROFILE = "update_profile"  # membership follows profile fields (department ...)
    FOLLOW_ADMIN_MESSAGE = "follow_admin_message"  # the admin's block-list message says what
    ASK_OWNERS = "ask_owners"  # only an owner changes a Closed list: ask them directly


INSTEAD: dict[RefusalReason, Instead] = {
    RefusalReason.NOT_FOUND: Instead.CHECK_THE_NAME,
    RefusalReason.DIR_SYNCED: Instead.ASK_ONPREM_ADMIN,
    RefusalReason.ROOM_LIST: Instead.USE_ROOM_FINDER,
    RefusalReason.DYNAMIC_LIST: Instead.UPDATE_PROFILE,
    RefusalReason.BLOCKED: Instead.FOLLOW_ADMIN_MESSAGE,
    RefusalReason.CLOSED_BY_POLICY: Instead.ASK_OWNERS,
}


# The decisions: one small type each, so a dialog can `match` on them -------------------------


@dataclass(frozen=True)
class AlreadyMember:
    kind: ClassVar[DecisionKind] = DecisionKind.ALREADY_MEMBER


@dataclass(frozen=True)
class AlreadyMemberNested:
    via: tuple[str, ...]  # display names of the member groups, from the list down
    kind: ClassVar[DecisionKind] = DecisionKind.ALREADY_MEMBER_NESTED


@dataclass(frozen=True)
class AlreadyRequested:
    request: ApprovalRequest  # the open one: its approvers and status say who was asked
    kind: ClassVar[DecisionKind] = DecisionKind.ALREADY_REQUESTED


@dataclass(frozen=True)
class AddNow:
    reason: AddNowReason
    kind: ClassVar[DecisionKind] = DecisionKind.ADD_NOW


@dataclass(frozen=True)
class NeedsApproval:
    approvers: tuple[Approver, ...]  # who will be asked; never the requester
    orphaned: bool  # no usable owner: these are the admins' fallback approvers
    justification_required: bool
    max_justification_length: int
    kind: ClassVar[DecisionKind] = DecisionKind.NEEDS_APPROVAL


@dataclass(frozen=True)
class Refused:
    reason: RefusalReason
    instead: Instead
    message: str = ""  # BLOCKED: the admin's words, to show as they are
    kind: ClassVar[DecisionKind] = DecisionKind.REFUSED


JoinDecision = (
    AlreadyMember | AlreadyMemberNested | AlreadyRequested | AddNow | NeedsApproval | Refused
)


def refused(reason: RefusalReason, message: str = "") -> Refused:
    return Refused(reason, INSTEAD[reason], message)


@dataclass(frozen=True)
class JoinPreview:
    requester: Person
    list: DirectoryList | None  # None only for REFUSED NOT_FOUND
    # Display names of the list's approvers as read now: for NEEDS_APPROVAL who will be asked,
    # otherwise the owners (to name whom to ask, e.g. for a dir-synced or Closed list). Empty
    # when the decision came before owners were read (not found, room, dynamic, member,
    # blocked, already requested).
    owners: tuple[str, ...]
    decision: JoinDecision


@dataclass(frozen=True)
class JoinOutcome:
    # What happened. Usually the preview's decision, re-read at submit; ALREADY_REQUESTED when
    # another ask for the same list landed first.
    decision: JoinDecision
    request: ApprovalRequest | None  # stored (or already open); None when nothing was asked
    created: bool  # a new request was stored by this call
    preview: JoinPreview  # the fresh preview submit acted on: the list and its owners


class JoinList:
    def __init__(
        self,
        directory: ListDirectory,
        approvals: RequestSubmitter,
        approver_source: ApproverSource,
        policy: Policy,
    ) -> None:
        self._directory = directory
        self._approvals = approvals
        self._approvers = approver_source
        self._policy = policy

    async def preview(self, requester: Person, list_identity: str) -> JoinPreview:
        """What asking to join would do now. Reads the list live; changes nothing."""
        group = await self._directory.get_list(list_identity)
        if group is None:
            return JoinPreview(requester, None, (), refused(RefusalReason.NOT_FOUND))

        def answer(decision: JoinDecision, owners: tuple[str, ...] = ()) -> JoinPreview:
            return JoinPreview(requester, group, owners, decision)

        if group.kind is ListKind.ROOM:
            return answer(refused(RefusalReason.ROOM_LIST))
        if group.kind is ListKind.DYNAMIC:
            return answer(refused(RefusalReason.DYNAMIC_LIST))
        membership = await self._directory.membership(group, requester.object_id)
        if membership.kind is MembershipKind.DIRECT:
            return answer(AlreadyMember())
        if membership.kind is MembershipKind.NESTED:
            return answer(AlreadyMemberNested(membership.via))
        rule = self._policy.block_rule(group)
        if rule is not None:
            return answer(refused(RefusalReason.BLOCKED, rule.message))
        if group.dir_synced:
            current = await self._approvers.current_approvers(group.ref)
            return answer(refused(RefusalReason.DIR_SYNCED), _names(current.approvers))
        existing = await self._approvals.open_request(
            requester.object_id, group.object_id, RequestKind.JOIN
        )
        if existing is not None:
            return answer(AlreadyRequested(existing))
        current = await self._approvers.current_approvers(group.ref)
        if _owns(current, requester):
            return answer(AddNow(AddNowReason.REQUESTER_OWNS_LIST), _names(current.approvers))
        if group.join_restriction is Restriction.OPEN:
            return answer(AddNow(AddNowReason.OPEN_LIST), _names(current.approvers))
        if (
            group.join_restriction is Restriction.CLOSED
            and self._policy.closed_lists is ClosedLists.REFUSE
        ):
            return answer(refused(RefusalReason.CLOSED_BY_POLICY), _names(current.approvers))
        asked, orphaned = _asked(current, requester)
        decision = NeedsApproval(
            approvers=asked,
            orphaned=orphaned,
            justification_required=self._policy.require_justification,
            max_justification_length=self._policy.max_justification_length,
        )
        return answer(decision, _names(asked))

    async def submit(
        self, requester: Person, list_identity: str, justification: str = ""
    ) -> JoinOutcome:
        """Ask to join: decides again on live data (the list or its owners may have changed
        since the preview), then stores the request, approved at once when no approval is
        needed. Raises InvalidJustification when the reason given does not do."""
        preview = await self.preview(requester, list_identity)
        decision = preview.decision
        if isinstance(decision, AlreadyRequested):
            return JoinOutcome(decision, decision.request, False, preview)
        if not isinstance(decision, AddNow | NeedsApproval):
            return JoinOutcome(decision, None, False, preview)
        assert preview.list is not None
        text = clean_justification(justification)
        problem = justification_problem(
            self._policy, text, approval_needed=isinstance(decision, NeedsApproval)
        )
        if problem is not None:
            raise InvalidJustification(problem, self._policy.max_justification_length)
        result = await self._approvals.submit(
            kind=RequestKind.JOIN,
            requester=requester,
            group=preview.list.ref,
            justification=text,
            auto_approved=decision.reason.value if isinstance(decision, AddNow) else "",
        )
        if not result.created:
            # Another ask (a second tap, another replica) stored its request first.
            return JoinOutcome(AlreadyRequested(result.request), result.request, False, preview)
        return JoinOutcome(decision, result.request, True, preview)


def _owns(current: ApproverSet, requester: Person) -> bool:
    """Whether the requester is an owner (directly or through an owner group). Being one of
    the admins' fallback approvers of an orphaned list does not make anyone an owner."""
    return not current.orphaned and any(
        a.object_id == requester.object_id and a.via != FALLBACK_VIA for a in current.approvers
    )


def _asked(current: ApproverSet, requester: Person) -> tuple[tuple[Approver, ...], bool]:
    """Who approvals.submit will ask: nobody approves their own request, so the requester is
    left out, and when nobody else remains the fallback approvers are asked instead."""
    others = tuple(a for a in current.approvers if a.object_id != requester.object_id)
    if others:
        return others, current.orphaned
    return tuple(a for a in current.fallback if a.object_id != requester.object_id), True


def _names(approvers: tuple[Approver, ...]) -> tuple[str, ...]:
    return tuple(a.display_name for a in approvers)


if TYPE_CHECKING:  # mypy proves the approval service fits the port this use case needs
    from approvals.service import ApprovalService

    def _conforms(service: ApprovalService) -> RequestSubmitter:
        return service
