"""The ListDirectory port over the Exchange Online client.

Costs are counted in logical Exchange calls (one cmdlet; paging within one call reuses its
client-request-id and is not counted again). Chat latency is roughly the number of calls times
Exchange's few hundred milliseconds, so every method says what it spends:

    get_list     1 (Get-DistributionGroup); 2 when that fails: a Get-Recipient looking for a
                 dynamic group of that identity (they are invisible to Get-DistributionGroup)
    membership   1 Get-Recipient -Filter "MemberOfGroup -eq <list> -and (the person's object
                 id -or a group type)": the person's row if a direct member, and the list's
                 member groups. A direct member, or a list without member groups: 1. Otherwise
                 1 direct test per member group found, and per further level of nesting 1
                 Get-Recipient per group of the level above plus 1 test per group found; levels
                 run concurrently. engineering-all for Henrietta (one member group): 2. Bounded
                 by MAX_NESTING_DEPTH and MAX_NESTED_GROUPS: at most 2 + 2 * 25 = 52. Never
                 pages the list's members. +1 Get-DistributionGroup when the record has no
                 DistinguishedName (an index record, not a live read); 0 for a dynamic list
                 (its members are computed, not held).
    person       1 (Get-Recipient); 2 for a person without a mailbox (then Get-User)
    all_lists    1 paged Get-DistributionGroup (a page per 1,000 lists) + 1 Get-Recipient
                 for the dynamic groups
    all_people   1 paged Get-User (a page per 1,000 users), for the people snapshot
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from approvals.models import Person
from exchange import filters
from exchange.client import ExchangeClient
from exchange.errors import ObjectNotFound
from exchange.models import DistributionGroup, Recipient, User
from skills.people_store import PERSON_TYPES, PersonRecord
from skills.ports import DirectoryList, ListKind, Membership, MembershipKind, Restriction

log = logging.getLogger(__name__)

# How far down member groups are followed, and how many are tested in all: a list that nests
# hundreds of lists would otherwise cost hundreds of calls while a person waits in chat. Past the
# bound the answer is "not a member", which costs little: at worst the person is added directly
# to a list whose mail they already get.
MAX_NESTING_DEPTH: Final = 3
MAX_NESTED_GROUPS: Final = 25

DYNAMIC: Final = "DynamicDistributionGroup"
KINDS: Final[dict[str, ListKind]] = {
    "MailUniversalDistributionGroup": ListKind.DISTRIBUTION,
    "MailNonUniversalGroup": ListKind.DISTRIBUTION,  # legacy, on-premises only
    "MailUniversalSecurityGroup": ListKind.SECURITY,
    "RoomList": ListKind.ROOM,
    DYNAMIC: ListKind.DYNAMIC,
}
# Groups whose members are tested through MemberOfGroup. A dynamic group nested in a list has
# computed members that no filter over MemberOfGroup reveals, so it is not followed.
NESTABLE_GROUP_TYPES: Final = (
    "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup",
    "MailNonUniversalGroup",
)


class ExchangeListDirectory:
    """Reads lists, memberships and people live from Exchange Online."""

    def __init__(self, client: ExchangeClient) -> None:
        self._client = client

    async def get_list(self, identity: str) -> DirectoryList | None:
        """A list by object id or address (an alias may be ambiguous: AmbiguousIdentity)."""
        try:
            return directory_list(await self._client.get_distribution_group(identity))
        except ObjectNotFound:
            pass
        dynamic = await self._dynamic_groups({"Identity": identity})
        return directory_list(dynamic[0]) if dynamic else None

    async def membership(self, group: DirectoryList, person_object_id: str) -> Membership:
        if group.kind is ListKind.DYNAMIC:
            # Members are computed from a filter; MemberOfGroup never lists them.
            return Membership(MembershipKind.NONE)
        dn = group.distinguished_name or await self._distinguished_name(group)
        # One Get-Recipient answers both "is the person a direct member" and "which groups are
        # members" (the first level of the nested walk): most lists cost this one call.
        rows = await self._client.find_recipients(
            opath_filter=filters.all_of(
                filters.eq("MemberOfGroup", dn),
                filters.any_of(
                    filters.eq("ExternalDirectoryObjectId", person_object_id),
                    *(filters.eq("RecipientTypeDetails", kind) for kind in NESTABLE_GROUP_TYPES),
                ),
            ),
            result_size=MAX_NESTED_GROUPS + 1,
        )
        wanted = person_object_id.casefold()
        if any(row.external_directory_object_id.casefold() == wanted for row in rows):
            return Membership(MembershipKind.DIRECT)
        if len(rows) > MAX_NESTED_GROUPS and await self._client.is_direct_member(
            dn, person_object_id
        ):
            # More member groups than one answer holds: the person's row may be past the cut.
            return Membership(MembershipKind.DIRECT)
        groups = [row for row in rows if row.recipient_type_details in NESTABLE_GROUP_TYPES]
        via = await self._nested_path(dn, groups[:MAX_NESTED_GROUPS], person_object_id)
        if via is None:
            return Membership(MembershipKind.NONE)
        return Membership(MembershipKind.NESTED, via)

    async def person(self, object_id: str) -> Person | None:
        try:
            recipient = await self._client.get_recipient(object_id)
        except ObjectNotFound:
            recipient = None
        if recipient is not None:
            if recipient.recipient_type_details not in PERSON_TYPES:
                return None  # a group, contact or room answers to that id: not a person
            return Person(
                object_id=recipient.external_directory_object_id or object_id,
                display_name=recipient.display_name or recipient.name,
                address=recipient.primary_smtp_address,
            )
        # Get-Recipient skips accounts without a mailbox; they can still chat in Teams.
        try:
            user = await self._client.get_user(object_id)
        except ObjectNotFound:
            return None
        return Person(
            object_id=user.external_directory_object_id or object_id,
            display_name=user.display_name or user.name,
        )

    async def all_lists(self) -> AsyncIterator[list[DirectoryList]]:
        async for page in self._client.iter_distribution_groups():
            yield [directory_list(group) for group in page]
        dynamic = await self._dynamic_groups({"ResultSize": "Unlimited"})
        if dynamic:
            yield [directory_list(group) for group in dynamic]

    async def all_people(self) -> AsyncIterator[list[PersonRecord]]:
        async for page in self._client.iter_users():
            yield [person_record(user) for user in page if user.external_directory_object_id]

    # ------------------------------------------------------------------------------------------

    async def _distinguished_name(self, group: DirectoryList) -> str:
        live = await self._client.get_distribution_group(group.object_id or group.address)
        return live.distinguished_name

    async def _nested_path(
        self, list_dn: str, member_groups: list[Recipient], person_object_id: str
    ) -> tuple[str, ...] | None:
        """Display names from the list down to the member group holding the person, if any;
        `member_groups` are the list's own, already read.

        Breadth first, so the shortest path is found and each level costs one round of
        concurrent calls; `seen` makes cycles (A in B in A) harmless.
        """
        seen = {list_dn.casefold()}
        budget = MAX_NESTED_GROUPS
        frontier: list[tuple[str, tuple[str, ...]]] = [(list_dn, ())]
        for depth in range(MAX_NESTING_DEPTH):
            if depth == 0:
                found = [member_groups]
            else:
                found = await asyncio.gather(*(self._member_groups(dn) for dn, _ in frontier))
            level: list[tuple[str, tuple[str, ...]]] = []
            for (_, path), children in zip(frontier, found, strict=True):
                for child in children:
                    key = child.distinguished_name.casefold()
                    if not key or key in seen:
                        continue
                    seen.add(key)
                    level.append(
                        (child.distinguished_name, (*path, child.display_name or child.name))
                    )
            if len(level) > budget:
                log.info("nested membership walk stopped after %d groups", MAX_NESTED_GROUPS)
                level = level[:budget]
            budget -= len(level)
            if not level:
                return None
            hits = await asyncio.gather(
                *(self._client.is_direct_member(dn, person_object_id) for dn, _ in level)
            )
            for (_, path), hit in zip(level, hits, strict=True):
                if hit:
                    return path
            if budget <= 0:
                return None
            frontier = level
        return None

    async def _member_groups(self, group_dn: str) -> list[Recipient]:
        """The groups that are direct members of a group: one Get-Recipient, bounded."""
        return await self._client.find_recipients(
            opath_filter=filters.eq("MemberOfGroup", group_dn),
            recipient_type_details=NESTABLE_GROUP_TYPES,
            result_size=MAX_NESTED_GROUPS,
        )

    async def _dynamic_groups(self, parameters: dict[str, Any]) -> list[DistributionGroup]:
        # The typed Recipient model has no HiddenFromAddressListsEnabled or EmailAddresses, and
        # the client has no typed read for dynamic groups; Get-Recipient returns both properties,
        # so the raw objects are read as DistributionGroup (extra properties are ignored).
        try:
            objects = await self._client.call_cmdlet(
                "Get-Recipient", {**parameters, "RecipientTypeDetails": [DYNAMIC]}
            )
        except ObjectNotFound:
            return []
        return [DistributionGroup.model_validate(obj) for obj in objects]


def directory_list(group: DistributionGroup) -> DirectoryList:
    """Exchange's view of a group as the directory record the use cases and the index share."""
    primary = group.primary_smtp_address
    return DirectoryList(
        object_id=group.external_directory_object_id or group.guid,
        name=group.name,
        display_name=group.display_name or group.name,
        alias=group.alias,
        address=primary,
        kind=KINDS.get(group.recipient_type_details, ListKind.DISTRIBUTION),
        join_restriction=_restriction(group.member_join_restriction, group),
        depart_restriction=_restriction(group.member_depart_restriction, group),
        owners=tuple(group.managed_by),
        other_addresses=_secondary_addresses(group.email_addresses, primary),
        description="\n".join(group.description),
        hidden=group.hidden_from_address_lists_enabled,
        dir_synced=group.is_dir_synced,
        distinguished_name=group.distinguished_name,
    )


