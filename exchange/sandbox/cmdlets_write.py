"""The write cmdlets: Add-/Remove-DistributionGroupMember and New-DistributionGroup.

They are the only code that changes the directory, so their validation lives together: each
checks in the order Exchange reports failures and writes nothing before every check has passed
(nor at all with -WhatIf).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from exchange.sandbox.cmdlet_errors import (
    ADDRESS_TAKEN,
    ALREADY_MEMBER,
    NAME_TAKEN,
    NOT_MANAGER,
    NOT_MEMBER,
    VALIDATION,
    binding_error,
    fail,
)
from exchange.sandbox.cmdlet_outcome import CmdletError, CmdletResult
from exchange.sandbox.directory_names import ALIAS_PATTERN, derive_alias
from exchange.sandbox.identity import resolve_group, resolve_one
from exchange.sandbox.objects import group_object
from exchange.sandbox.parameters import Bound
from exchange.sandbox.recipients import MAILBOX_TYPES, Group, Recipient
from exchange.sandbox.tenant import Tenant

MAX_NEW_GROUP_MEMBERS: Final = 10_000


# --- membership writes ---------------------------------------------------------------------


def _check_writable(t: Tenant, group: Group, b: Bound, cmdlet: str) -> None:
    if group.is_dir_synced:
        raise fail(
            400,
            "",
            f"The action '{cmdlet}', 'Members', can't be performed on the object '{group.name}' "
            "because the object is being synchronized from your on-premises organization. This "
            "action should be performed on the object in your on-premises organization.",
        )
    # The app is never in ManagedBy, so only the bypass switch lets it change membership.
    if not b.flag("BypassSecurityGroupManagerCheck"):
        raise fail(
            400,
            NOT_MANAGER,
            "You don't have sufficient permissions. This operation can only be performed by a "
            "manager of the group.",
        )


def _check_room_list(kind: str, group_name: str, member: Recipient, shown: str) -> None:
    """Room lists hold rooms (and other room lists) only."""
    if kind == "RoomList" and member.recipient_type_details not in ("RoomMailbox", "RoomList"):
        raise fail(
            400,
            "",
            f'The recipient "{shown}" can\'t be added to the room list "{group_name}" because it '
            "isn't a room mailbox or a room list.",
        )


def add_distribution_group_member(t: Tenant, b: Bound) -> CmdletResult:
    identity, member_id = b.required("Identity"), b.required("Member")
    group = resolve_group(t, identity)
    _check_writable(t, group, b, "Add-DistributionGroupMember")
    member = resolve_one(t, member_id, lambda r: True, parameter="Member")
    _check_room_list(group.recipient_type_details, group.name, member, member_id)
    if member.guid in group.members:
        raise fail(
            400,
            ALREADY_MEMBER,
            f'The recipient "{member_id}" is already a member of the group "{identity}".',
        )
    if not b.flag("WhatIf"):
        group.members[member.guid] = member
        group.when_changed = t.clock()
    return CmdletResult()


def remove_distribution_group_member(t: Tenant, b: Bound) -> CmdletResult:
    identity, member_id = b.required("Identity"), b.required("Member")
    group = resolve_group(t, identity)
    _check_writable(t, group, b, "Remove-DistributionGroupMember")
    member = resolve_one(t, member_id, lambda r: True, parameter="Member")
    if member.guid not in group.members:
        raise fail(
            400,
            NOT_MEMBER,
            f'The recipient "{member_id}" isn\'t a member of the group "{identity}".',
        )
    if b.flag("WhatIf"):
        return CmdletResult()
    # Remove-* asks for confirmation unless Confirm is false, and nobody can answer over REST.
    if b.flag("Confirm", default=True):
        raise fail(
            400,
            "System.Management.Automation.Host.HostException",
            "A command that prompts the user failed because the host program or the command type "
            "does not support user interaction. The host was attempting to request confirmation "
            "with the following message: Are you sure you want to perform this action? Removing "
            f'distribution group member "{member_id}" on distribution group "{identity}".',
        )
    del group.members[member.guid]
    group.when_changed = t.clock()
    return CmdletResult()


# --- New-DistributionGroup -----------------------------------------------------------------

_ALIAS_RULES: Final = (
    "Valid values are: Strings formed with characters from A to Z (uppercase or lowercase), "
    "digits from 0 to 9, !, #, $, %, &, ', *, +, -, /, =, ?, ^, _, `, {, |, } or ~. One or more "
    "periods may be embedded in an alias, but each period should be preceded and followed by at "
    "least one of the other characters. Unicode characters from U+00A1 to U+00FF are also valid "
    "in an alias, but they will be mapped to a best-fit US-ASCII string in the email address, "
    "which is generated from such an alias."
)
_LATIN1_ALIAS: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u00a1-\u00ff]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u00a1-\u00ff]+)*"
)


def _too_long(value: str, maximum: int) -> CmdletError:
    return fail(
        400,
        VALIDATION,
        f"The length of the property is too long. The maximum length is {maximum} and the length "
        f"of the value provided is {len(value)}.",
    )


def _bad_address(address: str) -> CmdletError:
    return binding_error(
        f"Cannot bind parameter 'PrimarySmtpAddress'. Cannot convert value \"{address}\" to type "
        f'"Microsoft.Exchange.Data.SmtpAddress". Error: "The email address "{address}" isn\'t '
        "correct. Please use this format: user name, the @ sign, followed by the domain name. "
        'For example, tonysmith@contoso.com or tony.smith@contoso.com."'
    )


def _blocked_word(t: Tenant, *texts: str) -> str | None:
    for word in t.naming_policy.blocked_words:
        pattern = re.compile(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", re.IGNORECASE)
        if any(pattern.search(text) for text in texts):
            return word
    return None


def _primary_address(t: Tenant, b: Bound, alias: str) -> str:
    address = b.string("PrimarySmtpAddress")
    if address is None:
        return t.unique_address(derive_alias(alias) or "group", t.default_domain)
    address = address.strip()
    if address.lower().startswith("smtp:"):
        address = address[5:]
    local, at, domain = address.rpartition("@")
    if not at or not ALIAS_PATTERN.fullmatch(local) or not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise _bad_address(address)
    if t.accepted_domain(domain) is None:
        raise fail(
            400,
            VALIDATION,
            f'The email address "{address}" can\'t be used because the domain "{domain}" isn\'t '
            "an accepted domain for your organization.",
        )
    holder = t.address_holder(address)
    if holder is not None:
        raise fail(
            400,
            ADDRESS_TAKEN,
            f'The proxy address "SMTP:{address}" is already being used by the proxy addresses or '
            f'LegacyExchangeDN of "{holder.name}". Please choose another proxy address.',
        )
    return address


def _owners(t: Tenant, b: Bound) -> list[Recipient]:
    owners: list[Recipient] = []
    for value in b.strings("ManagedBy") or []:
        owner = resolve_one(t, value, lambda r: True, parameter="ManagedBy")
        allowed = owner.recipient_type_details in MAILBOX_TYPES | {
            "MailUser",
            "GuestMailUser",
            "MailUniversalSecurityGroup",
        }
        if not allowed:
            raise fail(
                400,
                "",
                f"The recipient \"{value}\" can't be an owner of the group because it isn't a "
                "mailbox, a mail user or a mail-enabled security group.",
            )
        if all(o is not owner for o in owners):
            owners.append(owner)
    return owners


@dataclass
class _NewGroup:
    """New-DistributionGroup's validated request, before anything is written."""

    name: str
    alias: str
    kind: str
    display_name: str = ""
    primary: str = ""
    join: str = "Closed"
    depart: str = "Open"
    owners: list[Recipient] = field(default_factory=list)
    members: dict[str, Recipient] = field(default_factory=dict)


