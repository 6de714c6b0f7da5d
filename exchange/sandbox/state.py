"""The sandbox's run-time state as data: its settings and its log of InvokeCommand requests.

Plain dataclasses with their JSON forms and validation, shared by the server, the InvokeCommand
endpoint (which fills the log), the control endpoints (which show and change both) and
ThreadedSandbox; nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

ErrorFormat = Literal["pipe", "json", "alternate"]
MAX_PAGE_SIZE = 1000  # Exchange's ceiling for Prefer: odata.maxpagesize
MAX_LOGGED_REQUESTS = 100_000  # oldest entries are dropped beyond this


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
