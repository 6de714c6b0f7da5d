"""-Filter over recipients: property getters, what each cmdlet may filter on, index lookups.

opath.py parses the filter text; this module gives each property its value on a recipient,
compares distinguished-name properties as objects, and finds the candidates a filter can be
answered from through the tenant's indexes when it pins a property with -eq.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from exchange.sandbox import opath
from exchange.sandbox.directory_names import split_dn
from exchange.sandbox.recipients import Group, Recipient, User
from exchange.sandbox.tenant import Tenant

Getter = Callable[[Tenant, Recipient], opath.FilterValue]


def _user_value(pick: Callable[[User], opath.FilterValue]) -> Getter:
    return lambda t, r: pick(r) if isinstance(r, User) else None


def _group_value(pick: Callable[[Group], opath.FilterValue]) -> Getter:
    return lambda t, r: pick(r) if isinstance(r, Group) else None


def _email_values(r: Recipient) -> list[str]:
    # "-eq" matches an entry with its prefix ("smtp:a@b") or without it ("a@b").
    return r.email_addresses + r.smtp_addresses()


GETTERS: Final[dict[str, Getter]] = {
    "Name": lambda t, r: r.name,
    "DisplayName": lambda t, r: r.display_name,
    "Alias": lambda t, r: r.alias,
    "PrimarySmtpAddress": lambda t, r: r.primary_smtp,
    "WindowsEmailAddress": lambda t, r: r.primary_smtp,
    "EmailAddresses": lambda t, r: _email_values(r),
    "ExternalEmailAddress": lambda t, r: r.external_email,
    "ExternalDirectoryObjectId": lambda t, r: r.external_id,
    "Guid": lambda t, r: r.guid,
    "ExchangeObjectId": lambda t, r: r.guid,
    "DistinguishedName": lambda t, r: t.distinguished_name(r),
    "RecipientType": lambda t, r: r.recipient_type,
    "RecipientTypeDetails": lambda t, r: r.recipient_type_details,
    "HiddenFromAddressListsEnabled": lambda t, r: r.hidden,
    "IsDirSynced": lambda t, r: r.is_dir_synced,
    "FirstName": _user_value(lambda u: u.first_name),
    "LastName": _user_value(lambda u: u.last_name),
    "Department": _user_value(lambda u: u.department),
    "Title": _user_value(lambda u: u.title),
    "UserPrincipalName": _user_value(lambda u: u.upn),
    "WindowsLiveID": _user_value(lambda u: u.upn),
    "AccountDisabled": _user_value(lambda u: u.account_disabled),
    "Manager": lambda t, r: (
        t.distinguished_name(r.manager) if isinstance(r, User) and r.manager else None
    ),
    "ManagedBy": lambda t, r: (
        [t.distinguished_name(o) for o in r.managed_by] if isinstance(r, Group) else None
    ),
    "MemberJoinRestriction": _group_value(lambda g: g.member_join_restriction),
    "MemberDepartRestriction": _group_value(lambda g: g.member_depart_restriction),
    "RequireSenderAuthenticationEnabled": _group_value(lambda g: g.require_sender_authentication),
    "HiddenGroupMembershipEnabled": _group_value(lambda g: g.hidden_group_membership),
    "GroupType": _group_value(lambda g: g.group_type),
    "Description": _group_value(lambda g: g.description),
}
# Properties whose values are distinguished names: -eq compares objects, not text.
DN_PROPERTIES: Final = frozenset({"MemberOfGroup", "ManagedBy", "Manager"})
_MAIL = ("Name", "DisplayName", "Alias", "PrimarySmtpAddress", "WindowsEmailAddress",
         "EmailAddresses", "ExternalDirectoryObjectId", "Guid", "ExchangeObjectId",
         "DistinguishedName", "RecipientType", "RecipientTypeDetails",
         "HiddenFromAddressListsEnabled", "IsDirSynced")  # fmt: skip
_GROUP = ("ManagedBy", "MemberJoinRestriction", "MemberDepartRestriction",
          "RequireSenderAuthenticationEnabled", "HiddenGroupMembershipEnabled", "GroupType",
          "Description")  # fmt: skip
_PERSON = ("FirstName", "LastName", "Department", "Title", "UserPrincipalName", "WindowsLiveID",
           "Manager")  # fmt: skip
GROUP_FILTERABLE: Final = _MAIL + _GROUP
RECIPIENT_FILTERABLE: Final = _MAIL + _GROUP + _PERSON + ("ExternalEmailAddress", "MemberOfGroup")
USER_FILTERABLE: Final = (
    "Name", "DisplayName", "ExternalDirectoryObjectId", "Guid", "ExchangeObjectId",
    "DistinguishedName", "RecipientType", "RecipientTypeDetails", "IsDirSynced",
    "WindowsEmailAddress", "AccountDisabled", "MemberOfGroup", *_PERSON,
)  # fmt: skip
# -eq on these is answered from an index instead of a scan (see indexed_candidates).
INDEXED: Final[dict[str, str]] = {
    "Name": "name",
    "Alias": "alias",
    "DisplayName": "display_name",
    "PrimarySmtpAddress": "address",
    "WindowsEmailAddress": "address",
    "EmailAddresses": "address",
    "ExternalDirectoryObjectId": "external_id",
    "Guid": "guid",
    "ExchangeObjectId": "guid",
    "UserPrincipalName": "upn",
    "WindowsLiveID": "upn",
    "DistinguishedName": "distinguished_name",
}


@dataclass
class CompiledFilter:
    node: opath.Node
    predicate: Callable[[Recipient], bool]


def compile_filter(t: Tenant, text: str, filterable: Iterable[str]) -> CompiledFilter:
    node = opath.parse(text, filterable)
    return CompiledFilter(node, opath.compile_predicate(node, lambda c: _leaf(t, text, c)))


def _leaf(t: Tenant, text: str, c: opath.Comparison) -> Callable[[Recipient], bool]:
    if c.prop in DN_PROPERTIES and isinstance(c.value, str) and c.op in ("eq", "ne"):
        parts = split_dn(c.value)
        if not parts or parts[0][0].lower() != "cn":
            raise opath.filter_error(
                f'The value "{c.value}" of property "{c.prop}" must be the distinguished name of '
                f'an object, for example "{t.distinguished_name_for("Sales")}". "{text}" at '
                f"position {c.position + 1}.",
            )
        test = _dn_test(c.prop, t.from_distinguished_name(c.value))
        return (lambda r: not test(r)) if c.op == "ne" else test
    getter = _member_of_getter(t) if c.prop == "MemberOfGroup" else GETTERS[c.prop]
    match = opath.value_matcher(c.op, c.value)
    return lambda r: match(getter(t, r))


def _dn_test(prop: str, target: Recipient | None) -> Callable[[Recipient], bool]:
    if target is None:
        return lambda r: False
    if prop == "MemberOfGroup":
        members = target.members if isinstance(target, Group) else {}
        return lambda r: r.guid in members
    if prop == "ManagedBy":
        return lambda r: isinstance(r, Group) and any(o is target for o in r.managed_by)
    return lambda r: isinstance(r, User) and r.manager is target


def _member_of_getter(t: Tenant) -> Getter:
    """MemberOfGroup as DNs, for $null and -like; built once per filter, not per recipient."""
    member_of: dict[str, list[str]] = {}
    for g in t.recipients():
        if isinstance(g, Group):
            dn = t.distinguished_name(g)
            for guid in g.members:
                member_of.setdefault(guid, []).append(dn)
    return lambda tenant, r: member_of.get(r.guid, [])


def indexed_candidates(t: Tenant, node: opath.Node) -> list[Recipient] | None:
    """A superset of the matches from the indexes, or None when only a scan can tell."""
    if isinstance(node, opath.Comparison):
        if node.op != "eq" or not isinstance(node.value, str):
            return None
        if node.prop == "MemberOfGroup":
            group = t.from_distinguished_name(node.value)
            return list(group.members.values()) if isinstance(group, Group) else []
        key = INDEXED.get(node.prop)
        value = node.value
        if node.prop == "EmailAddresses":
            prefix, colon, rest = value.partition(":")
            if colon and prefix.lower() != "smtp":
                return None  # X500:, SIP: ... are not indexed
            value = rest if colon else value
        return t.lookup(key, value) if key else None
    if isinstance(node, opath.And):
        best: list[Recipient] | None = None
        for operand in node.operands:
            found = indexed_candidates(t, operand)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best
    if isinstance(node, opath.Or):
        union: dict[str, Recipient] = {}
        for operand in node.operands:
            found = indexed_candidates(t, operand)
            if found is None:
                return None
            union.update((r.guid, r) for r in found)
        return list(union.values())
    return None
