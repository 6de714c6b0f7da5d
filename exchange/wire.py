"""Reading InvokeCommand responses: bodies that may not be what their headers say, pages, errors.

Exchange's front ends sometimes answer with plain text, an empty body, or a Content-Encoding of
gzip on a body that is not compressed. Nothing here raises anything but ExchangeError.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from exchange.errors import (
    CmdletError,
    ExchangeError,
    ExchangePermissionError,
    ExchangeProtocolError,
    classify,
    error_parts_from_body,
)

_PREVIEW_BYTES = 200


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes  # already decompressed when it really was compressed

    def preview(self) -> str:
        text = self.body[:_PREVIEW_BYTES].decode("utf-8", errors="replace")
        return text if text.strip() else "(empty body)"

    def json(self) -> Any:
        """The decoded JSON body, or None when there is none or it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Page:
    objects: list[dict[str, Any]]
    warnings: list[str]
    next_link: str | None


def decode_body(raw: bytes, content_encoding: str) -> bytes:
    """Undo gzip/deflate when the bytes really are compressed; otherwise keep them as they are."""
    encoding = content_encoding.strip().lower()
    if not raw or encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 47 accepts gzip and zlib headers alike; a body that is neither stays as sent.
        try:
            return zlib.decompress(raw, 47)
        except zlib.error:
            try:
                return zlib.decompress(raw, -15)
            except zlib.error:
                return raw
    return raw


def strip_annotations(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop OData annotations ("Guid@data.type", "@odata.type"): any key holding an '@'."""
    return {key: value for key, value in obj.items() if "@" not in key}


def parse_page(response: RawResponse, *, cmdlet: str, request_id: str) -> Page:
    document = response.json()
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise ExchangeProtocolError(
            f"expected a JSON object with a value array, got: {response.preview()}",
            cmdlet=cmdlet,
            status=response.status,
            request_id=request_id,
        )
    objects = [strip_annotations(item) for item in document["value"] if isinstance(item, dict)]
    warnings = [str(w) for w in document.get("@adminapi.warnings") or [] if w]
    next_link = document.get("@odata.nextLink")
    return Page(objects, warnings, next_link if isinstance(next_link, str) else None)


def error_from_response(response: RawResponse, *, cmdlet: str, request_id: str) -> ExchangeError:
    """The typed error a failed response stands for, classified by exception type and message."""
    error_id, exception_type, message = error_parts_from_body(response.json())
    if not message:
        diagnostics = response.headers.get("x-ms-diagnostics", "")
        message = diagnostics or response.preview()
    error_class = classify(exception_type, message)
    if response.status in (401, 403) and error_class is CmdletError:
        # 401 after a fresh token, or 403: the role does not grant what was asked, whatever
        # unrecognised detail text came with it.
        error_class = ExchangePermissionError
    return error_class(
        message,
        cmdlet=cmdlet,
        status=response.status,
        exception_type=exception_type,
        error_id=error_id,
        request_id=request_id,
    )
