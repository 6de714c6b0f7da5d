"""What can go wrong when talking to Exchange Online, as a small tree of meaningful errors.

    ExchangeError                      every failure below carries cmdlet, status, request id
    ├── ExchangeConfigError            the client is not configured well enough to try
    ├── ExchangeAuthError              Entra ID refused a token (secret, certificate, tenant)
    ├── ExchangePermissionError        the token works, but the app's role does not grant the cmdlet
    ├── ExchangeUnavailable            throttled, 5xx or the network, and retries are used up
    ├── ExchangeProtocolError          an answer that is not the contract (not JSON, wrong shape)
    └── CmdletError                    Exchange ran the cmdlet and it failed (see exception_type)
        ├── ObjectNotFound             the group or recipient named does not exist
        ├── AmbiguousIdentity          the identity matches several objects
        ├── MemberAlreadyExists        Add-DistributionGroupMember: the goal is already met
        ├── MemberNotFound             Remove-DistributionGroupMember: not a member
        ├── NameInUse                  New-DistributionGroup: the name is taken
        ├── AddressInUse               New-DistributionGroup: the address is taken by a recipient
        ├── NotGroupManager            the app is not a manager and did not bypass the check
        ├── DirSyncedObject            the object is mastered on-premises; every write fails
        └── InvalidParameter           Exchange refused a parameter value or name

Exchange answers the same failure with different HTTP statuses (404 and 400 for "not found"), so
failures are classified by the exception type and message in the error details, never by status.
"""

from __future__ import annotations

import json
import re
from typing import Any


