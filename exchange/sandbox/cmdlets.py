"""The cmdlets dlbot calls, answering as Exchange Online's InvokeCommand does.

run_cmdlet (reached through Tenant.execute) checks RBAC, binds parameters with PowerShell's
rules and error texts, then runs one of the handlers in the table below. This module owns that
dispatch: which cmdlets exist, the parameters each declares, and who may call them. The rest
lives in one module per concern:

    cmdlet_errors.py   .NET exception types and the error texts shared by everything below
    parameters.py      parameter binding (Param, Bound, CmdletSpec, bind)
    identity.py        what an Identity / Member / ManagedBy value names
    filters.py         -Filter over recipients, answered from the tenant's indexes where it can
    objects.py         recipients as PascalCase objects with the OData annotations Exchange sends
    cmdlets_read.py    the Get-* cmdlets and the selection they share (Anr, SortBy, ResultSize)
    cmdlets_write.py   Add-/Remove-DistributionGroupMember, New-DistributionGroup

The names those modules define are re-exported here, where they used to live.
"""

from __future__ import annotations

from typing import Any, Final

from exchange.sandbox.cmdlet_errors import (
    ADDRESS_TAKEN,
    ALREADY_MEMBER,
    AMBIGUOUS,
    BINDING,
    NAME_TAKEN,
    NOT_FOUND,
    NOT_MANAGER,
    NOT_MEMBER,
    VALIDATION,
    ambiguous,
    binding_error,
    fail,
    not_found,
    object_not_found,
)
from exchange.sandbox.cmdlet_outcome import CmdletError, CmdletResult
from exchange.sandbox.cmdlets_read import (
    DEFAULT_SIZE_WARNING,
    EXPLICIT_SIZE_WARNING,
    SORTABLE,
    get_accepted_domain,
    get_distribution_group,
    get_distribution_group_member,
    get_recipient,
    get_user,
    limit,
    select,
)
from exchange.sandbox.cmdlets_write import (
    MAX_NEW_GROUP_MEMBERS,
    add_distribution_group_member,
    new_distribution_group,
    remove_distribution_group_member,
)
from exchange.sandbox.filters import (
    DN_PROPERTIES,
    GETTERS,
    GROUP_FILTERABLE,
    INDEXED,
    RECIPIENT_FILTERABLE,
    USER_FILTERABLE,
    CompiledFilter,
    Getter,
    compile_filter,
)
from exchange.sandbox.identity import (
    Accept,
    is_distribution_group,
    matching,
    resolve_group,
    resolve_one,
)
from exchange.sandbox.objects import COLLECTION, group_object, recipient_object, user_object
from exchange.sandbox.parameters import (
    COMMON_PARAMETERS,
    DEFAULT_RESULT_SIZE,
    Bound,
    CmdletSpec,
    Param,
    ParamKind,
    bind,
)
from exchange.sandbox.tenant import Tenant

__all__ = [
    # cmdlet_errors.py
    "ADDRESS_TAKEN",
    "ALREADY_MEMBER",
    "AMBIGUOUS",
    "BINDING",
    "NAME_TAKEN",
    "NOT_FOUND",
    "NOT_MANAGER",
    "NOT_MEMBER",
    "VALIDATION",
    "ambiguous",
    "binding_error",
    "fail",
    "not_found",
    "object_not_found",
    # parameters.py
    "COMMON_PARAMETERS",
    "DEFAULT_RESULT_SIZE",
    "Bound",
    "CmdletSpec",
    "Param",
    "ParamKind",
    "bind",
    # identity.py
    "Accept",
    "is_distribution_group",
    "matching",
    "resolve_group",
    "resolve_one",
    # objects.py
    "COLLECTION",
    "group_object",
    "recipient_object",
    "user_object",
    # filters.py
    "DN_PROPERTIES",
    "GETTERS",
    "GROUP_FILTERABLE",
    "INDEXED",
    "RECIPIENT_FILTERABLE",
    "USER_FILTERABLE",
    "CompiledFilter",
    "Getter",
    "compile_filter",
    # cmdlets_read.py
    "DEFAULT_SIZE_WARNING",
    "EXPLICIT_SIZE_WARNING",
    "SORTABLE",
    "get_accepted_domain",
    "get_distribution_group",
    "get_distribution_group_member",
    "get_recipient",
    "get_user",
    "limit",
    "select",
    # cmdlets_write.py
    "MAX_NEW_GROUP_MEMBERS",
    "add_distribution_group_member",
    "new_distribution_group",
    "remove_distribution_group_member",
    # this module
    "CMDLETS",
    "RECIPIENT_TYPE_DETAILS",
    "run_cmdlet",
]

RECIPIENT_TYPE_DETAILS: Final = (
    "UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox", "MailUser",
    "GuestMailUser", "MailContact", "User", "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup", "MailNonUniversalGroup", "RoomList",
    "DynamicDistributionGroup", "GroupMailbox",
)  # fmt: skip


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
