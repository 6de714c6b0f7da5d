"""POST /adminapi/beta/{tenant}/InvokeCommand: how the sandbox answers Exchange's one endpoint.

Per request: log it, check the bearer token, parse the CmdletInput body, apply an injected fault,
run the cmdlet on the tenant, then answer one page of the result ($skiptoken paging with an
absolute nextLink, Prefer: odata.maxpagesize, $select) or an error body. It keeps the state the
answers depend on: the rate-limit window, the error counter behind error_format "alternate", and
the results still being paged.

A result that spans pages is kept (bounded: PagedResults) under an id its $skiptoken carries, so
page 2..n are a slice of page 1's query rather than the query run again: on a 100,000-group
tenant a page of Get-DistributionGroup costs milliseconds instead of seconds. Like Exchange's own
cursor, later pages show the directory as it was when the first was asked for. A token whose
result was dropped (the bound, or a client that resumes long after) still works: the query runs
again and the offset applies to its fresh answer, as before.
What the cmdlets do lives behind Tenant.execute; the body shapes live in responses.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from aiohttp import web

from .cmdlet_outcome import CmdletError, CmdletResult
from .faults import EXECUTING_KINDS, Fault
from .responses import (
    ExchangeError,
    bad_request,
    exchange_error_response,
    json_response,
    unauthorized,
)
from .state import MAX_LOGGED_REQUESTS, MAX_PAGE_SIZE, LoggedRequest
from .tokens import InvalidAccessToken

if TYPE_CHECKING:
    from .server import SandboxServer

# The server's logger, as before this module was split from server.py: log settings name it.
log = logging.getLogger("exchange.sandbox.server")

INVOKE_PATH = "/adminapi/beta/{tenant}/InvokeCommand"
RATE_LIMIT = 30000
_RATE_WINDOW_SECONDS = 3600.0


class Drop(Exception):
    """Close the client's connection without answering (the 'drop' fault kinds)."""


@dataclass(frozen=True)
class _Paged:
    cmdlet: str
    parameters: str  # the body's Parameters as canonical JSON: the same body must come back
    objects: list[dict[str, Any]]
    warnings: list[str]


class PagedResults:
    """Results with pages still to be fetched, by result id, least recently paged dropped first.

    A result leaves when its last page is served; the bound only catches clients that stop
    paging halfway, so it is small (each entry can hold a whole tenant's groups).
    """

    def __init__(self, max_results: int = 8) -> None:
        self._max = max_results
        self._results: OrderedDict[str, _Paged] = OrderedDict()

    def __len__(self) -> int:
        return len(self._results)

    def keep(self, paged: _Paged) -> str:
        result_id = uuid.uuid4().hex
        self._results[result_id] = paged
        while len(self._results) > self._max:
            self._results.popitem(last=False)
        return result_id

    def find(self, result_id: str | None, cmdlet: str, parameters: str) -> _Paged | None:
        if result_id is None or result_id not in self._results:
            return None
        paged = self._results[result_id]
        if paged.cmdlet != cmdlet or paged.parameters != parameters:
            return None  # another body under an old token: answer that body, not the old one
        self._results.move_to_end(result_id)
        return paged

    def done(self, result_id: str) -> None:
        self._results.pop(result_id, None)


