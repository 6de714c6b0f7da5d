"""The cmdlets dlbot calls, answering as Exchange Online's InvokeCommand does.

run_cmdlet (reached through Tenant.execute) checks RBAC, binds parameters with PowerShell's
rules and error texts, then runs one of the handlers below. Identity values resolve like
Exchange's id parameters; -Filter goes through opath.py and uses the tenant's indexes when the
filter pins a property with -eq. Objects carry the OData annotations the real service sends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from exchange.sandbox import opath
from exchange.sandbox.tenant import (
    ALIAS_PATTERN,
    MAILBOX_TYPES,
    CmdletError,
    CmdletResult,
    Group,
    Recipient,
    Tenant,
    User,
    derive_alias,
    split_dn,
)

NOT_FOUND: Final = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
AMBIGUOUS: Final = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException"
BINDING: Final = "System.Management.Automation.ParameterBindingException"
VALIDATION: Final = "Microsoft.Exchange.Data.DataValidationException"
ALREADY_MEMBER: Final = "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException"
# The contract lists this type as "not published": this name is plausible, not verified, so a
# client must recognise the failure by its message.
NOT_MEMBER: Final = "Microsoft.Exchange.Management.Tasks.MemberNotFoundException"
NOT_MANAGER: Final = "Microsoft.Exchange.Configuration.Tasks.OperationRequiresGroupManagerException"
NAME_TAKEN: Final = "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
ADDRESS_TAKEN: Final = "Microsoft.Exchange.Management.Tasks.WLCDManagedMemberExistsException"

DEFAULT_RESULT_SIZE: Final = 1000
DEFAULT_SIZE_WARNING: Final = (
    "By default, only the first {n} items are returned. Use the ResultSize parameter to specify "
    'the number of items returned. To return all items, specify "-ResultSize Unlimited". Be '
    "aware that, depending upon the actual number of items, returning all items can take a long "
    "time and consume a large amount of memory. Also, we don't recommend storing the results in "
    "a variable. Instead, pipe the results to another task or script to perform batch changes."
)
# What Exchange says instead when the caller chose the ResultSize that cut the list short.
EXPLICIT_SIZE_WARNING: Final = (
    "There are more results available than are currently displayed. To view them, increase the "
    "value for the ResultSize parameter."
)
MAX_NEW_GROUP_MEMBERS: Final = 10_000
RECIPIENT_TYPE_DETAILS: Final = (
    "UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox", "MailUser",
    "GuestMailUser", "MailContact", "User", "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup", "MailNonUniversalGroup", "RoomList",
    "DynamicDistributionGroup", "GroupMailbox",
)  # fmt: skip


def _error_id(exception_type: str) -> str:
    """The short ErrorId Exchange puts before pipe-format messages (stable per exception)."""
    if exception_type == NOT_FOUND:
        return "Ex6F9304"  # the id the contract quotes for this exception
    if not exception_type or exception_type.startswith("System."):
        return ""
    return "Ex" + hashlib.sha1(exception_type.encode()).hexdigest()[:6].upper()


def fail(status: int, exception_type: str, message: str) -> CmdletError:
    return CmdletError(status, exception_type, message, error_id=_error_id(exception_type))


def binding_error(message: str) -> CmdletError:
    return fail(400, BINDING, message)


def not_found(t: Tenant, identity: str) -> CmdletError:
    """Identity parameters report the domain controller they searched."""
    return fail(
        404,
        NOT_FOUND,
        f"The operation couldn't be performed because object '{identity}' couldn't be found on "
        f"'{t.domain_controller}'.",
    )


def object_not_found(identity: str) -> CmdletError:
    """Member, ManagedBy and Members values are reported in the other published wording."""
    return fail(
        404,
        NOT_FOUND,
        f'Couldn\'t find object "{identity}". Please make sure that it was spelled correctly or '
        "specify a different object.",
    )


def ambiguous(identity: str) -> CmdletError:
    return fail(
        400,
        AMBIGUOUS,
        f"The operation couldn't be performed because '{identity}' matches multiple entries.",
    )


# --- parameter binding ---------------------------------------------------------------------

ParamKind = Literal["string", "switch", "bool", "strings", "result_size", "enum", "enums"]
# PowerShell's common parameters are valid on every cmdlet; they change nothing here.
COMMON_PARAMETERS: Final = frozenset(
    p.lower()
    for p in (
        "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "Verbose", "Debug",
        "ErrorVariable", "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer",
        "PipelineVariable",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Param:
    kind: ParamKind
    mandatory: bool = False
    allow_empty: bool = False
    enum_type: str = ""
    choices: tuple[str, ...] = ()


@dataclass
class Bound:
    """Parameters after binding: canonical names, values already of the declared kind."""

    values: dict[str, object] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def required(self, name: str) -> str:
        value = self.values[name]  # mandatory parameters are checked while binding
        assert isinstance(value, str)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name, default)
        return value if isinstance(value, bool) else default

    def strings(self, name: str) -> list[str] | None:
        value = self.values.get(name)
        return [str(v) for v in value] if isinstance(value, list) else None

    def result_size(self) -> int | None:
        """None means Unlimited."""
        value = self.values.get("ResultSize", DEFAULT_RESULT_SIZE)
        return value if isinstance(value, int) else None


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32"
    return "System.String"


def _to_string(name: str, value: object, param: Param) -> str:
    if value is None:
        raise binding_error(f"Cannot bind argument to parameter '{name}' because it is null.")
    if isinstance(value, bool):
        text = "True" if value else "False"  # PowerShell's conversion of a Boolean
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        raise binding_error(
            f"Cannot convert '{_type_name(value)}' to the type 'System.String' required by "
            f"parameter '{name}'. Specified method is not supported."
        )
    if not text and not param.allow_empty:
        raise binding_error(
            f"Cannot bind argument to parameter '{name}' because it is an empty string."
        )
    return text


def _to_enum(name: str, value: object, param: Param) -> str:
    text = _to_string(name, value, param)
    for choice in param.choices:
        if choice.lower() == text.strip().lower():
            return choice
    raise binding_error(
        f"Cannot bind parameter '{name}'. Cannot convert value \"{text}\" to type "
        f'"{param.enum_type}". Error: "Unable to match the identifier name {text} to a valid '
        f"enumerator name. Specify one of the following enumerator names and try again: "
        f'{", ".join(param.choices)}"'
    )


def _convert(name: str, value: object, param: Param) -> object:
    kind = param.kind
    if kind in ("switch", "bool"):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise binding_error(
            f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
            f'"{_type_name(value)}" to type "System.Management.Automation.SwitchParameter". '
            "Boolean parameters accept only Boolean values and numbers, such as $True, $False, "
            "1 or 0."
        )
    if kind == "string":
        if isinstance(value, list):
            raise binding_error(
                f"Cannot convert '{_type_name(value)}' to the type 'System.String' required by "
                f"parameter '{name}'. Specified method is not supported."
            )
        return _to_string(name, value, param)
    if kind == "enum":
        return _to_enum(name, value, param)
    if kind in ("strings", "enums"):
        items = value if isinstance(value, list) else [value]
        if kind == "enums":
            return [_to_enum(name, item, param) for item in items]
        return [_to_string(name, item, param) for item in items]
    return _to_result_size(name, value)


def _to_result_size(name: str, value: object) -> int | None:
    if isinstance(value, str) and value.strip().lower() == "unlimited":
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        raise binding_error(
            f"Cannot bind parameter '{name}'. Cannot convert value \"{value}\" to type "
            '"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]". Error: "Input string was not '
            'in a correct format."'
        )
    if number < 1:
        raise binding_error(
            f"Cannot validate argument on parameter '{name}'. The {number} argument is less than "
            "the minimum allowed range of 1. Supply an argument that is greater than or equal "
            "to 1 and then try the command again."
        )
    return number


@dataclass(frozen=True)
class CmdletSpec:
    name: str
    params: dict[str, Param]
    handler: Callable[[Tenant, Bound], CmdletResult]
    # Names that belong to different parameter sets and so cannot be combined.
    exclusive: tuple[str, ...] = ()


def bind(spec: CmdletSpec, parameters: dict[str, Any]) -> Bound:
    by_lower = {p.lower(): p for p in spec.params}
    bound = Bound()
    for raw_name, value in parameters.items():
        if "@" in raw_name:
            continue  # "Members@odata.type" and the like are annotations, not parameters
        if raw_name.lower() in COMMON_PARAMETERS:
            continue
        name = by_lower.get(raw_name.lower())
        if name is None:
            raise binding_error(
                f"A parameter cannot be found that matches parameter name '{raw_name}'."
            )
        bound.values[name] = _convert(name, value, spec.params[name])
    missing = [n for n, p in spec.params.items() if p.mandatory and n not in bound.values]
    if missing:
        raise binding_error(
            "Cannot process command because of one or more missing mandatory parameters: "
            f"{' '.join(missing)}."
        )
    if sum(1 for n in spec.exclusive if n in bound.values) > 1:
        raise binding_error(
            "Parameter set cannot be resolved using the specified named parameters. One or more "
            "parameters issued cannot be used together or an insufficient number of parameters "
            "were provided."
        )
    return bound


# --- identity resolution -------------------------------------------------------------------

Accept = Callable[[Recipient], bool]


def is_distribution_group(r: Recipient) -> bool:
    return isinstance(r, Group) and r.is_distribution_group


def _wildcard_matches(t: Tenant, identity: str, accept: Accept) -> list[Recipient]:
    # Get-* cmdlets accept wildcards in Identity; such a value may name several objects.
    pattern = opath.wildcard_pattern(identity.strip())
    return [
        r
        for r in t.recipients()
        if accept(r)
        and any(
            pattern.fullmatch(v) for v in (r.name, r.alias, r.display_name, r.primary_smtp) if v
        )
    ]


def matching(t: Tenant, identity: str, accept: Accept) -> list[Recipient]:
    if "*" in identity:
        return _wildcard_matches(t, identity, accept)
    return [r for r in t.find(identity) if accept(r)]


def resolve_one(t: Tenant, identity: str, accept: Accept, *, parameter: str) -> Recipient:
    found = matching(t, identity, accept)
    if not found:
        raise not_found(t, identity) if parameter == "Identity" else object_not_found(identity)
    if len(found) > 1:
        raise ambiguous(identity)
    return found[0]


def resolve_group(t: Tenant, identity: str) -> Group:
    """The distribution group, security group or room list an Identity value names."""
    group = resolve_one(t, identity, is_distribution_group, parameter="Identity")
    assert isinstance(group, Group)
    return group


# --- objects -------------------------------------------------------------------------------

COLLECTION: Final = "#Collection(String)"


def _date(value: datetime, *, utc_suffix: bool = False) -> str:
    # .NET's round-trip format: seven fractional digits, then the offset (or Z for *UTC).
    value = value.astimezone(UTC)
    text = f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}0"
    return text + ("Z" if utc_suffix else "+00:00")


def _identity_fields(t: Tenant, r: Recipient, dn: str | None = None) -> dict[str, Any]:
    return {
        "Identity": r.name,
        "Id": r.name,
        "Name": r.name,
        "DistinguishedName": t.distinguished_name(r) if dn is None else dn,
        "Guid@data.type": "System.Guid",
        "Guid@odata.type": "#Guid",
        "Guid": r.guid,
        "ExchangeObjectId@data.type": "System.Guid",
        "ExchangeObjectId@odata.type": "#Guid",
        "ExchangeObjectId": r.guid,
        "ExternalDirectoryObjectId": r.external_id,
        "RecipientType": r.recipient_type,
        "RecipientTypeDetails": r.recipient_type_details,
        "IsDirSynced": r.is_dir_synced,
        "OrganizationalUnit": (
            f"EURPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/"
            f"{t.initial_domain}"
        ),
        "OrganizationId": f"EURPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/"
        f"{t.initial_domain} - EURPR01A001.PROD.OUTLOOK.COM/ConfigurationUnits/"
        f"{t.initial_domain}/Configuration",
        "WhenCreated@data.type": "System.DateTime",
        "WhenCreated": _date(r.when_created),
        "WhenCreatedUTC@data.type": "System.DateTime",
        "WhenCreatedUTC": _date(r.when_created, utc_suffix=True),
        "WhenChanged@data.type": "System.DateTime",
        "WhenChanged": _date(r.when_changed),
        "WhenChangedUTC@data.type": "System.DateTime",
        "WhenChangedUTC": _date(r.when_changed, utc_suffix=True),
        "IsValid": True,
        "ObjectState": "Unchanged",
    }


def _mail_fields(r: Recipient) -> dict[str, Any]:
    return {
        "DisplayName": r.display_name,
        "Alias": r.alias,
        "PrimarySmtpAddress": r.primary_smtp,
        "EmailAddresses@odata.type": COLLECTION,
        "EmailAddresses": list(r.email_addresses),
        "HiddenFromAddressListsEnabled": r.hidden,
    }


def _display_with_address(r: Recipient) -> str:
    return f"{r.display_name} <{r.primary_smtp}>" if r.primary_smtp else r.display_name


def group_object(
    t: Tenant, g: Group, *, with_display_names: bool = False, dn: str | None = None
) -> dict[str, Any]:
    obj = _identity_fields(t, g, dn)
    obj.update(_mail_fields(g))
    obj.update(
        {
            "GroupType": g.group_type,
            "ManagedBy@odata.type": COLLECTION,
            "ManagedBy": [owner.name for owner in g.managed_by],
            "MemberJoinRestriction": g.member_join_restriction,
            "MemberDepartRestriction": g.member_depart_restriction,
            "HiddenGroupMembershipEnabled": g.hidden_group_membership,
            "RequireSenderAuthenticationEnabled": g.require_sender_authentication,
            "Description@odata.type": COLLECTION,
            "Description": list(g.description),
            "BypassNestedModerationEnabled": False,
            "ModerationEnabled": False,
            "ReportToManagerEnabled": False,
            "ReportToOriginatorEnabled": True,
            "SendOofMessageToOriginatorEnabled": False,
        }
    )
    if with_display_names:
        obj["ManagedByWithDisplayNames@odata.type"] = COLLECTION
        obj["ManagedByWithDisplayNames"] = [_display_with_address(o) for o in g.managed_by]
    return obj


def recipient_object(t: Tenant, r: Recipient) -> dict[str, Any]:
    """The reduced recipient Get-Recipient and Get-DistributionGroupMember return."""
    obj = _identity_fields(t, r)
    obj.update(_mail_fields(r))
    user = r if isinstance(r, User) else None
    obj.update(
        {
            "ExternalEmailAddress": r.external_email or None,
            "FirstName": user.first_name if user else "",
            "LastName": user.last_name if user else "",
            "Department": user.department if user else "",
            "Title": user.title if user else "",
            "Manager": user.manager.name if user and user.manager else None,
            "WindowsLiveID": user.upn if user else "",
            "UserPrincipalName": user.upn if user else "",
        }
    )
    if isinstance(r, Group):
        obj["ManagedBy@odata.type"] = COLLECTION
        obj["ManagedBy"] = [owner.name for owner in r.managed_by]
    return obj


def user_object(t: Tenant, u: User) -> dict[str, Any]:
    obj = _identity_fields(t, u)
    obj.update(
        {
            "DisplayName": u.display_name,
            "FirstName": u.first_name,
            "LastName": u.last_name,
            "UserPrincipalName": u.upn,
            "WindowsLiveID": u.upn,
            "MicrosoftOnlineServicesID": u.upn,
            "WindowsEmailAddress": u.primary_smtp,
            "AccountDisabled": u.account_disabled,
            "Manager": u.manager.name if u.manager else None,
            "Department": u.department,
            "Title": u.title,
        }
    )
    return obj


# --- filters -------------------------------------------------------------------------------

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
# -eq on these is answered from an index instead of a scan (see _candidates).
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


def _candidates(t: Tenant, node: opath.Node) -> list[Recipient] | None:
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
            found = _candidates(t, operand)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best
    if isinstance(node, opath.Or):
        union: dict[str, Recipient] = {}
        for operand in node.operands:
            found = _candidates(t, operand)
            if found is None:
                return None
            union.update((r.guid, r) for r in found)
        return list(union.values())
    return None


# --- selection shared by the Get-* cmdlets ---------------------------------------------------


def _anr_match(r: Recipient, prefix: str) -> bool:
    values = [r.name, r.display_name, r.alias, *r.smtp_addresses()]
    if isinstance(r, User):
        values += [r.first_name, r.last_name]
    return any(v.lower().startswith(prefix) for v in values if v)


def select(t: Tenant, b: Bound, accept: Accept, filterable: Sequence[str]) -> list[Recipient]:
    """Identity | Anr | everything, narrowed by Filter; in creation order."""
    compiled = None
    filter_text = b.string("Filter")
    if filter_text is not None:
        compiled = compile_filter(t, filter_text, filterable)
    identity, anr = b.string("Identity"), b.string("Anr")
    rows: Iterable[Recipient]
    if identity is not None:
        found = matching(t, identity, accept)
        if not found:
            raise not_found(t, identity)
        if len(found) > 1 and "*" not in identity:
            raise ambiguous(identity)
        rows = found
    elif anr is not None:
        prefix = anr.strip().lower()
        rows = [r for r in t.recipients() if accept(r) and _anr_match(r, prefix)]
    else:
        candidates = _candidates(t, compiled.node) if compiled else None
        rows = t.recipients() if candidates is None else sorted(candidates, key=lambda r: r.seq)
        rows = [r for r in rows if accept(r)]
    if compiled is not None:
        rows = [r for r in rows if compiled.predicate(r)]
    return _sorted(list(rows), b.string("SortBy"))


SORTABLE: Final[dict[str, Callable[[Recipient], str]]] = {
    "name": lambda r: r.name.lower(),
    "displayname": lambda r: r.display_name.lower(),
    "alias": lambda r: r.alias.lower(),
    "firstname": lambda r: r.first_name.lower() if isinstance(r, User) else "",
    "lastname": lambda r: r.last_name.lower() if isinstance(r, User) else "",
}


def _sorted(rows: list[Recipient], sort_by: str | None) -> list[Recipient]:
    if sort_by is None:
        return rows
    descending = sort_by.startswith("-")
    key = SORTABLE.get(sort_by.lstrip("+-").lower())
    if key is None:
        raise binding_error(
            f'The SortBy property "{sort_by}" isn\'t valid. Valid values are: Name, DisplayName, '
            "Alias, FirstName, LastName."
        )
    return sorted(rows, key=key, reverse=descending)


def limit(rows: list[Any], b: Bound) -> tuple[list[Any], list[str]]:
    """Apply ResultSize; a cut-short list carries the warning Exchange adds."""
    size = b.result_size()
    if size is None or len(rows) <= size:
        return rows, []
    warning = EXPLICIT_SIZE_WARNING if b.has("ResultSize") else DEFAULT_SIZE_WARNING
    return rows[:size], [warning.format(n=size)]


def _recipient_types(b: Bound) -> Accept:
    wanted = b.strings("RecipientTypeDetails")
    if wanted is None:
        return lambda r: True
    chosen = set(wanted)
    return lambda r: r.recipient_type_details in chosen


# --- the read cmdlets ----------------------------------------------------------------------


def get_distribution_group(t: Tenant, b: Bound) -> CmdletResult:
    of_type = _recipient_types(b)
    rows = select(t, b, lambda r: is_distribution_group(r) and of_type(r), GROUP_FILTERABLE)
    rows, warnings = limit(rows, b)
    with_names = b.flag("IncludeManagedByWithDisplayNames")
    return CmdletResult(
        [group_object(t, g, with_display_names=with_names) for g in rows if isinstance(g, Group)],
        warnings,
    )


def get_distribution_group_member(t: Tenant, b: Bound) -> CmdletResult:
    group = resolve_group(t, b.required("Identity"))
    members, warnings = limit(list(group.members.values()), b)
    return CmdletResult([recipient_object(t, m) for m in members], warnings)


def get_recipient(t: Tenant, b: Bound) -> CmdletResult:
    wanted = b.strings("RecipientTypeDetails")
    of_type = _recipient_types(b)

    def accept(r: Recipient) -> bool:
        # Users without a mailbox are not recipients unless asked for by type.
        if not r.mail_enabled and (wanted is None or "User" not in wanted):
            return False
        return of_type(r)

    rows, warnings = limit(select(t, b, accept, RECIPIENT_FILTERABLE), b)
    return CmdletResult([recipient_object(t, r) for r in rows], warnings)


def get_user(t: Tenant, b: Bound) -> CmdletResult:
    of_type = _recipient_types(b)
    rows = select(t, b, lambda r: isinstance(r, User) and of_type(r), USER_FILTERABLE)
    rows, warnings = limit(rows, b)
    return CmdletResult([user_object(t, u) for u in rows if isinstance(u, User)], warnings)


def get_accepted_domain(t: Tenant, b: Bound) -> CmdletResult:
    domains = t.accepted_domains
    identity = b.string("Identity")
    if identity is not None:
        domains = [d for d in domains if d.name.lower() == identity.strip().lower()]
        if not domains:
            raise not_found(t, identity)
    return CmdletResult(
        [
            {
                "Identity": d.name,
                "Id": d.name,
                "Name": d.name,
                "DomainName": d.name,
                "Default": d.default,
                "DomainType": "Authoritative",
                "InitialDomain": d.initial,
                "MatchSubDomains": False,
                "Guid@data.type": "System.Guid",
                "Guid@odata.type": "#Guid",
                "Guid": d.guid,
                "IsValid": True,
            }
            for d in domains
        ]
    )


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


# --- the cmdlet table ----------------------------------------------------------------------

_RESTRICTIONS: Final = ("Open", "Closed", "ApprovalRequired")
_TEXT = Param("string")
_SWITCH = Param("switch")
_GET: Final[dict[str, Param]] = {
    "Identity": _TEXT,
    "Anr": _TEXT,
    "Filter": _TEXT,
    "ResultSize": Param("result_size"),
    "SortBy": _TEXT,
    "DomainController": _TEXT,
    "IgnoreDefaultScope": _SWITCH,
    "ReadFromDomainController": _SWITCH,
}
_TYPE_DETAILS = Param(
    "enums",
    enum_type="Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails",
    choices=RECIPIENT_TYPE_DETAILS,
)
_MEMBERSHIP: Final[dict[str, Param]] = {
    "Identity": Param("string", mandatory=True),
    "Member": Param("string", mandatory=True),
    "BypassSecurityGroupManagerCheck": _SWITCH,
    "Confirm": _SWITCH,
    "WhatIf": _SWITCH,
    "DomainController": _TEXT,
}

CMDLETS: Final[dict[str, CmdletSpec]] = {
    spec.name.lower(): spec
    for spec in (
        CmdletSpec(
            "Get-DistributionGroup",
            {
                **_GET,
                "RecipientTypeDetails": _TYPE_DETAILS,
                "IncludeManagedByWithDisplayNames": _SWITCH,
            },
            get_distribution_group,
            exclusive=("Identity", "Anr"),
        ),
        CmdletSpec(
            "Get-DistributionGroupMember",
            {
                "Identity": Param("string", mandatory=True),
                "ResultSize": Param("result_size"),
                "DomainController": _TEXT,
                "IgnoreDefaultScope": _SWITCH,
                "ReadFromDomainController": _SWITCH,
            },
            get_distribution_group_member,
        ),
        CmdletSpec(
            "Get-Recipient",
            {**_GET, "RecipientTypeDetails": _TYPE_DETAILS},
            get_recipient,
            exclusive=("Identity", "Anr"),
        ),
        CmdletSpec(
            "Get-User",
            {**_GET, "RecipientTypeDetails": _TYPE_DETAILS},
            get_user,
            exclusive=("Identity", "Anr"),
        ),
        CmdletSpec(
            "Get-AcceptedDomain",
            {"Identity": _TEXT, "ResultSize": Param("result_size"), "DomainController": _TEXT},
            get_accepted_domain,
        ),
        CmdletSpec("Add-DistributionGroupMember", _MEMBERSHIP, add_distribution_group_member),
        CmdletSpec("Remove-DistributionGroupMember", _MEMBERSHIP, remove_distribution_group_member),
        CmdletSpec(
            "New-DistributionGroup",
            {
                "Name": Param("string", mandatory=True),
                "Alias": _TEXT,
                "DisplayName": _TEXT,
                "PrimarySmtpAddress": _TEXT,
                "Type": Param(
                    "enum",
                    enum_type="Microsoft.Exchange.Management.RecipientTasks.GroupType",
                    choices=("Distribution", "Security"),
                ),
                "ManagedBy": Param("strings"),
                "Members": Param("strings"),
                "MemberJoinRestriction": Param(
                    "enum",
                    enum_type="Microsoft.Exchange.Data.Directory.Recipient.MemberUpdateType",
                    choices=_RESTRICTIONS,
                ),
                "MemberDepartRestriction": Param(
                    "enum",
                    enum_type="Microsoft.Exchange.Data.Directory.Recipient.MemberUpdateType",
                    choices=_RESTRICTIONS,
                ),
                "RequireSenderAuthenticationEnabled": Param("bool"),
                "Notes": Param("string", allow_empty=True),
                "Description": Param("strings", allow_empty=True),
                "IgnoreNamingPolicy": _SWITCH,
                "RoomList": _SWITCH,
                "CopyOwnerToMember": _SWITCH,
                "Confirm": _SWITCH,
                "WhatIf": _SWITCH,
                "DomainController": _TEXT,
            },
            new_distribution_group,
        ),
    )
}


def _rbac_denied(message: str) -> CmdletError:
    # 403 bodies can be empty in the real service; the reason then only travels in this header.
    diagnostics = f'2000008;reason="{message}";error_category="insufficient_privileges"'
    return CmdletError(403, "", message, headers={"x-ms-diagnostics": diagnostics})


def run_cmdlet(t: Tenant, cmdlet: str, parameters: dict[str, Any], *, app_id: str) -> CmdletResult:
    spec = CMDLETS.get(cmdlet.strip().lower())
    if spec is None:
        raise fail(
            400,
            "System.Management.Automation.CommandNotFoundException",
            f"The term '{cmdlet}' is not recognized as a name of a cmdlet, function, script file, "
            "or executable program. Check the spelling of the name, or if a path was included, "
            "verify that the path is correct and try again.",
        )
    app = t.apps.get(app_id) or next(
        (a for key, a in t.apps.items() if key.lower() == app_id.lower()), None
    )
    if app is None:
        raise _rbac_denied(
            f"The role assigned to application {app_id} isn't supported in this scenario."
        )
    if not app.allows(spec.name):
        raise _rbac_denied(f"User is not allowed to call {spec.name}")
    if not isinstance(parameters, dict):
        raise binding_error("Cannot bind parameters: Parameters must be a JSON object.")
    return spec.handler(t, bind(spec, parameters))
