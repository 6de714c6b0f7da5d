"""The sandbox's HTTPS server: Exchange Online's InvokeCommand endpoint, the Entra ID stand-in
(tokens.py), fault injection (faults.py) and the /_sandbox/ control endpoints.

This is a TEST DOUBLE of a remote service, used by demos and by the test suite. The product talks
to it only over HTTPS, exactly as it talks to outlook.office365.com; nothing here may ever become
a shortcut inside the product.

Wire behaviour follows ../../../shared/exchange-contract.md: response envelope and headers
(section 2), error bodies in both detail formats (section 3), paging with an absolute nextLink.
The directory itself (who is in which group, what each cmdlet does) lives behind `Tenant.execute`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import ipaddress
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast, get_args

from aiohttp import web

from .faults import EXECUTING_KINDS, Fault, FaultPlan
from .tenant import AppRegistration, CmdletError, Tenant
from .tls import SandboxKeys, ensure_keys
from .tokens import EXCHANGE_APP_ID, InvalidAccessToken, TokenService

log = logging.getLogger(__name__)

ErrorFormat = Literal["pipe", "json", "alternate"]
MAX_PAGE_SIZE = 1000  # Exchange's ceiling for Prefer: odata.maxpagesize
MAX_LOGGED_REQUESTS = 100_000  # oldest entries are dropped beyond this
RATE_LIMIT = 30000
_RATE_WINDOW_SECONDS = 3600.0
_ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)
_NOT_FOUND_TYPE = "ManagementObjectNotFoundException"
_ODATA_SERVICE_EXCEPTION = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
_INVOKE_PATH = "/adminapi/beta/{tenant}/InvokeCommand"
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


# --- settings and the request log ----------------------------------------------------------------


@dataclass
class SandboxSettings:
    """Run-time switches; POST /_sandbox/settings changes them (validated, all or nothing)."""

    error_format: ErrorFormat = "pipe"
    not_found_status: Literal[404, 400] = 404
    token_lifetime_seconds: int = 3599
    default_page_size: int = 100
    fault_seed: int = 0

    def updated(self, data: object) -> SandboxSettings:
        """A validated copy with `data` applied; raises ValueError naming the bad field."""
        if not isinstance(data, dict):
            raise ValueError("settings are a JSON object")
        known = {f.name for f in fields(self)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        new = SandboxSettings(**{**asdict(self), **data})
        if new.error_format not in get_args(ErrorFormat):
            raise ValueError("error_format must be 'pipe', 'json' or 'alternate'")
        if new.not_found_status not in (404, 400) or isinstance(new.not_found_status, bool):
            raise ValueError("not_found_status must be 404 or 400")
        for name, low, high in (
            ("token_lifetime_seconds", 1, 86400),
            ("default_page_size", 1, MAX_PAGE_SIZE),
            ("fault_seed", 0, 2**63),
        ):
            value = getattr(new, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer between {low} and {high}")
        return new

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoggedRequest:
    """One InvokeCommand as received, and what the sandbox did with it."""

    time: float
    url: str
    cmdlet: str | None
    parameters: dict[str, Any] | None  # exactly as received (JSON values)
    client_request_id: str | None
    anchor_mailbox: str | None
    prefer: str | None
    has_authorization: bool
    peer: tuple[str, int] | None  # the client's (host, port): distinct values = TCP connections
    x_cmdlet_name: str | None = None
    response_format: str | None = None
    app_id: str | None = None
    status: int | None = None  # None when the connection was dropped without an answer
    fault: str | None = None  # the fault kind applied, if any

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["time_utc"] = dt.datetime.fromtimestamp(self.time, dt.UTC).isoformat()
        data["peer"] = list(self.peer) if self.peer else None
        return data


@dataclass(frozen=True)
class _ExchangeError:
    """What an error body is built from: a CmdletError, or an injected server fault."""

    status: int
    exception_type: str
    message: str
    error_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class _Drop(Exception):
    """Close the client's connection without answering (the 'drop' fault kinds)."""


