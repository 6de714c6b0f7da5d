"""The failures cmdlets report: .NET exception type names and the error texts around them.

Binding, identity resolution and the cmdlets themselves all raise these, so they live apart from
each of them. fail() gives every CmdletError the short ErrorId Exchange puts before pipe-format
messages (none for System.* exceptions).
"""

from __future__ import annotations

import hashlib
from typing import Final

from exchange.sandbox.cmdlet_outcome import CmdletError
from exchange.sandbox.tenant import Tenant

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