def person_record(user: User) -> PersonRecord:
    """Get-User's view of someone as the people snapshot keeps it."""
    return PersonRecord(
        object_id=user.external_directory_object_id,
        display_name=user.display_name or user.name,
        address=user.windows_email_address,
        upn=user.user_principal_name or user.windows_live_id,
        disabled=user.account_disabled,
        manager=user.manager,
        recipient_type=user.recipient_type_details,
    )


def _restriction(value: str, group: DistributionGroup) -> Restriction:
    if group.recipient_type_details == DYNAMIC:
        return Restriction.CLOSED  # nobody joins a dynamic group by hand
    try:
        return Restriction(value)
    except ValueError:
        # Unknown or missing: the restriction that asks for the most care.
        return Restriction.CLOSED


def _secondary_addresses(email_addresses: list[str], primary: str) -> tuple[str, ...]:
    """smtp: proxy addresses other than the primary, lower case; X500:, SIP: ... are not mail."""
    found: list[str] = []
    for proxy in email_addresses:
        prefix, colon, address = proxy.partition(":")
        if not colon or prefix.casefold() != "smtp":
            continue
        lowered = address.casefold()
        if lowered != primary.casefold() and lowered not in found:
            found.append(lowered)
    return tuple(found)


if TYPE_CHECKING:  # mypy proves the class fits the port
    from skills.people_store import PeopleSource
    from skills.ports import ListDirectory

    def _conforms(client: ExchangeClient) -> ListDirectory:
        return ExchangeListDirectory(client)

    def _a_people_source(client: ExchangeClient) -> PeopleSource:
        return ExchangeListDirectory(client)