class ExchangeError(Exception):
    """Base of every failure of the Exchange client."""

    def __init__(
        self,
        message: str,
        *,
        cmdlet: str = "",
        status: int | None = None,
        exception_type: str = "",
        error_id: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.cmdlet = cmdlet
        self.status = status
        self.exception_type = exception_type
        self.error_id = error_id
        self.request_id = request_id

    def __str__(self) -> str:
        where = f"{self.cmdlet}: " if self.cmdlet else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{where}{self.message}{status}"


class ExchangeConfigError(ExchangeError):
    """The settings are missing or contradictory; nothing was sent."""


class ExchangeAuthError(ExchangeError):
    """Entra ID refused the client credentials; `code` is the AADSTS code when one was given."""

    def __init__(self, message: str, *, code: str = "", error: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.error = error


class ExchangePermissionError(ExchangeError):
    """The app's Exchange role does not allow this cmdlet (401/403 after a fresh token)."""


class ExchangeUnavailable(ExchangeError):
    """Exchange stayed throttled, overloaded or unreachable through every retry."""


class ExchangeProtocolError(ExchangeError):
    """The response does not follow the contract (not JSON, no value array, foreign next link)."""


class CmdletError(ExchangeError):
    """Exchange ran the cmdlet and it failed; `exception_type` names the Exchange exception."""


class ObjectNotFound(CmdletError):
    pass


class AmbiguousIdentity(CmdletError):
    pass


class MemberAlreadyExists(CmdletError):
    pass


class MemberNotFound(CmdletError):
    pass


class NameInUse(CmdletError):
    pass


class AddressInUse(CmdletError):
    pass


class NotGroupManager(CmdletError):
    pass


class DirSyncedObject(CmdletError):
    pass


class InvalidParameter(CmdletError):
    pass


# Exception exceptions that mean "try again later" on a 500 (the module retries exactly these).
TRANSIENT_EXCEPTIONS = (
    "ADTransientException",
    "DCOverloadedException",
    "ServerInMMException",
    "StorageTransientException",
)

# Order matters: the first rule whose type suffix or message pattern matches wins. Types are
# matched by their last dotted segment because namespaces differ between Exchange builds.
_RULES: tuple[tuple[type[ExchangeError], tuple[str, ...], re.Pattern[str] | None], ...] = (
    (
        ExchangePermissionError,
        (),
        re.compile(r"is not allowed to call|isn't supported in this scenario|access ?denied", re.I),
    ),
    (
        ObjectNotFound,
        ("ManagementObjectNotFoundException",),
        re.compile(r"couldn't be found on|Couldn't find object", re.I),
    ),
    (
        AmbiguousIdentity,
        ("ManagementObjectAmbiguousException",),
        re.compile(r"matches multiple entries", re.I),
    ),
    (
        MemberAlreadyExists,
        ("MemberAlreadyExistsException",),
        re.compile(r"is already a member of the group", re.I),
    ),
    (
        MemberNotFound,
        ("MemberNotFoundException",),
        re.compile(r"isn't a member of the group", re.I),
    ),
    (
        AddressInUse,
        ("WLCDManagedMemberExistsException", "ProxyAddressExistsException"),
        re.compile(r"proxy address .* is already being used", re.I),
    ),
    (NameInUse, ("ADObjectAlreadyExistsException",), re.compile(r"already exists", re.I)),
    (
        NotGroupManager,
        ("OperationRequiresGroupManagerException",),
        re.compile(r"can only be performed by a manager of the group", re.I),
    ),
    (
        DirSyncedObject,
        (),
        re.compile(r"being synchroni[sz]ed from your on-premises organi[sz]ation", re.I),
    ),
    (
        InvalidParameter,
        ("ParameterBindingException", "ArgumentException", "DataValidationException"),
        re.compile(r"A parameter cannot be found that matches|Cannot bind parameter", re.I),
    ),
)


def classify(exception_type: str, message: str) -> type[ExchangeError]:
    """The error class for an Exchange exception type and message; CmdletError when unknown."""
    short_type = exception_type.rsplit(".", 1)[-1]
    for error_class, type_names, pattern in _RULES:
        if short_type and short_type in type_names:
            return error_class
        if pattern is not None and pattern.search(message):
            return error_class
    return CmdletError


def is_transient(exception_type: str, message: str) -> bool:
    """True when a 500 names one of the exceptions Exchange itself treats as passing."""
    text = f"{exception_type} {message}"
    return any(name in text for name in TRANSIENT_EXCEPTIONS)


def parse_detail(detail_message: str) -> tuple[str, str, str]:
    """Split a details[0].message into (error id, exception type, message).

    Exchange uses two formats: pipe text "<ErrorId>|<ExceptionType>|<Message>" (the message itself
    may contain pipes) and a JSON string {"Message", "TypeName", ...}. Anything else is a message.
    """
    text = detail_message.strip()
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            message = decoded.get("Message")
            type_name = decoded.get("TypeName")
            return (
                "",
                type_name if isinstance(type_name, str) else "",
                message if isinstance(message, str) else text,
            )
    pipe = _PIPE_DETAIL.fullmatch(text)
    if pipe is not None:
        return pipe.group(1), pipe.group(2), pipe.group(3)
    return "", "", text


# "<ErrorId>|<ExceptionType>|<Message>": the id and the type may each be empty (RBAC denials come
# as "||User is not allowed to call ..."); the message keeps any pipes of its own.
_PIPE_DETAIL = re.compile(r"([A-Za-z0-9]*)\|((?:[A-Za-z_][\w.`+]*)?)\|(.*)", re.S)


def error_parts_from_body(body: Any) -> tuple[str, str, str]:
    """(error id, exception type, message) from a decoded error body, best effort."""
    if not isinstance(body, dict):
        return "", "", ""
    error = body.get("error")
    if not isinstance(error, dict):
        return "", "", ""
    details = error.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        detail_message = details[0].get("message")
        if isinstance(detail_message, str) and detail_message:
            return parse_detail(detail_message)
    inner = error.get("innererror")
    if isinstance(inner, dict) and isinstance(inner.get("message"), str):
        return parse_detail(inner["message"])
    message = error.get("message")
    return "", "", message if isinstance(message, str) else ""