# --- the aiohttp application ---------------------------------------------------------------------


class SandboxServer:
    """The sandbox on the caller's event loop. `async with SandboxServer() as sb: ...`"""

    def __init__(
        self,
        tenant: Tenant | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        self.tenant = tenant if tenant is not None else Tenant.demo()
        self.host = host
        self._requested_port = port
        self._state_dir = state_dir
        self.settings = SandboxSettings()
        self.requests: list[LoggedRequest] = []
        self.faults = FaultPlan(self.settings.fault_seed)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._keys: SandboxKeys | None = None
        self._tokens: TokenService | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._errors_answered = 0  # drives error_format "alternate"
        self._rate_window_start = time.time()
        self._rate_used = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        if self._state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dlbot-sandbox-")
            self._state_dir = Path(self._tmp.name)
        try:
            await self._start(self._state_dir)
        except BaseException:
            await self.stop()  # e.g. the port is taken: leave no temporary directory behind
            raise

    async def _start(self, state_dir: Path) -> None:
        # Key generation and file I/O are blocking; keep them off the event loop.
        keys = await asyncio.to_thread(ensure_keys, state_dir)
        self._keys = keys
        self._tokens = TokenService(
            self.tenant, keys.signing, lifetime_seconds=lambda: self.settings.token_lifetime_seconds
        )
        demo = self.demo_app
        if demo is not None:
            self._tokens.register_certificate(demo.client_id, keys.client.cert)
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(
            runner,
            self.host,
            self._requested_port,
            ssl_context=keys.server_ssl_context(),
            backlog=512,  # a benchmark opens hundreds of connections at once
        )
        await site.start()
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._state_dir = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- what tests and the CLI read ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox is not running (use 'async with SandboxServer()')")
        return self._port

    @property
    def base_url(self) -> str:
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    @property
    def keys(self) -> SandboxKeys:
        if self._keys is None:
            raise RuntimeError("the sandbox is not running")
        return self._keys

    @property
    def ca_file(self) -> Path:
        return self.keys.ca_file

    @property
    def state_dir(self) -> Path:
        return self.keys.state_dir

    @property
    def tokens(self) -> TokenService:
        if self._tokens is None:
            raise RuntimeError("the sandbox is not running")
        return self._tokens

    @property
    def tokens_issued(self) -> int:
        return self._tokens.tokens_issued if self._tokens is not None else 0

    @property
    def demo_app(self) -> AppRegistration | None:
        """The app registration the CLI prints credentials for: the first with a secret."""
        apps = list(self.tenant.apps.values())
        with_secret = [a for a in apps if a.secrets]
        return (with_secret or apps)[0] if apps else None

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def revoke_tokens(self) -> None:
        self.tokens.revoke_all()

    def update_settings(self, data: dict[str, Any]) -> SandboxSettings:
        new = self.settings.updated(data)
        if new.fault_seed != self.settings.fault_seed:
            self.faults.reseed(new.fault_seed)
        # Mutate in place: TokenService and ThreadedSandbox hold this same object.
        for f in fields(new):
            setattr(self.settings, f.name, getattr(new, f.name))
        return self.settings

    # --- the application ---------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._error_middleware],
            # New-DistributionGroup may carry up to 10,000 members in one body.
            client_max_size=16 * 1024 * 1024,
        )
        app.router.add_post(_INVOKE_PATH, self._invoke)
        self.tokens.add_routes(app)
        control = _ControlApi(self)
        control.add_routes(app)
        return app

    @web.middleware
    async def _error_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """JSON for every error, a dropped connection for _Drop, never a traceback page."""
        try:
            return await handler(request)
        except _Drop:
            transport = request.transport
            if transport is not None:
                transport.abort()
            # Nothing reaches the client; aiohttp just needs a response object to finish with.
            return web.Response(status=499)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
            return web.json_response(
                {
                    "error": {
                        "code": status_name(exc.status),
                        "message": message or f"{exc.reason}: {request.method} {request.path}",
                    }
                },
                status=exc.status,
                headers=headers,
            )
        except Exception:
            log.exception("sandbox bug while answering %s %s", request.method, request.path)
            return web.json_response(
                {
                    "error": {
                        "code": "InternalServerError",
                        "message": "The sandbox failed to answer this request (see its log).",
                    }
                },
                status=500,
            )

    # --- InvokeCommand -----------------------------------------------------------------------

    async def _invoke(self, request: web.Request) -> web.StreamResponse:
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
        self.requests.append(entry)
        if len(self.requests) > MAX_LOGGED_REQUESTS:  # a long-running demo must not grow forever
            del self.requests[: len(self.requests) - MAX_LOGGED_REQUESTS]
        try:
            response = await self._answer_invoke(request, entry)
            entry.status = response.status
            return response
        except _Drop:
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
            claims = self.tokens.validate(
                request.headers.get("Authorization"), request.match_info["tenant"]
            )
        except InvalidAccessToken as exc:
            return _unauthorized(exc.reason, present=exc.present)
        entry.app_id = claims.app_id

        raw = await request.read()
        try:
            cmdlet, parameters = _parse_invoke_body(raw)
        except ValueError as exc:
            return self._bad_request(str(exc))
        entry.cmdlet, entry.parameters = cmdlet, parameters
        try:
            offset = _decode_skiptoken(request.query.get("$skiptoken"), cmdlet)
        except ValueError as exc:
            return self._bad_request(str(exc))
        page_size, prefer_applied = self._page_size(request.headers.get("Prefer"))

        fault = self.faults.pick(cmdlet)
        if fault is not None:
            entry.fault = fault.kind
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.kind not in EXECUTING_KINDS:
                return self._fault_response(fault, claims.app_id)

        try:
            result = self.tenant.execute(cmdlet, parameters, app_id=claims.app_id)
        except CmdletError as exc:
            error = _ExchangeError(
                status=exc.status,
                exception_type=exc.exception_type,
                message=exc.message,
                error_id=exc.error_id,
                headers=dict(exc.headers),
            )
            response = self._error_response(error)
        else:
            response = self._page_response(
                request, cmdlet, result.objects, result.warnings, offset, page_size
            )
            if prefer_applied:
                response.headers["Preference-Applied"] = prefer_applied
        if fault is not None and fault.kind == "drop_after_execute":
            raise _Drop
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
        return self.settings.default_page_size, None

    def _page_response(
        self,
        request: web.Request,
        cmdlet: str,
        objects: list[dict[str, Any]],
        warnings: list[str],
        offset: int,
        page_size: int,
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
            token = _encode_skiptoken(offset + page_size, cmdlet)
            # Absolute, on the host the client used; the client POSTs the same body to it.
            body["@odata.nextLink"] = str(request.url.update_query({"$skiptoken": token}))
        return _json_response(body, 200, self._common_headers(request))

    # --- errors --------------------------------------------------------------------------------

    def _next_error_format(self) -> Literal["pipe", "json"]:
        chosen = self.settings.error_format
        self._errors_answered += 1
        if chosen == "alternate":
            return "pipe" if self._errors_answered % 2 == 1 else "json"
        return chosen

    def _error_response(self, error: _ExchangeError) -> web.Response:
        status = error.status
        if error.exception_type.endswith(_NOT_FOUND_TYPE):
            status = self.settings.not_found_status  # the same failure is seen as 404 AND 400
        if self._next_error_format() == "pipe":
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
        return _json_response(body, status, headers)

    def _bad_request(self, message: str) -> web.Response:
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
        return _json_response(body, 400, {"request-id": str(uuid.uuid4())})

    def _fault_response(self, fault: Fault, app_id: str) -> web.Response:
        kind = fault.kind
        if kind == "drop":
            raise _Drop
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
                _ExchangeError(
                    500,
                    "Microsoft.Exchange.Data.Directory.ADTransientException",
                    "Active Directory operation failed on DC1.PROD.OUTLOOK.COM. This error could "
                    "have been caused by user input or by the Active Directory server being "
                    "unavailable. Please retry at a later time.",
                )
            )
        if kind == "server_error_500":
            return self._error_response(
                _ExchangeError(
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
            return _unauthorized("The token has expired.", present=True)
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


# --- control endpoints ---------------------------------------------------------------------------


class _ControlApi:
    """/_sandbox/...: drive the sandbox from tests, demos and curl. Loopback clients only."""

    def __init__(self, server: SandboxServer) -> None:
        self.sb = server

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/_sandbox/faults", self._wrap(self.get_faults))
        r.add_post("/_sandbox/faults", self._wrap(self.post_faults))
        r.add_delete("/_sandbox/faults", self._wrap(self.delete_faults))
        r.add_get("/_sandbox/requests", self._wrap(self.get_requests))
        r.add_delete("/_sandbox/requests", self._wrap(self.delete_requests))
        r.add_get("/_sandbox/tokens", self._wrap(self.get_tokens))
        r.add_post("/_sandbox/tokens/revoke", self._wrap(self.revoke_tokens))
        r.add_get("/_sandbox/groups/{identity}", self._wrap(self.get_group))
        r.add_get("/_sandbox/state", self._wrap(self.get_state))
        r.add_get("/_sandbox/settings", self._wrap(self.get_settings))
        r.add_post("/_sandbox/settings", self._wrap(self.post_settings))

    @staticmethod
    def _wrap(
        handler: Callable[[web.Request], Awaitable[Any]],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def run(request: web.Request) -> web.StreamResponse:
            if not _is_loopback(request.remote):
                return _json_response({"error": "control endpoints answer loopback only"}, 403)
            try:
                result = await handler(request)
            except _BadInput as exc:
                return _json_response({"error": str(exc)}, 400)
            if isinstance(result, web.StreamResponse):
                return result
            return _json_response(result, 200)

        return run

    async def get_faults(self, request: web.Request) -> Any:
        return {"faults": [f.to_json() for f in self.sb.faults.active()]}

    async def post_faults(self, request: web.Request) -> Any:
        """Body: one fault object, a list of them, or {"faults": [...]}. Appends, in order."""
        data = await _json_body(request)
        items = data.get("faults", data) if isinstance(data, dict) and "kind" not in data else data
        items = items if isinstance(items, list) else [items]
        try:
            parsed = [Fault.from_json(item) for item in items]
        except (ValueError, TypeError) as exc:
            raise _BadInput(str(exc)) from None
        for fault in parsed:
            self.sb.inject(fault)
        return {"faults": [f.to_json() for f in self.sb.faults.active()]}

    async def delete_faults(self, request: web.Request) -> Any:
        self.sb.clear_faults()
        return {"faults": []}

    async def get_requests(self, request: web.Request) -> Any:
        return {"requests": [r.to_json() for r in self.sb.requests]}

    async def delete_requests(self, request: web.Request) -> Any:
        cleared = len(self.sb.requests)
        self.sb.requests.clear()
        return {"cleared": cleared}

    async def get_tokens(self, request: web.Request) -> Any:
        return self.sb.tokens.summary()

    async def revoke_tokens(self, request: web.Request) -> Any:
        return {"revoked": self.sb.tokens.revoke_all()}

    async def get_group(self, request: web.Request) -> Any:
        identity = request.match_info["identity"]
        try:
            return self.sb.tenant.group_snapshot(identity)
        except CmdletError as exc:
            return _json_response({"error": exc.message}, 404)
        except (KeyError, LookupError) as exc:
            return _json_response({"error": f"no group {identity!r}: {exc}"}, 404)

    async def get_state(self, request: web.Request) -> Any:
        demo = self.sb.demo_app
        return {
            "tenant_id": self.sb.tenant_id,
            "initial_domain": self.sb.tenant.initial_domain,
            "base_url": self.sb.base_url,
            "authority": self.sb.authority,
            "demo_client_id": demo.client_id if demo else None,
            "tenant": self.sb.tenant.summary(),
            "settings": self.sb.settings.to_json(),
            "faults": [f.to_json() for f in self.sb.faults.active()],
            "requests": len(self.sb.requests),
            "tokens_issued": self.sb.tokens_issued,
        }

    async def get_settings(self, request: web.Request) -> Any:
        return self.sb.settings.to_json()

    async def post_settings(self, request: web.Request) -> Any:
        data = await _json_body(request)
        try:
            return self.sb.update_settings(data).to_json()
        except (ValueError, TypeError) as exc:
            raise _BadInput(str(exc)) from None


class _BadInput(Exception):
    pass


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _BadInput(f"the body must be UTF-8 JSON: {exc}") from None


# --- request parsing and response helpers --------------------------------------------------------


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


def _encode_skiptoken(offset: int, cmdlet: str) -> str:
    raw = json.dumps({"o": offset, "c": cmdlet}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_skiptoken(token: str | None, cmdlet: str) -> int:
    """The offset a $skiptoken stands for; it must come from a page of the same cmdlet."""
    if token is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, token_cmdlet = data["o"], data["c"]
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise ValueError(f"The $skiptoken '{token}' is not valid.") from None
    if not isinstance(offset, int) or offset < 0 or not isinstance(token_cmdlet, str):
        raise ValueError(f"The $skiptoken '{token}' is not valid.")
    if token_cmdlet.casefold() != cmdlet.casefold():
        raise ValueError(f"The $skiptoken was issued for {token_cmdlet}, not for {cmdlet}.")
    return offset


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


def _json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")  # non-ASCII stays as is
    response = web.Response(body=payload, status=status, headers=headers)
    response.headers["Content-Type"] = _ODATA_JSON
    return response


def _unauthorized(reason: str, *, present: bool) -> web.Response:
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


def _peer(request: web.Request) -> tuple[str, int] | None:
    transport = request.transport
    peername = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peername, tuple) and len(peername) >= 2:
        return str(peername[0]), int(peername[1])
    return None


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


# --- the same server on its own thread -----------------------------------------------------------


class ThreadedSandbox:
    """SandboxServer on a private thread and event loop, as a plain (sync) context manager.

    For benchmarks and synchronous tests: the caller's thread stays free to block on HTTP calls.
    """

    def __init__(
        self,
        tenant: Tenant | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        self.server = SandboxServer(tenant, host=host, port=port, state_dir=state_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def __enter__(self) -> ThreadedSandbox:
        self._thread = threading.Thread(target=self._run, name="dlbot-sandbox", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # handed to the caller's thread by __enter__
                self._startup_error = exc
                return
            finally:
                self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    # The same attributes as SandboxServer.
    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def authority(self) -> str:
        return self.server.authority

    @property
    def tenant_id(self) -> str:
        return self.server.tenant_id

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    @property
    def tenant(self) -> Tenant:
        return self.server.tenant

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.server.requests

    @property
    def tokens_issued(self) -> int:
        return self.server.tokens_issued

    @property
    def settings(self) -> SandboxSettings:
        return self.server.settings

    @property
    def tokens(self) -> TokenService:
        return self.server.tokens

    @property
    def demo_app(self) -> AppRegistration | None:
        return self.server.demo_app

    @property
    def keys(self) -> SandboxKeys:
        return self.server.keys

    def inject(self, fault: Fault) -> None:
        self.server.inject(fault)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def revoke_tokens(self) -> None:
        self.server.revoke_tokens()

    def update_settings(self, data: dict[str, Any]) -> SandboxSettings:
        return self.server.update_settings(data)
