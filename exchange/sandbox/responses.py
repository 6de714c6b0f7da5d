"""The shapes of the sandbox's HTTP answers: JSON with OData's content type, Exchange's error
envelope in both detail formats, OData's own bad-request error, the 401 challenge, status names.

Contract section 3 fixes these bodies byte for byte; they are built here from plain values so
InvokeCommand, the error middleware and the control endpoints answer alike. Which detail format
an error gets (the "alternate" setting) is the caller's choice, not this module's.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import web

from .entra_protocol import EXCHANGE_APP_ID

_ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)
_NOT_FOUND_TYPE = "ManagementObjectNotFoundException"
_ODATA_SERVICE_EXCEPTION = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
# What Exchange Online sends with every 401: who to get a token from, and for which resource.
_WWW_AUTHENTICATE = (
    f'Bearer client_id="{EXCHANGE_APP_ID}", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'
)
# .NET HttpStatusCode names where they differ from Python's phrase without spaces.
_DOTNET_STATUS_NAMES = {413: "RequestEntityTooLarge", 414: "RequestUriTooLong"}


def status_name(status: int) -> str:
    """The HTTP status NAME Exchange puts in error.code ("BadRequest", "NotFound", ...)."""
    if status in _DOTNET_STATUS_NAMES:
        return _DOTNET_STATUS_NAMES[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return str(status)
    return "".join(part for part in phrase.replace("-", " ").split())


@dataclass(frozen=True)
class ExchangeError:
    """What an error body is built from: a CmdletError, or an injected server fault."""

    status: int
    exception_type: str
    message: str
    error_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")  # non-ASCII stays as is
    response = web.Response(body=payload, status=status, headers=headers)
    response.headers["Content-Type"] = _ODATA_JSON
    return response


def exchange_error_response(
    error: ExchangeError, *, detail_format: Literal["pipe", "json"], not_found_status: int
) -> web.Response:
    """Exchange's "Error executing cmdlet" envelope, the detail in the format asked for."""
    status = error.status
    if error.exception_type.endswith(_NOT_FOUND_TYPE):
        status = not_found_status  # the same failure is seen as 404 AND 400
    if detail_format == "pipe":
        detail = f"{error.error_id}|{error.exception_type}|{error.message}"
    else:
        detail = json.dumps(
            {
                "Message": error.message,
                "TypeName": error.exception_type,
                "StackTrace": None,
                "InnerError": None,
            },
            ensure_ascii=False,
        )
    body = {
        "error": {
            "code": status_name(status),
            "message": "Error executing cmdlet",
            "details": [
                {
                    "code": "Client" if status < 500 else "Server",
                    "target": "",
                    "message": detail,
                }
            ],
            "innererror": {
                "message": "Error executing cmdlet",
                "type": _ODATA_SERVICE_EXCEPTION,
                "stacktrace": "",
                "internalexception": {
                    "message": error.message,
                    "type": error.exception_type,
                    "stacktrace": "",
                },
            },
        },
        "@adminapi.warnings": [],
    }
    headers = {"request-id": str(uuid.uuid4()), **error.headers}
    return json_response(body, status, headers)


def bad_request(message: str) -> web.Response:
    # A malformed request fails before any cmdlet runs: OData's own error, no details.
    body = {
        "error": {
            "code": "BadRequest",
            "message": message,
            "innererror": {
                "message": message,
                "type": "Microsoft.OData.ODataException",
                "stacktrace": "",
            },
        },
        "@adminapi.warnings": [],
    }
    return json_response(body, 400, {"request-id": str(uuid.uuid4())})


def unauthorized(reason: str, *, present: bool) -> web.Response:
    challenge = _WWW_AUTHENTICATE + (', error="invalid_token"' if present else "")
    diagnostics = f'2000001;reason="{reason}";error_category="invalid_token"'
    return web.Response(
        status=401,
        headers={
            "WWW-Authenticate": challenge,
            "x-ms-diagnostics": diagnostics,
            "request-id": str(uuid.uuid4()),
        },
    )
