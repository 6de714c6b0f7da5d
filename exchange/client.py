"""The Exchange Online admin REST client: one public method per cmdlet, one private call path.

Every cmdlet goes through `_invoke`, which owns the headers, the client-request-id (one per
logical call, the same on every retry and page), paging through @odata.nextLink, the retry policy
and the mapping of failures to the typed errors of exchange.errors. All I/O goes through one
httpx.AsyncClient, so concurrent calls share one connection pool and one token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import httpx

from exchange import filters
from exchange.auth import ExchangeAuth, MsalTokenSource, TokenSource
from exchange.config import ExchangeConfig
from exchange.errors import (
    AddressInUse,
    ExchangeError,
    ExchangeProtocolError,
    ExchangeUnavailable,
    MemberAlreadyExists,
    MemberNotFound,
    NameInUse,
    ObjectNotFound,
)
from exchange.models import (
    AcceptedDomain,
    CreatedGroup,
    DistributionGroup,
    MembershipChange,
    MembershipOutcome,
    NewDistributionGroup,
    Recipient,
    User,
)
from exchange.retry import RetryPolicy
from exchange.wire import Page, RawResponse, decode_body, error_from_response, parse_page

log = logging.getLogger(__name__)

ResultSize = int | str  # an integer, or "Unlimited"
UNLIMITED = "Unlimited"

# Connection failures that prove the request never reached Exchange; every other transport
# failure may have happened after Exchange ran the cmdlet (the lost-response case).
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The `failure` of an attempt Exchange answered 401 and ExchangeAuth sent again on a new token.
TOKEN_REFUSED = "token refused, renewing"


class CallObserver(Protocol):
    """Told about every call, for metrics (bot/metrics.py implements it; exchange never knows
    what becomes of it). Must be cheap and must not raise."""

    def call_finished(self, cmdlet: str, outcome: str, seconds: float) -> None:
        """One logical call ended: outcome "ok" or the ExchangeError class name."""
        ...

    def call_retried(self, cmdlet: str, reason: str) -> None:
        """An attempt will be repeated: reason "http_<status>" or "transport"."""
        ...


class _NoObserver:
    def call_finished(self, cmdlet: str, outcome: str, seconds: float) -> None:
        pass

    def call_retried(self, cmdlet: str, reason: str) -> None:
        pass


@dataclass
class _Call:
    """One logical cmdlet call across its retries and pages."""

    cmdlet: str
    request_id: str
    lost_response: bool = False


def build_http_client(config: ExchangeConfig) -> httpx.AsyncClient:
    """The process's pooled HTTP client for Exchange, trusting the system CAs plus `ca_file`."""
    tls = ssl.create_default_context()
    if config.ca_file is not None:
        tls.load_verify_locations(cafile=str(config.ca_file))
    return httpx.AsyncClient(
        verify=tls,
        timeout=httpx.Timeout(
            config.timeout_seconds,
            connect=config.connect_timeout_seconds,
            # Waiting for a free pooled connection is part of the call, not a failure of its own.
            pool=config.timeout_seconds,
        ),
        limits=httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_connections,
        ),
    )