def _name_and_alias(b: Bound) -> _NewGroup:
    name = b.required("Name").strip()
    if len(name) > 64:
        raise _too_long(name, 64)
    alias = b.string("Alias")
    if alias is None:
        alias = derive_alias(name) or "group"
    elif len(alias) > 64:
        raise _too_long(alias, 64)
    elif not _LATIN1_ALIAS.fullmatch(alias):
        raise fail(400, VALIDATION, f'Property expression "{alias}" isn\'t valid. {_ALIAS_RULES}')
    if b.flag("RoomList"):
        kind = "RoomList"
    elif b.string("Type") == "Security":
        kind = "MailUniversalSecurityGroup"
    else:
        kind = "MailUniversalDistributionGroup"
    return _NewGroup(name, alias, kind)


def _restrictions(plan: _NewGroup, b: Bound) -> None:
    security = plan.kind == "MailUniversalSecurityGroup"
    plan.join = b.string("MemberJoinRestriction") or "Closed"
    plan.depart = b.string("MemberDepartRestriction") or ("Closed" if security else "Open")
    if security and "Open" in (plan.join, plan.depart):
        raise fail(
            400,
            VALIDATION,
            "Security groups can't have MemberJoinRestriction or MemberDepartRestriction set to "
            '"Open". Use "Closed" or "ApprovalRequired".',
        )


