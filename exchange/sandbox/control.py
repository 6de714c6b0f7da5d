"""The /_sandbox/ control endpoints: faults, the request log, tokens, groups, state, settings.

They drive the sandbox from tests, demos and curl, so they are no part of what Exchange Online
answers; they act on a SandboxServer and answer loopback clients only.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .cmdlet_outcome import CmdletError
from .faults import Fault
from .responses import json_response

if TYPE_CHECKING:
    from .server import SandboxServer


class ControlApi:
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
                return json_response({"error": "control endpoints answer loopback only"}, 403)
            try:
                result = await handler(request)
            except _BadInput as exc:
                return json_response({"error": str(exc)}, 400)
            if isinstance(result, web.StreamResponse):
                return result
            return json_response(result, 200)

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
            return json_response({"error": exc.message}, 404)
        except (KeyError, LookupError) as exc:
            return json_response({"error": f"no group {identity!r}: {exc}"}, 404)

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


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
