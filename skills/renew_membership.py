"""The "renew my membership" use case: a member taps Renew on the card that says their
time-limited membership ends soon.

The list is read live, as for a join: gone or moved on-premises, nothing can be renewed; the
member owns it, or it is open to everyone, a new term starts at once; otherwise the owners are
asked, on the same approval card as a join ("a renewal"), and their approval starts the new
term. The results are typed data; bot/ turns them into words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from approvals.errors import RequestNotFound
from approvals.grant_service import GrantService, RenewResult
from approvals.grants import Grant, GrantNotActive, NotTheMember
from approvals.models import FALLBACK_VIA, Person
from approvals.ports import ApproverSource
from skills.join_dl import AddNowReason
from skills.ports import ListDirectory, Restriction


class RenewRefusal(StrEnum):
    NOT_YOURS = "not_yours"  # no such grant, or someone else's
    ENDED = "ended"
    LIST_GONE = "list_gone"
    DIR_SYNCED = "dir_synced"


@dataclass(frozen=True)
class RenewRefused:
    reason: RenewRefusal
    grant: Grant | None = None


RenewOutcome = RenewResult | RenewRefused


class RenewMembership:
    def __init__(
        self, directory: ListDirectory, approvers: ApproverSource, grants: GrantService
    ) -> None:
        self._directory = directory
        self._approvers = approvers
        self._grants = grants

    async def renew(
        self, member: Person, grant_id: str, justification: Callable[[Grant], str]
    ) -> RenewOutcome:
        """`justification`: what the owners read when they are asked (bot/texts words it)."""
        grant = await self._grants.get(grant_id)
        if grant is None or grant.member.object_id != member.object_id:
            return RenewRefused(RenewRefusal.NOT_YOURS)
        if not grant.is_active:
            return RenewRefused(RenewRefusal.ENDED, grant)
        group = await self._directory.get_list(grant.group.object_id)
        if group is None:
            return RenewRefused(RenewRefusal.LIST_GONE, grant)
        if group.dir_synced:
            return RenewRefused(RenewRefusal.DIR_SYNCED, grant)
        at_once = ""
        current = await self._approvers.current_approvers(grant.group)
        if not current.orphaned and any(
            a.object_id == member.object_id and a.via != FALLBACK_VIA for a in current.approvers
        ):
            at_once = AddNowReason.REQUESTER_OWNS_LIST.value
        elif group.join_restriction is Restriction.OPEN:
            at_once = AddNowReason.OPEN_LIST.value
        try:
            return await self._grants.renew(
                grant_id, member, at_once=at_once, justification=justification(grant)
            )
        except (GrantNotActive, NotTheMember, RequestNotFound):
            # It ended (or went) between the read above and the renewal.
            return RenewRefused(RenewRefusal.ENDED, grant)
