"""Who may approve a request for a list: its owners as people, read live from the directory.

ManagedBy may name people and groups. An owner group stands for its members (and, to a bounded
depth, the members of groups inside it: owner groups nest, sometimes in cycles). Disabled
accounts cannot approve anything, so they are dropped; when nobody is left the list is orphaned
and the fallback approvers (the admins' choice) are asked instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from approvals.models import FALLBACK_VIA, Approver, ListRef
from approvals.ports import ApproverSet, DirectoryEntry, OwnerDirectory

OWNER_VIA = "owner"


def owner_group_via(display_name: str) -> str:
    return f"owner group {display_name}"


def as_fallback(people: Iterable[Approver]) -> tuple[Approver, ...]:
    """The configured fallback approvers, marked as such and without duplicates."""
    chosen: dict[str, Approver] = {}
    for person in people:
        chosen.setdefault(person.object_id, person.model_copy(update={"via": FALLBACK_VIA}))
    return tuple(chosen.values())


class OwnerApprovers:
    """ApproverSource over an OwnerDirectory.

    `max_group_depth` counts owner groups: 1 expands the groups named in ManagedBy, 2 also the
    groups inside those, and so on; deeper groups are ignored rather than followed without end.
    """

    def __init__(
        self,
        directory: OwnerDirectory,
        fallback: tuple[Approver, ...],
        max_group_depth: int = 2,
    ) -> None:
        if max_group_depth < 0:
            raise ValueError("max_group_depth cannot be negative")
        self._directory = directory
        self._fallback = as_fallback(fallback)
        self._max_depth = max_group_depth

    def fallback_approvers(self) -> ApproverSet:
        """The fallback approvers alone, as asked for an orphaned list."""
        return ApproverSet(self._fallback, orphaned=True, fallback=self._fallback)

    async def current_approvers(self, group: ListRef) -> ApproverSet:
        owners = await self._directory.owners(group)
        people: dict[str, Approver] = {}
        # Direct owners first, so someone who is also in an owner group shows as "owner".
        for entry in owners:
            if not entry.is_group:
                _add(people, entry, OWNER_VIA)
        seen = {entry.object_id for entry in owners if entry.is_group}
        for entry in owners:
            if entry.is_group and not entry.disabled and self._max_depth >= 1:
                await self._expand(entry, owner_group_via(entry.display_name), 1, seen, people)
        if not people:
            return self.fallback_approvers()
        return ApproverSet(tuple(people.values()), orphaned=False, fallback=self._fallback)

    async def _expand(
        self,
        group: DirectoryEntry,
        via: str,
        depth: int,
        seen: set[str],
        people: dict[str, Approver],
    ) -> None:
        members = await self._directory.group_members(group.object_id)
        for member in members:
            if not member.is_group:
                # Named after the group in ManagedBy, even when found deeper: that is what
                # an approver's card and the audit need to explain why they may decide.
                _add(people, member, via)
            elif depth < self._max_depth and not member.disabled and member.object_id not in seen:
                seen.add(member.object_id)
                await self._expand(member, via, depth + 1, seen, people)


def _add(people: dict[str, Approver], entry: DirectoryEntry, via: str) -> None:
    if entry.disabled or not entry.object_id:
        return
    people.setdefault(
        entry.object_id,
        Approver(
            object_id=entry.object_id,
            display_name=entry.display_name,
            address=entry.address,
            via=via,
        ),
    )


if TYPE_CHECKING:  # mypy proves OwnerApprovers satisfies the port
    from approvals.ports import ApproverSource

    def _conforms(directory: OwnerDirectory) -> ApproverSource:
        return OwnerApprovers(directory, ())