def _display_name(t: Tenant, plan: _NewGroup, b: Bound) -> None:
    """DisplayName after the naming policy: blocked words refused, prefix and suffix added."""
    display = b.string("DisplayName")
    display = plan.name if display is None else display
    if not b.flag("IgnoreNamingPolicy"):
        word = _blocked_word(t, plan.name, display)
        if word is not None:
            raise fail(
                400,
                "",
                f'The group name "{display}" contains the word "{word}", which your '
                "organization's group naming policy blocks. Please choose a different name.",
            )
        display = f"{t.naming_policy.prefix}{display}{t.naming_policy.suffix}"
    if len(display) > 256:
        raise _too_long(display, 256)
    plan.display_name = display


def _membership(t: Tenant, plan: _NewGroup, b: Bound) -> None:
    member_ids = b.strings("Members") or []
    if len(member_ids) > MAX_NEW_GROUP_MEMBERS:
        raise fail(
            400,
            VALIDATION,
            f"The Members parameter accepts at most {MAX_NEW_GROUP_MEMBERS} entries; "
            f"{len(member_ids)} were specified.",
        )
    plan.owners = _owners(t, b)
    for value in member_ids:
        member = resolve_one(t, value, lambda r: True, parameter="Members")
        _check_room_list(plan.kind, plan.name, member, value)
        plan.members[member.guid] = member
    if b.flag("CopyOwnerToMember"):
        plan.members.update((o.guid, o) for o in plan.owners)


def new_distribution_group(t: Tenant, b: Bound) -> CmdletResult:
    # Checked in the order Exchange reports them: parameters, naming policy, addresses and
    # recipients, and only then the name, which Active Directory refuses at write time.
    plan = _name_and_alias(b)
    _restrictions(plan, b)
    _display_name(t, plan, b)
    plan.primary = _primary_address(t, b, plan.alias)
    _membership(t, plan, b)
    if t.name_holder(plan.name) is not None:
        raise fail(
            400, NAME_TAKEN, f"The object '{t.distinguished_name_for(plan.name)}' already exists."
        )
    if b.flag("WhatIf"):
        return CmdletResult()
    group = _create_group(t, plan, b)
    # The contract: the object New-DistributionGroup returns may not have its DN yet.
    return CmdletResult([group_object(t, group, dn="")])


def _create_group(t: Tenant, plan: _NewGroup, b: Bound) -> Group:
    seq = t.next_seq()
    now = t.clock()
    addresses = [f"SMTP:{plan.primary}"]
    if not plan.primary.lower().endswith("@" + t.initial_domain.lower()):
        local = derive_alias(plan.alias) or "group"
        addresses.append(f"smtp:{t.unique_address(local, t.initial_domain)}")
    group = Group(
        seq=seq,
        guid=t.derived_guid("new-group", plan.name.lower(), str(seq)),
        external_id=t.derived_guid("new-group-entra", plan.name.lower(), str(seq)),
        name=plan.name,
        display_name=plan.display_name,
        alias=plan.alias,
        primary_smtp=plan.primary,
        email_addresses=addresses,
        recipient_type_details=plan.kind,
        when_created=now,
        when_changed=now,
        managed_by=plan.owners,
        members=plan.members,
        member_join_restriction=plan.join,
        member_depart_restriction=plan.depart,
        require_sender_authentication=b.flag("RequireSenderAuthenticationEnabled", default=True),
        description=[d for d in b.strings("Description") or [] if d],
        notes=b.string("Notes") or "",
    )
    t.add_recipient(group)
    return group