class ExchangeClient:
    """Async client for one tenant's Exchange Online admin API. Use as an async context manager."""

    def __init__(
        self,
        config: ExchangeConfig,
        *,
        http: httpx.AsyncClient | None = None,
        tokens: TokenSource | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self._config = config
        self._observer: CallObserver = observer if observer is not None else _NoObserver()
        self.tokens: TokenSource = tokens if tokens is not None else MsalTokenSource(config)
        self._owns_http = http is None
        self._http = http if http is not None else build_http_client(config)
        self._auth = ExchangeAuth(self.tokens)
        self._retry = RetryPolicy(
            max_retries=config.max_retries,
            backoff_seconds=config.retry_backoff_seconds,
            max_retry_after_seconds=config.max_retry_after_seconds,
        )
        base = httpx.URL(config.invoke_url)
        self._origin = (base.scheme, base.host, base.port)
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "Content-Type": "application/json; charset=utf-8",
            "X-ResponseFormat": "json",
            "X-AnchorMailbox": config.anchor_mailbox,
            "Prefer": f"odata.maxpagesize={config.page_size}",
            "User-Agent": "dlbot-exchange-client",
        }

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self.tokens.close()
        if self._owns_http:
            await self._http.aclose()

    # Distribution groups ---------------------------------------------------------------------

    async def get_distribution_group(self, identity: str) -> DistributionGroup:
        objects = await self._invoke("Get-DistributionGroup", {"Identity": identity})
        return DistributionGroup.model_validate(_single(objects, "Get-DistributionGroup", identity))

    async def find_distribution_groups(
        self,
        *,
        anr: str | None = None,
        opath_filter: str | None = None,
        recipient_type_details: Sequence[str] = (),
        result_size: ResultSize = 1000,
    ) -> list[DistributionGroup]:
        """Groups by ambiguous name resolution or an OPATH filter built with exchange.filters."""
        parameters = _search_parameters(anr, opath_filter, recipient_type_details, result_size)
        objects = await self._invoke("Get-DistributionGroup", parameters)
        return [DistributionGroup.model_validate(obj) for obj in objects]

    async def iter_distribution_groups(
        self, *, opath_filter: str | None = None
    ) -> AsyncIterator[list[DistributionGroup]]:
        """Every group, a page at a time, so a directory sync holds one page in memory."""
        parameters = _search_parameters(None, opath_filter, (), UNLIMITED)
        async for page in self._pages(self._new_call("Get-DistributionGroup"), parameters):
            yield [DistributionGroup.model_validate(obj) for obj in page.objects]

    async def get_distribution_group_members(
        self, identity: str, *, result_size: ResultSize = UNLIMITED
    ) -> list[Recipient]:
        """Direct members; nested groups appear as group recipients."""
        parameters = {"Identity": identity, "ResultSize": result_size}
        objects = await self._invoke("Get-DistributionGroupMember", parameters)
        return [Recipient.model_validate(obj) for obj in objects]

    async def is_direct_member(self, group_distinguished_name: str, user_object_id: str) -> bool:
        """Whether a user is a direct member, asked of Get-Recipient instead of paging the list."""
        if not group_distinguished_name:
            raise ValueError("a membership test needs the group's DistinguishedName")
        opath = filters.all_of(
            filters.eq("MemberOfGroup", group_distinguished_name),
            filters.eq("ExternalDirectoryObjectId", user_object_id),
        )
        objects = await self._invoke("Get-Recipient", {"Filter": opath, "ResultSize": 1})
        return bool(objects)

    async def add_distribution_group_member(self, group: str, member: str) -> MembershipChange:
        """Add one member; "already a member" means the goal is met and is not an error."""
        call = self._new_call("Add-DistributionGroupMember")
        parameters = {"Identity": group, "Member": member, "BypassSecurityGroupManagerCheck": True}
        try:
            await self._invoke_call(call, parameters)
        except MemberAlreadyExists:
            # After a lost response the member is most likely there because of this very call.
            outcome = (
                MembershipOutcome.ADDED if call.lost_response else MembershipOutcome.ALREADY_MEMBER
            )
            return MembershipChange(outcome, call.request_id)
        return MembershipChange(MembershipOutcome.ADDED, call.request_id)

    async def remove_distribution_group_member(self, group: str, member: str) -> MembershipChange:
        """Remove one member; "not a member" means the goal is met and is not an error."""
        call = self._new_call("Remove-DistributionGroupMember")
        parameters = {
            "Identity": group,
            "Member": member,
            "BypassSecurityGroupManagerCheck": True,
            "Confirm": False,
        }
        try:
            await self._invoke_call(call, parameters)
        except MemberNotFound:
            outcome = (
                MembershipOutcome.REMOVED if call.lost_response else MembershipOutcome.NOT_A_MEMBER
            )
            return MembershipChange(outcome, call.request_id)
        return MembershipChange(MembershipOutcome.REMOVED, call.request_id)

    async def new_distribution_group(
        self, spec: NewDistributionGroup, *, may_already_exist: bool = False
    ) -> CreatedGroup:
        """Create a group, safe to replay.

        If a response was lost (here, or in an earlier attempt the caller knows of, which it
        says with `may_already_exist`), "already exists" is checked: when the group now holding
        the name and address is the one asked for, that is success; otherwise it is a collision.
        """
        call = self._new_call("New-DistributionGroup")
        try:
            objects = await self._invoke_call(call, spec.parameters())
        except (NameInUse, AddressInUse):
            if not (call.lost_response or may_already_exist):
                raise
            existing = await self._find_created_group(spec)
            if existing is None:
                raise
            log.info("New-DistributionGroup replay found %s already created", spec.name)
            return CreatedGroup(existing, call.request_id, recovered_after_lost_response=True)
        group = DistributionGroup.model_validate(_single(objects, call.cmdlet, spec.name))
        return CreatedGroup(group, call.request_id)

    async def _find_created_group(self, spec: NewDistributionGroup) -> DistributionGroup | None:
        try:
            group = await self.get_distribution_group(spec.primary_smtp_address)
        except ObjectNotFound:
            return None
        same_name = group.name.casefold() == spec.name.casefold()
        same_address = group.primary_smtp_address.casefold() == spec.primary_smtp_address.casefold()
        return group if same_name and same_address else None

    # Recipients and users --------------------------------------------------------------------

    async def get_recipient(self, identity: str) -> Recipient:
        objects = await self._invoke("Get-Recipient", {"Identity": identity})
        return Recipient.model_validate(_single(objects, "Get-Recipient", identity))

    async def find_recipients(
        self,
        *,
        anr: str | None = None,
        opath_filter: str | None = None,
        recipient_type_details: Sequence[str] = (),
        result_size: ResultSize = 1000,
    ) -> list[Recipient]:
        parameters = _search_parameters(anr, opath_filter, recipient_type_details, result_size)
        objects = await self._invoke("Get-Recipient", parameters)
        return [Recipient.model_validate(obj) for obj in objects]

    async def get_user(self, identity: str) -> User:
        objects = await self._invoke("Get-User", {"Identity": identity})
        return User.model_validate(_single(objects, "Get-User", identity))

    async def iter_users(self, *, opath_filter: str | None = None) -> AsyncIterator[list[User]]:
        parameters = _search_parameters(None, opath_filter, (), UNLIMITED)
        async for page in self._pages(self._new_call("Get-User"), parameters):
            yield [User.model_validate(obj) for obj in page.objects]

    async def get_accepted_domains(self) -> list[AcceptedDomain]:
        objects = await self._invoke("Get-AcceptedDomain", {})
        return [AcceptedDomain.model_validate(obj) for obj in objects]

    # Any cmdlet, for the admin command line --------------------------------------------------

    async def call_cmdlet(self, cmdlet: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """Run any cmdlet the app's role allows and return its objects, annotations stripped."""
        return await self._invoke(cmdlet, parameters)

    # The one call path -----------------------------------------------------------------------

    def _new_call(self, cmdlet: str) -> _Call:
        return _Call(cmdlet=cmdlet, request_id=str(uuid.uuid4()))

    async def _invoke(self, cmdlet: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._invoke_call(self._new_call(cmdlet), parameters)

    async def _invoke_call(self, call: _Call, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        async for page in self._pages(call, parameters):
            objects.extend(page.objects)
        return objects

    async def _pages(self, call: _Call, parameters: dict[str, Any]) -> AsyncIterator[Page]:
        body = json.dumps(
            {"CmdletInput": {"CmdletName": call.cmdlet, "Parameters": parameters}},
            ensure_ascii=False,
        ).encode("utf-8")
        url: str | None = self._config.invoke_url
        started = time.monotonic()
        outcome = "ok"
        try:
            while url is not None:
                page = await self._post(call, url, body)
                for warning in page.warnings:
                    log.warning(
                        "%s [%s]: Exchange warning: %s", call.cmdlet, call.request_id, warning
                    )
                yield page
                url = page.next_link
                if url is not None:
                    self._check_next_link(call, url)
        except ExchangeError as exc:
            outcome = type(exc).__name__
            raise
        except GeneratorExit:
            raise  # the caller stopped reading pages it did not need: every page was fine
        except BaseException:
            # Cancelled, or a bug: either way not an answer from Exchange.
            outcome = "aborted"
            raise
        finally:
            self._observer.call_finished(call.cmdlet, outcome, time.monotonic() - started)

    def _check_next_link(self, call: _Call, url: str) -> None:
        # The bearer token goes wherever the next link points: only ever back to Exchange.
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ExchangeProtocolError(
                f"unusable @odata.nextLink {url!r}", cmdlet=call.cmdlet, request_id=call.request_id
            ) from exc
        if (target.scheme, target.host, target.port) != self._origin:
            raise ExchangeProtocolError(
                f"@odata.nextLink points away from Exchange: {url!r}",
                cmdlet=call.cmdlet,
                request_id=call.request_id,
            )

    async def _post(self, call: _Call, url: str, body: bytes) -> Page:
        retries = 0
        attempt = 0  # every round trip, the ones ExchangeAuth repeats on a 401 included
        while True:
            started = time.monotonic()
            attempt += 1
            try:
                response, refusals = await self._send_once(call, url, body)
            except httpx.TransportError as exc:
                self._log_attempt(call, attempt, started, None, type(exc).__name__)
                if not isinstance(exc, _NOT_SENT):
                    call.lost_response = True
                if retries >= self._retry.max_retries:
                    raise ExchangeUnavailable(
                        f"no answer from Exchange after {retries + 1} attempts: "
                        f"{type(exc).__name__}: {exc}",
                        cmdlet=call.cmdlet,
                        request_id=call.request_id,
                    ) from exc
                delay = self._retry.delay(retries)
                self._observer.call_retried(call.cmdlet, "transport")
                log.warning(
                    "%s [%s]: %s, retry %d in %.2fs",
                    call.cmdlet,
                    call.request_id,
                    type(exc).__name__,
                    retries + 1,
                    delay,
                )
            else:
                # A 401 is answered inside httpx's send (ExchangeAuth renews the token and sends
                # again): each refused round trip gets its own line, so two trips read as two.
                for refused in refusals:
                    seconds = refused.elapsed.total_seconds()
                    self._log_attempt(
                        call, attempt, started, refused.status_code, TOKEN_REFUSED, seconds=seconds
                    )
                    started += seconds
                    attempt += 1
                self._log_attempt(call, attempt, started, response.status, "")
                if response.status == 200:
                    return parse_page(response, cmdlet=call.cmdlet, request_id=call.request_id)
                error = error_from_response(
                    response, cmdlet=call.cmdlet, request_id=call.request_id
                )
                if not self._retry.should_retry(response, error.exception_type, error.message):
                    raise error
                if retries >= self._retry.max_retries:
                    raise _exhausted(error, response, retries)
                delay = self._retry.delay(retries, response)
                self._observer.call_retried(call.cmdlet, f"http_{response.status}")
                log.warning(
                    "%s [%s]: HTTP %d, retry %d in %.2fs",
                    call.cmdlet,
                    call.request_id,
                    response.status,
                    retries + 1,
                    delay,
                )
            retries += 1
            await asyncio.sleep(delay)

    def _log_attempt(
        self,
        call: _Call,
        attempt: int,
        started: float,
        status: int | None,
        failure: str,
        *,
        seconds: float | None = None,
    ) -> None:
        # One line per HTTP attempt: with the correlation id the caller bound, this is what ties
        # a request in dlbot to Exchange's own logs (client-request-id).
        if seconds is None:
            seconds = time.monotonic() - started
        elapsed_ms = round(seconds * 1000)
        if status is None:
            outcome = failure
        else:
            outcome = f"HTTP {status}, {failure}" if failure else f"HTTP {status}"
        log.info(
            "%s [%s] attempt %d: %s in %d ms",
            call.cmdlet,
            call.request_id,
            attempt,
            outcome,
            elapsed_ms,
            extra={
                "cmdlet": call.cmdlet,
                "client_request_id": call.request_id,
                "status": status,
                "attempt": attempt,
                "elapsed_ms": elapsed_ms,
                "failure": failure,
            },
        )

    async def _send_once(
        self, call: _Call, url: str, body: bytes
    ) -> tuple[RawResponse, list[httpx.Response]]:
        """The answer, and the 401s ExchangeAuth answered by renewing the token and resending."""
        headers = {
            **self._headers,
            "X-CmdletName": call.cmdlet,
            "client-request-id": call.request_id,
        }
        request = self._http.build_request("POST", url, content=body, headers=headers)
        response = await self._http.send(request, auth=self._auth, stream=True)
        try:
            # Raw bytes: the Content-Encoding header is not always true (see exchange.wire).
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        # With redirects not followed, httpx's history holds only the auth flow's earlier tries.
        refusals = [earlier for earlier in response.history if earlier.status_code == 401]
        return RawResponse(
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            body=decode_body(raw, response.headers.get("content-encoding", "")),
        ), refusals


def _search_parameters(
    anr: str | None,
    opath_filter: str | None,
    recipient_type_details: Sequence[str],
    result_size: ResultSize,
) -> dict[str, Any]:
    if anr is not None and opath_filter is not None:
        raise ValueError("give anr or opath_filter, not both")
    parameters: dict[str, Any] = {"ResultSize": result_size}
    if anr is not None:
        parameters["Anr"] = anr
    if opath_filter is not None:
        parameters["Filter"] = opath_filter
    if recipient_type_details:
        parameters["RecipientTypeDetails"] = list(recipient_type_details)
    return parameters


def _exhausted(cause: ExchangeError, response: RawResponse, retries: int) -> ExchangeError:
    what = "throttled" if response.status == 429 else f"HTTP {response.status}"
    return ExchangeUnavailable(
        f"Exchange still {what} after {retries + 1} attempts: {cause.message}",
        cmdlet=cause.cmdlet,
        status=response.status,
        exception_type=cause.exception_type,
        request_id=cause.request_id,
    )


def _single(objects: list[dict[str, Any]], cmdlet: str, identity: str) -> dict[str, Any]:
    if not objects:
        raise ObjectNotFound(f'Couldn\'t find object "{identity}".', cmdlet=cmdlet)
    return objects[0]
