"""The approval workflow's directory and writer ports, over the Exchange Online client.

Owner data is read live (at submit and again at every decision), so it must be cheap: a list
owned by people costs two Exchange calls, and no call ever pages a large list. ManagedBy holds
recipient Names (GUIDs for objects made since late 2022, human names such as "jdoe" before),
which Get-User and Get-Recipient filter on directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from approvals.errors import ListNameTaken, PermanentWriteError, TransientWriteError
from approvals.models import ListRef, NewList, Person
from approvals.ports import DirectoryEntry, WriteResult
from exchange import filters
from exchange.client import ExchangeClient
from exchange.errors import (
    AddressInUse,
    DirSyncedObject,
    ExchangeAuthError,
    ExchangeConfigError,
    ExchangeError,
    ExchangePermissionError,
    ExchangeProtocolError,
    ExchangeUnavailable,
    NameInUse,
    ObjectNotFound,
)
from exchange.models import NewDistributionGroup, Recipient, Text, User

# Accounts a person signs in to Teams with. Shared, room and equipment mailboxes and mail
# contacts can own or belong to a group, but nobody can approve with them.
PERSON_TYPES = frozenset({"UserMailbox", "MailUser", "GuestMailUser", "User"})

# Names per OPATH -or filter: one call for any ordinary list, a short filter even for odd ones.
FILTER_CHUNK = 50

ADD_MEMBER = "Add-DistributionGroupMember"
REMOVE_MEMBER = "Remove-DistributionGroupMember"
NEW_GROUP = "New-DistributionGroup"


class _UserRow(User):
    """Get-User's answer including the primary address, which exchange.models.User leaves out."""

    windows_email_address: Text = ""


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), FILTER_CHUNK):
        yield values[start : start + FILTER_CHUNK]


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if value:
            seen.setdefault(value.casefold(), value)
    return list(seen.values())


class ExchangeOwnerDirectory:
    """OwnerDirectory over Exchange.

    Calls per question:
    - owners(list): 1 Get-DistributionGroup (ManagedBy); then, when it names anyone, 1 Get-User
      per 50 names (people, with AccountDisabled and address in one answer); then, only for the
      names that are not users (owner groups), 1 Get-Recipient per 50 names.
      People-owned list: 2. Ownerless: 1. Owned by a group: 3.
    - group_members(group): 1 Get-DistributionGroupMember, then 1 Get-User per 50 people
      members for AccountDisabled (none when the group holds only groups).
    """

    def __init__(self, client: ExchangeClient) -> None:
        self._client = client

    async def owners(self, group: ListRef) -> list[DirectoryEntry]:
        found = await self._client.get_distribution_group(group.object_id or group.address)
        names = _unique(found.managed_by)
        if not names:
            return []
        resolved: dict[str, DirectoryEntry | None] = {}
        for user in await self._users("Name", names):
            # A user who cannot approve (a shared mailbox) is still resolved: not a group.
            resolved[user.name.casefold()] = _person(user)
        rest = [name for name in names if name.casefold() not in resolved]
        for chunk in _chunks(rest):
            for recipient in await self._client.find_recipients(
                opath_filter=filters.any_of(*(filters.eq("Name", name) for name in chunk)),
                result_size=len(chunk),
            ):
                if recipient.is_group and recipient.external_directory_object_id:
                    resolved[recipient.name.casefold()] = _group(recipient)
        entries = (resolved.get(name.casefold()) for name in names)
        return [entry for entry in entries if entry is not None]

    async def group_members(self, group_object_id: str) -> list[DirectoryEntry]:
        members = await self._client.get_distribution_group_members(group_object_id)
        people = [m.external_directory_object_id for m in members if _is_person(m)]
        enabled: set[str] = set()
        if people:
            enabled = {
                u.external_directory_object_id
                for u in await self._users("ExternalDirectoryObjectId", people)
                if not u.account_disabled
            }
        entries: list[DirectoryEntry] = []
        for member in members:
            if member.is_group and member.external_directory_object_id:
                entries.append(_group(member))
            elif _is_person(member):
                entries.append(
                    DirectoryEntry(
                        object_id=member.external_directory_object_id,
                        display_name=member.display_name or member.name,
                        address=member.primary_smtp_address,
                        # Only an account Get-User confirms as enabled may approve.
                        disabled=member.external_directory_object_id not in enabled,
                    )
                )
        return entries

    async def _users(self, prop: str, values: Sequence[str]) -> list[_UserRow]:
        rows: list[_UserRow] = []
        for chunk in _chunks(values):
            # call_cmdlet rather than iter_users: the typed User lacks the primary address.
            objects = await self._client.call_cmdlet(
                "Get-User",
                {
                    "Filter": filters.any_of(*(filters.eq(prop, value) for value in chunk)),
                    "ResultSize": len(chunk),
                },
            )
            rows.extend(_UserRow.model_validate(obj) for obj in objects)
        return rows


def _is_person(recipient: Recipient | User) -> bool:
    return recipient.recipient_type_details in PERSON_TYPES and bool(
        recipient.external_directory_object_id
    )


def _person(user: _UserRow) -> DirectoryEntry | None:
    if not _is_person(user):
        return None
    return DirectoryEntry(
        object_id=user.external_directory_object_id,
        display_name=user.display_name or user.name,
        address=user.windows_email_address,
        disabled=user.account_disabled,
    )


