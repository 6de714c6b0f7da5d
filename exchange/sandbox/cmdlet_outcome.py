"""What a cmdlet gives back: its objects and warnings (CmdletResult), or the failure Exchange
would report (CmdletError).

Apart from the tenant because everything on the way from a request to an answer speaks these
two types (the tenant's execute seam, parameter binding, the OPATH parser, the cmdlets, the
InvokeCommand and control endpoints) and none of those owns the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CmdletError(Exception):
    """A cmdlet failure as Exchange reports it; the server turns it into an error body."""

    def __init__(
        self,
        status: int,
        exception_type: str,
        message: str,
        *,
        error_id: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.exception_type = exception_type
        self.message = message
        self.error_id = error_id
        self.headers = dict(headers or {})

    @property
    def not_found(self) -> bool:
        """True for ManagementObjectNotFoundException: its status (404 or 400) is a setting."""
        return self.exception_type.endswith("ManagementObjectNotFoundException")

    def __repr__(self) -> str:
        return f"CmdletError({self.status}, {self.exception_type!r}, {self.message!r})"


@dataclass
class CmdletResult:
    objects: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
