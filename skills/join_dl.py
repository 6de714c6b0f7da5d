"""The "add me to a list" use case: what would happen (preview), then doing it (submit).

The preview reads the list live and decides by design.md's policy defaults, in this order (the
first that applies wins):

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

Exchange calls per request, and why that is the minimum (bench/exchange_calls.py counts them,
tests/skills/test_exchange_calls.py pins them): the preview reads the list once (the synced
snapshot may be hours old, and its join restriction is what lets an add skip the owners) and
asks "already a member?" in one call; the submit, given the preview's Previewed, reads neither
again (a change in the minute between fails the write clearly, and "already a member" at the
write counts as done); the worker writes once. 3 in all. The owners are read live apart from
that (approver resolution): at the preview, by approvals when the request is stored, and at the
decision; the submit reads them again itself only when the preview said "you own it".

The results are typed data; bot/ turns them into words in one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from approvals.models import ApprovalRequest, Approver, Person, RequestKind
from approvals.ports import ApproverSource
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

    def previewed(self) -> Previewed | None:
        """What submit may act on without reading again; None when there is nothing to ask."""
        if self.list is None:
            return None
        if isinstance(self.decision, AddNow):
            return Previewed(self.list, self.decision.reason)
        if isinstance(self.decision, NeedsApproval):
            return Previewed(self.list, None)
        return None


@dataclass(frozen=True)
class Previewed:
    """What submit may take from a preview instead of asking Exchange again: the list as the
    preview read it live, and why nobody need approve (None: the owners approve). Plain JSON
    (to_json), so a dialog keeps it in its server-side state between turns; never card data."""

    list: DirectoryList
    add_now: AddNowReason | None

    def names(self, list_identity: str) -> bool:
        wanted = list_identity.casefold()
        return wanted in (self.list.object_id.casefold(), self.list.address.casefold())

    def to_json(self) -> dict[str, Any]:
        return {"list": asdict(self.list), "add_now": self.add_now}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Previewed:
        fields = dict(data["list"])
        fields["kind"] = ListKind(fields["kind"])
        for name in ("join_restriction", "depart_restriction"):
            fields[name] = Restriction(fields[name])
        for name in ("owners", "other_addresses"):
            fields[name] = tuple(fields[name])
        reason = data.get("add_now")
        return cls(DirectoryList(**fields), AddNowReason(reason) if reason else None)


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
            return answer(refused(RefusalReason.DIR_SYNCED), current.names)
        existing = await self._approvals.open_request(
            requester.object_id, group.object_id, RequestKind.JOIN
        )
        if existing is not None:
            return answer(AlreadyRequested(existing))
        return await self._by_owners(requester, group)

    async def _by_owners(self, requester: Person, group: DirectoryList) -> JoinPreview:
        """The rest of the order above, once the owners are read (approver resolution)."""
        current = await self._approvers.current_approvers(group.ref)
        owners = current.names
        if current.owned_by(requester):
            decision: JoinDecision = AddNow(AddNowReason.REQUESTER_OWNS_LIST)
        elif group.join_restriction is Restriction.OPEN:
            decision = AddNow(AddNowReason.OPEN_LIST)
        elif (
            group.join_restriction is Restriction.CLOSED
            and self._policy.closed_lists is ClosedLists.REFUSE
        ):
            decision = refused(RefusalReason.CLOSED_BY_POLICY)
        else:
            asked, orphaned = current.asked_for(requester)
            decision = self._needs_approval(asked, orphaned)
            owners = tuple(a.display_name for a in asked)
        return JoinPreview(requester, group, owners, decision)

    def _needs_approval(self, asked: tuple[Approver, ...], orphaned: bool) -> NeedsApproval:
        return NeedsApproval(
            approvers=asked,
            orphaned=orphaned,
            justification_required=self._policy.require_justification,
            max_justification_length=self._policy.max_justification_length,
        )

    async def _recheck(self, requester: Person, previewed: Previewed) -> JoinPreview:
        """Submit after a preview moments ago: its live reads of the list and the membership
        stand (the write catches what changed in between). The open request is looked up
        again (Redis), and so are the owners when being one is what skips their approval."""
        group = previewed.list
        existing = await self._approvals.open_request(
            requester.object_id, group.object_id, RequestKind.JOIN
        )
        if existing is not None:
            return JoinPreview(requester, group, (), AlreadyRequested(existing))
        if previewed.add_now is AddNowReason.REQUESTER_OWNS_LIST:
            # An owner's own request is approved at once: whether they still own it is read now.
            return await self._by_owners(requester, group)
        if previewed.add_now is AddNowReason.OPEN_LIST:
            return JoinPreview(requester, group, (), AddNow(AddNowReason.OPEN_LIST))
        # Who is asked is what approvals.submit resolves now; the outcome names them from the
        # stored request.
        return JoinPreview(requester, group, (), self._needs_approval((), False))

    async def submit(
        self,
        requester: Person,
        list_identity: str,
        justification: str = "",
        *,
        previewed: Previewed | None = None,
        membership_days: int | None = None,
    ) -> JoinOutcome:
        """Ask to join, then store the request, approved at once when no approval is needed.
        Raises InvalidJustification when the reason given does not do.

        Without `previewed` it decides again on live data, exactly as preview does. With the
        Previewed of a preview of this list moments ago (a dialog keeps it between turns) the
        list and the membership are not read again; see _recheck and bench/README.md for why
        that is safe: a list changed in the minute between (deleted, closed, moved on-premises)
        fails at the write with a clear reason, and someone added meanwhile is "already a
        member", which the write treats as done. `membership_days`: a time-limited membership
        (skills.durations), ended by approvals.grant_service."""
        if previewed is not None and previewed.names(list_identity):
            preview = await self._recheck(requester, previewed)
        else:
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
        auto_approved = decision.reason.value if isinstance(decision, AddNow) else ""
        result = await self._approvals.submit(
            kind=RequestKind.JOIN,
            requester=requester,
            group=preview.list.ref,
            justification=text,
            auto_approved=auto_approved,
            membership_days=membership_days,
        )
        if not result.created:
            # Another ask (a second tap, another replica) stored its request first.
            return JoinOutcome(AlreadyRequested(result.request), result.request, False, preview)
        if isinstance(decision, NeedsApproval) and not decision.approvers:
            # Re-checked from a preview: who was asked is who the stored request names.
            asked = result.request.approvers
            decision = replace(decision, approvers=asked, orphaned=result.request.orphaned)
            preview = replace(
                preview, owners=tuple(a.display_name for a in asked), decision=decision
            )
        return JoinOutcome(decision, result.request, True, preview)


if TYPE_CHECKING:  # mypy proves the approval service fits the port this use case needs
    from approvals.service import ApprovalService

    def _conforms(service: ApprovalService) -> RequestSubmitter:
        return service