def _group(recipient: Recipient) -> DirectoryEntry:
    return DirectoryEntry(
        object_id=recipient.external_directory_object_id,
        display_name=recipient.display_name or recipient.name,
        address=recipient.primary_smtp_address,
        is_group=True,
    )


class ExchangeMembershipWriter:
    """MembershipWriter over Exchange: the list by object id, the person by object id (aliases
    and display names are not unique; these are)."""

    def __init__(self, client: ExchangeClient) -> None:
        self._client = client

    async def add_member(self, group: ListRef, person: Person) -> WriteResult:
        with _write_errors(ADD_MEMBER, group, person):
            change = await self._client.add_distribution_group_member(
                group.object_id or group.address, person.object_id
            )
        return WriteResult(outcome=change.outcome.value, exchange_request_id=change.request_id)

    async def remove_member(self, group: ListRef, person: Person) -> WriteResult:
        with _write_errors(REMOVE_MEMBER, group, person):
            change = await self._client.remove_distribution_group_member(
                group.object_id or group.address, person.object_id
            )
        return WriteResult(outcome=change.outcome.value, exchange_request_id=change.request_id)

    async def create_list(self, spec: NewList, *, may_already_exist: bool) -> WriteResult:
        planned = ListRef(object_id="", address=spec.address, display_name=spec.display_name)
        owner = spec.owners[0] if spec.owners else Person(object_id="", display_name="")
        with _write_errors(NEW_GROUP, planned, owner):
            made = await self._client.new_distribution_group(
                _new_group(spec), may_already_exist=may_already_exist
            )
        group = made.group
        created = ListRef(
            object_id=group.external_directory_object_id,
            address=group.primary_smtp_address or spec.address,
            display_name=group.display_name or spec.display_name,
        )
        return WriteResult(outcome="created", exchange_request_id=made.request_id, created=created)


def _new_group(spec: NewList) -> NewDistributionGroup:
    return NewDistributionGroup(
        name=spec.name,
        alias=spec.alias,
        display_name=spec.display_name,
        primary_smtp_address=spec.address,
        # ManagedBy and Members take any recipient identity; object ids are unique, names not.
        managed_by=[p.object_id for p in spec.owners],
        members=[p.object_id for p in spec.members],
        member_join_restriction=spec.join_restriction,
        require_sender_authentication_enabled=spec.internal_senders_only,
        notes=spec.description,
    )


@contextmanager
def _write_errors(cmdlet: str, group: ListRef, person: Person) -> Iterator[None]:
    """Exchange's failures as the approval workflow's: worth retrying, or not."""
    try:
        yield
    except (ExchangeUnavailable, ExchangeProtocolError, ExchangeAuthError) as exc:
        # Auth is worth retrying: a renewed secret or certificate fixes it without anyone
        # having to ask again, and the last attempt alerts the admins anyway.
        raise TransientWriteError(_transient_message(exc), exc.request_id) from exc
    except (NameInUse, AddressInUse) as exc:
        # Only a new list can collide; its requester is offered free names (ListNameTaken).
        error = ListNameTaken if cmdlet == NEW_GROUP else PermanentWriteError
        raise error(_permanent_message(exc, cmdlet, group, person), exc.request_id) from exc
    except ExchangeError as exc:
        raise PermanentWriteError(
            _permanent_message(exc, cmdlet, group, person), exc.request_id
        ) from exc
    except httpx.TransportError as exc:
        raise TransientWriteError(f"Exchange could not be reached ({exc!r})") from exc


def _transient_message(exc: ExchangeError) -> str:
    if isinstance(exc, ExchangeAuthError):
        return (
            "Entra ID refused dlbot's Exchange credentials; an admin must renew the app's "
            f"secret or certificate ({exc.message})"
        )
    return f"Exchange did not answer usefully, it will be tried again ({exc.message})"


# What each write does, in words: "add Alex to", "remove Alex from", "create".
_DOING = {
    ADD_MEMBER: "add {who} to",
    REMOVE_MEMBER: "remove {who} from",
    NEW_GROUP: "create",
}


def _permanent_message(exc: ExchangeError, cmdlet: str, group: ListRef, person: Person) -> str:
    who, where = person.display_name, f"{group.display_name} ({group.address})"
    doing = _DOING[cmdlet].format(who=who)
    if isinstance(exc, ExchangePermissionError):
        return (
            f"dlbot's Exchange role does not allow {cmdlet}; an Exchange admin must grant "
            f"it to dlbot's app, then {doing} {where} ({exc.message})"
        )
    if isinstance(exc, DirSyncedObject):
        return (
            f"{where} is synchronised from the on-premises Active Directory, so Exchange Online "
            f"cannot change it; an admin must {doing} it there"
        )
    if isinstance(exc, NameInUse | AddressInUse):
        return (
            f"the name or address of {where} was taken by another recipient after the request "
            f"was approved ({exc.message})"
        )
    if isinstance(exc, ObjectNotFound):
        return (
            f"Exchange no longer finds {where} or {who}: the list may have been deleted or the "
            f"account removed ({exc.message})"
        )
    if isinstance(exc, ExchangeConfigError):
        return f"dlbot's Exchange connection is not configured: {exc.message}"
    return f"Exchange refused to {doing} {where}: {exc.message}"


if TYPE_CHECKING:  # mypy proves both adapters satisfy their ports
    from approvals.ports import MembershipWriter, OwnerDirectory

    def _conforms(client: ExchangeClient) -> tuple[OwnerDirectory, MembershipWriter]:
        return ExchangeOwnerDirectory(client), ExchangeMembershipWriter(client)
