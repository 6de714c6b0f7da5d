"""Who approves a new distribution list.

A list that does not exist has no owners to ask, so a CREATE request goes to whom the admin's
policy names instead:

    "it_group"  the creation approvers: people, or groups standing for their members (an IT
                team's list), by address (DLBOT_CREATE_APPROVERS)
    "manager"   the requester's manager (Get-User Manager); the creation approvers when there is
                none, or the manager cannot approve (disabled, or no longer found)

Both are read live, at submit and again when someone decides, like a list's owners: someone who
left the IT group since the card went out can no longer approve with it. When nobody chosen can
approve or be reached, the admins' fallback approvers (DLBOT_FALLBACK_APPROVERS) are asked, as
for an ownerless list.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from approvals.approvers import as_fallback
from approvals.exchange_adapters import ExchangeOwnerDirectory
from approvals.models import Approver, Person
from approvals.ports import ApproverSet, DirectoryEntry
from exchange.client import ExchangeClient
from exchange.errors import ObjectNotFound

CREATION_APPROVER_VIA = "creation approver"
MANAGER_VIA = "manager"


class CreationApproverMode(StrEnum):
    IT_GROUP = "it_group"
    MANAGER = "manager"


class CreatorDirectory(Protocol):
    async def people(self, identity: str) -> list[DirectoryEntry]:
        """The person with this address, or the members of the group with it; [] if none."""
        ...

    async def manager(self, person: Person) -> DirectoryEntry | None:
        """The person's manager as Get-User names them, if any."""
        ...


class CreationApprovers:
    """CreationApproverSource over a CreatorDirectory, as the admin's policy chooses."""

    def __init__(
        self,
        directory: CreatorDirectory,
        *,
        mode: CreationApproverMode,
        approver_identities: tuple[str, ...],
        fallback: tuple[Approver, ...] = (),
    ) -> None:
        self._directory = directory
        self._mode = mode
        self._identities = approver_identities
        # The admins' fallback approvers: asked when none of the chosen ones can be (none
        # configured, all disabled, or none reachable in Teams), as for an ownerless list.
        self._fallback = as_fallback(fallback)

    async def creation_approvers(self, requester: Person) -> ApproverSet:
        it_people = await self._it_people()
        if self._mode is CreationApproverMode.MANAGER:
            manager = await self._directory.manager(requester)
            if manager is not None and not manager.disabled and manager.object_id:
                chosen = (_approver(manager, MANAGER_VIA),)
                fallback = as_fallback((*it_people, *self._fallback))
                return ApproverSet(chosen, orphaned=False, fallback=fallback)
            # Nobody manages the requester: the creation approvers decide, as if chosen.
        if not it_people:
            return ApproverSet(self._fallback, orphaned=True, fallback=self._fallback)
        return ApproverSet(it_people, orphaned=False, fallback=self._fallback)

    async def _it_people(self) -> tuple[Approver, ...]:
        people: dict[str, Approver] = {}
        for identity in self._identities:
            for entry in await self._directory.people(identity):
                if entry.object_id and not entry.disabled and not entry.is_group:
                    people.setdefault(entry.object_id, _approver(entry, CREATION_APPROVER_VIA))
        return tuple(people.values())


def _approver(entry: DirectoryEntry, via: str) -> Approver:
    return Approver(
        object_id=entry.object_id, display_name=entry.display_name, address=entry.address, via=via
    )


class ExchangeCreatorDirectory:
    """CreatorDirectory over Exchange: 1 Get-Recipient per configured address (plus the owner
    directory's member calls for a group); 2 Get-User for a manager."""

    def __init__(self, client: ExchangeClient) -> None:
        self._client = client
        self._groups = ExchangeOwnerDirectory(client)

    async def people(self, identity: str) -> list[DirectoryEntry]:
        try:
            recipient = await self._client.get_recipient(identity)
        except ObjectNotFound:
            return []
        if recipient.is_group:
            return await self._groups.group_members(recipient.external_directory_object_id)
        return [
            DirectoryEntry(
                object_id=recipient.external_directory_object_id,
                display_name=recipient.display_name or recipient.name,
                address=recipient.primary_smtp_address,
            )
        ]

    async def manager(self, person: Person) -> DirectoryEntry | None:
        try:
            user = await self._client.get_user(person.object_id)
            if not user.manager:
                return None
            boss = await self._client.get_user(user.manager)
        except ObjectNotFound:
            return None
        return DirectoryEntry(
            object_id=boss.external_directory_object_id,
            display_name=boss.display_name or boss.name,
            address=boss.windows_email_address or boss.user_principal_name,
            disabled=boss.account_disabled,
        )


if TYPE_CHECKING:  # mypy proves both fit the ports they stand for
    from approvals.ports import CreationApproverSource

    def _conforms(client: ExchangeClient) -> tuple[CreationApproverSource, CreatorDirectory]:
        directory = ExchangeCreatorDirectory(client)
        approvers = CreationApprovers(
            directory, mode=CreationApproverMode.IT_GROUP, approver_identities=()
        )
        return approvers, directory


class InMemoryCreatorDirectory:
    """CreatorDirectory in memory (the test double): people and groups by address, managers
    by the person's object id."""

    def __init__(
        self,
        people: dict[str, list[DirectoryEntry]],
        managers: dict[str, DirectoryEntry] | None = None,
    ) -> None:
        self.people_of = people
        self.managers = managers or {}

    async def people(self, identity: str) -> list[DirectoryEntry]:
        return list(self.people_of.get(identity.casefold(), []))

    async def manager(self, person: Person) -> DirectoryEntry | None:
        return self.managers.get(person.object_id)
