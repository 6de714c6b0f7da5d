"""The audit trail: who asked, who decided, what ran in Exchange, with what result.

Append-only. On Redis it is one stream that is never trimmed: an audit trail that loses entries
silently is worse than none, so its growth is for the operator to watch (an XLEN metric) and
export (`dlbot audit`), never for dlbot to cut.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as redis
from pydantic import BaseModel, ConfigDict
from redis.typing import EncodableT, FieldT

from approvals import keys
from approvals.models import ApprovalRequest
from approvals.redis_calls import resolved


class AuditAction(StrEnum):
    """The events the workflow writes; AuditEvent.event stays a plain string so that an export
    of an older or newer trail still reads."""

    SUBMITTED = "submitted"  # a request was stored (detail: who was asked, or why none)
    CARDS_SENT = "cards_sent"  # approval cards reached these approvers
    SENT_TO_FALLBACK = "sent_to_fallback"  # no owner reachable: the fallback approvers asked
    UNREACHABLE = "unreachable"  # nobody could be reached in Teams; the admins were alerted
    APPROVED = "approved"  # by an approver, or automatically (detail: why)
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXECUTED = "executed"  # the change is made in Exchange (result: added / already_member)
    ATTEMPT_FAILED = "attempt_failed"  # a transient Exchange failure; will be retried
    FAILED = "failed"  # the change failed for good


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    event: str
    request_id: str
    actor_id: str = ""  # the Entra object id of who did it ("" for dlbot itself)
    list_id: str = ""
    list_address: str = ""
    kind: str = ""
    cmdlet: str = ""  # the Exchange cmdlet run, for execution events
    result: str = ""
    exchange_request_id: str = ""  # Exchange's client-request-id, to find the call in its logs
    detail: str = ""

    @classmethod
    def of(
        cls,
        event: AuditAction,
        request: ApprovalRequest,
        *,
        at: datetime,
        actor_id: str = "",
        cmdlet: str = "",
        result: str = "",
        exchange_request_id: str = "",
        detail: str = "",
    ) -> AuditEvent:
        """An event about `request`, with its list and kind filled in."""
        return cls(
            at=at,
            event=event.value,
            request_id=request.id,
            actor_id=actor_id,
            list_id=request.group.object_id,
            list_address=request.group.address,
            kind=request.kind.value,
            cmdlet=cmdlet,
            result=result,
            exchange_request_id=exchange_request_id,
            detail=detail,
        )


class AuditLog(Protocol):
    async def append(self, event: AuditEvent) -> None: ...

    async def read(self, since: datetime | None = None) -> list[AuditEvent]:
        """Every event (at or after `since`), in the order they were appended."""
        ...


class InMemoryAudit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def append(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def read(self, since: datetime | None = None) -> list[AuditEvent]:
        return [e for e in self.events if since is None or e.at >= since]


# XRANGE page size when reading the whole trail back.
_PAGE = 1000


class RedisStreamAudit:
    """AuditLog on one Redis stream; each event is one entry whose fields are the event's."""

    def __init__(self, redis_client: redis.Redis, *, stream: str = keys.AUDIT_STREAM) -> None:
        self._redis = redis_client
        self._stream = stream

    async def append(self, event: AuditEvent) -> None:
        fields: dict[FieldT, EncodableT] = {
            name: value.isoformat() if isinstance(value, datetime) else str(value)
            for name, value in event.model_dump().items()
        }
        # No MAXLEN: nothing is ever trimmed from the audit trail.
        await resolved(self._redis.xadd(self._stream, fields))

    async def read(self, since: datetime | None = None) -> list[AuditEvent]:
        # Filtered by the events' own time, not the stream ids (the Redis server's clock).
        events: list[AuditEvent] = []
        start = "-"
        while True:
            page = await resolved(self._redis.xrange(self._stream, min=start, count=_PAGE))
            for entry_id, fields in page:
                event = AuditEvent.model_validate(
                    {_decoded(name): _decoded(value) for name, value in fields.items()}
                )
                if since is None or event.at >= since:
                    events.append(event)
                start = "(" + _decoded(entry_id)
            if len(page) < _PAGE:
                return events


def _decoded(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


if TYPE_CHECKING:  # mypy proves both logs satisfy the port

    def _conforms(redis_client: redis.Redis) -> tuple[AuditLog, AuditLog]:
        return InMemoryAudit(), RedisStreamAudit(redis_client)