class InvokeCommand:
    """The InvokeCommand endpoint of one SandboxServer (its tenant, tokens, faults, settings)."""

    def __init__(self, server: SandboxServer) -> None:
        self.sb = server
        self._errors_answered = 0  # drives error_format "alternate"
        self._rate_window_start = time.time()
        self._rate_used = 0
        self.paged = PagedResults()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(INVOKE_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        entry = LoggedRequest(
            time=time.time(),
            url=str(request.url),
            cmdlet=None,
            parameters=None,
            client_request_id=request.headers.get("client-request-id"),
            anchor_mailbox=request.headers.get("X-AnchorMailbox"),
            prefer=request.headers.get("Prefer"),
            has_authorization="Authorization" in request.headers,
            peer=_peer(request),
            x_cmdlet_name=request.headers.get("X-CmdletName"),
            response_format=request.headers.get("X-ResponseFormat"),
        )
        self.sb.requests.append(entry)
        if len(self.sb.requests) > MAX_LOGGED_REQUESTS:  # a long-running demo must not grow forever
            del self.sb.requests[: len(self.sb.requests) - MAX_LOGGED_REQUESTS]
        try:
            response = await self._answer_invoke(request, entry)
            entry.status = response.status
            return response
        except Drop:
            entry.status = None
            raise
        except web.HTTPException as exc:  # e.g. 413 from an oversized body
            entry.status = exc.status
            raise
        except Exception:
            entry.status = 500  # the error middleware answers it
            raise
        finally:
            log.info(
                "InvokeCommand %s -> %s%s (client-request-id %s)",
                entry.cmdlet or entry.x_cmdlet_name or "?",
                entry.status if entry.status is not None else "connection dropped",
                f" [fault {entry.fault}]" if entry.fault else "",
                entry.client_request_id or "-",
            )

    async def _answer_invoke(self, request: web.Request, entry: LoggedRequest) -> web.Response:
        self._count_rate()
        try:
            claims = self.sb.tokens.validate(
                request.headers.get("Authorization"), request.match_info["tenant"]
            )
        except InvalidAccessToken as exc:
            return unauthorized(exc.reason, present=exc.present)
        entry.app_id = claims.app_id

        raw = await request.read()
        try:
            cmdlet, parameters = _parse_invoke_body(raw)
        except ValueError as exc:
            return bad_request(str(exc))
        entry.cmdlet, entry.parameters = cmdlet, parameters
        try:
            offset, result_id = _decode_skiptoken(request.query.get("$skiptoken"), cmdlet)
        except ValueError as exc:
            return bad_request(str(exc))
        page_size, prefer_applied = self._page_size(request.headers.get("Prefer"))

        fault = self.sb.faults.pick(cmdlet)
        if fault is not None:
            entry.fault = fault.kind
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.kind not in EXECUTING_KINDS:
                return self._fault_response(fault, claims.app_id)

        body_key = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
        kept = self.paged.find(result_id, cmdlet, body_key)
        try:
            if kept is not None:
                result = CmdletResult(kept.objects, kept.warnings)
            else:
                result = self.sb.tenant.execute(cmdlet, parameters, app_id=claims.app_id)
        except CmdletError as exc:
            error = ExchangeError(
                status=exc.status,
                exception_type=exc.exception_type,
                message=exc.message,
                error_id=exc.error_id,
                headers=dict(exc.headers),
            )
            response = self._error_response(error)
        else:
            if kept is None and offset + page_size < len(result.objects):
                result_id = self.paged.keep(
                    _Paged(cmdlet, body_key, result.objects, result.warnings)
                )
            elif kept is not None and result_id and offset + page_size >= len(kept.objects):
                self.paged.done(result_id)
            response = self._page_response(
                request, cmdlet, result.objects, result.warnings, offset, page_size, result_id
            )
            if prefer_applied:
                response.headers["Preference-Applied"] = prefer_applied
        if fault is not None and fault.kind == "drop_after_execute":
            raise Drop
        if fault is not None and fault.kind == "gzip_mislabelled":
            response.headers["Content-Encoding"] = "gzip"  # a lie: the body is plain JSON
        return response

    def _page_size(self, prefer: str | None) -> tuple[int, str | None]:
        """Page size from `Prefer: odata.maxpagesize=N` (capped at 1000), else the default."""
        for preference in (prefer or "").split(","):
            name, _, value = preference.strip().partition("=")
            if name.strip().lower() == "odata.maxpagesize":
                try:
                    size = int(value.strip().strip('"'))
                except ValueError:
                    break
                if size >= 1:
                    size = min(size, MAX_PAGE_SIZE)
                    return size, f"odata.maxpagesize={size}"
        return self.sb.settings.default_page_size, None

    def _page_response(
        self,
        request: web.Request,
        cmdlet: str,
        objects: list[dict[str, Any]],
        warnings: list[str],
        offset: int,
        page_size: int,
        result_id: str | None,
    ) -> web.Response:
        selected = _parse_select(request.query.get("$select"))
        page = objects[offset : offset + page_size]
        if selected is not None:
            page = [_select(obj, selected) for obj in page]
        tenant_segment = request.match_info["tenant"]
        body: dict[str, Any] = {
            "@odata.context": (
                f"{request.scheme}://{request.host}/adminapi/beta/{tenant_segment}"
                "/$metadata#Collection(Exchange.GenericHashTable)"
            ),
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": list(warnings),
            "value": page,
        }
        if offset + page_size < len(objects):
            token = _encode_skiptoken(offset + page_size, cmdlet, result_id)
            # Absolute, on the host the client used; the client POSTs the same body to it.
            body["@odata.nextLink"] = str(request.url.update_query({"$skiptoken": token}))
        return json_response(body, 200, self._common_headers(request))

    # --- errors and faults -------------------------------------------------------------------

    def _next_error_format(self) -> Literal["pipe", "json"]:
        chosen = self.sb.settings.error_format
        self._errors_answered += 1
        if chosen == "alternate":
            return "pipe" if self._errors_answered % 2 == 1 else "json"
        return chosen

    def _error_response(self, error: ExchangeError) -> web.Response:
        return exchange_error_response(
            error,
            detail_format=self._next_error_format(),
            not_found_status=self.sb.settings.not_found_status,
        )

    def _fault_response(self, fault: Fault, app_id: str) -> web.Response:
        kind = fault.kind
        if kind == "drop":
            raise Drop
        if kind == "throttle":
            return web.Response(
                status=429,
                text=(
                    "You have reached the maximum number of concurrent requests per tenant. "
                    "Please wait and try again"
                ),
                headers={"Retry-After": fault.retry_after},
            )
        if kind == "unavailable":
            return web.Response(
                status=503,
                text="<html><body><h1>503 Service Unavailable</h1></body></html>",
                content_type="text/html",
                headers={"Retry-After": fault.retry_after},
            )
        if kind == "gateway_timeout":
            return web.Response(
                status=504,
                text="<html><body><h1>504 Gateway Time-out</h1></body></html>",
                content_type="text/html",
            )
        if kind == "transient_500":
            return self._error_response(
                ExchangeError(
                    500,
                    "Microsoft.Exchange.Data.Directory.ADTransientException",
                    "Active Directory operation failed on DC1.PROD.OUTLOOK.COM. This error could "
                    "have been caused by user input or by the Active Directory server being "
                    "unavailable. Please retry at a later time.",
                )
            )
        if kind == "server_error_500":
            return self._error_response(
                ExchangeError(
                    500,
                    "System.NullReferenceException",
                    "Object reference not set to an instance of an object.",
                )
            )
        if kind == "empty_403":
            return web.Response(
                status=403,
                headers={
                    "x-ms-diagnostics": (
                        f"2000003;reason=\"The role assigned to application {app_id} isn't "
                        "supported in this scenario. Please check online documentation for "
                        "assigning correct Directory Roles to Azure AD Application for EXO "
                        'App-Only Authentication.";error_category="invalid_grant"'
                    )
                },
            )
        if kind == "plain_text":
            return web.Response(status=200, text="OK: the request was processed.")
        if kind == "unauthorized":
            return unauthorized("The token has expired.", present=True)
        raise AssertionError(f"fault kind {kind!r} has no response")  # EXECUTING_KINDS handled

    # --- headers -------------------------------------------------------------------------------

    def _count_rate(self) -> None:
        now = time.time()
        if now - self._rate_window_start >= _RATE_WINDOW_SECONDS:
            self._rate_window_start, self._rate_used = now, 0
        self._rate_used += 1

    def _common_headers(self, request: web.Request) -> dict[str, str]:
        reset = dt.datetime.fromtimestamp(self._rate_window_start + _RATE_WINDOW_SECONDS, dt.UTC)
        headers = {
            "Rate-Limit-Limit": str(RATE_LIMIT),
            "Rate-Limit-Remaining": str(max(0, RATE_LIMIT - self._rate_used)),
            "Rate-Limit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{reset.microsecond // 1000:03d}Z",
            "request-id": str(uuid.uuid4()),
        }
        client_request_id = request.headers.get("client-request-id")
        if client_request_id:
            headers["client-request-id"] = client_request_id
        return headers


# --- request parsing -----------------------------------------------------------------------------


def _parse_invoke_body(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(cmdlet, parameters) from {"CmdletInput": {"CmdletName", "Parameters"}}; ValueError else."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("The request body is not valid UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("CmdletInput"), dict):
        raise ValueError(
            "The request body must be a JSON object with a 'CmdletInput' object "
            '({"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}).'
        )
    cmdlet_input = cast(dict[str, Any], data["CmdletInput"])
    cmdlet = cmdlet_input.get("CmdletName")
    if not isinstance(cmdlet, str) or not cmdlet.strip():
        raise ValueError("CmdletInput.CmdletName is required and must be a string.")
    parameters = cmdlet_input.get("Parameters", {})
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValueError("CmdletInput.Parameters must be a JSON object.")
    return cmdlet.strip(), parameters


def _encode_skiptoken(offset: int, cmdlet: str, result_id: str | None) -> str:
    token: dict[str, Any] = {"o": offset, "c": cmdlet}
    if result_id:
        token["r"] = result_id
    raw = json.dumps(token, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_skiptoken(token: str | None, cmdlet: str) -> tuple[int, str | None]:
    """The offset a $skiptoken stands for and the kept result it pages, if any; it must come
    from a page of the same cmdlet."""
    if token is None:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, token_cmdlet, result_id = data["o"], data["c"], data.get("r")
    except (ValueError, binascii.Error, KeyError, TypeError, AttributeError):
        raise ValueError(f"The $skiptoken '{token}' is not valid.") from None
    if (
        not isinstance(offset, int)
        or offset < 0
        or not isinstance(token_cmdlet, str)
        or not isinstance(result_id, str | None)
    ):
        raise ValueError(f"The $skiptoken '{token}' is not valid.")
    if token_cmdlet.casefold() != cmdlet.casefold():
        raise ValueError(f"The $skiptoken was issued for {token_cmdlet}, not for {cmdlet}.")
    return offset, result_id


def _parse_select(value: str | None) -> set[str] | None:
    if value is None:
        return None
    names = {name.strip().casefold() for name in value.split(",") if name.strip()}
    return names or None


def _select(obj: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """Keep the selected properties with their annotations ("Prop@odata.type") and the
    object-level annotations ("@odata.type"); property names match case-insensitively."""
    return {
        key: value
        for key, value in obj.items()
        if key.startswith("@") or key.partition("@")[0].casefold() in names
    }


def _peer(request: web.Request) -> tuple[str, int] | None:
    transport = request.transport
    peername = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peername, tuple) and len(peername) >= 2:
        return str(peername[0]), int(peername[1])
    return None
