"""When to send an InvokeCommand again, and after how long: the ExchangeOnlineManagement policy.

At most `max_retries` retries. 429 waits for Retry-After (seconds, decimals allowed, or an HTTP
date); 503, 504, a 500 naming a transient exception, and a broken connection back off
exponentially with jitter. 400 and 404 are answers, never retried. (401 is renewed once by the
auth flow, below this policy.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from exchange.errors import is_transient
from exchange.wire import RawResponse

_ALWAYS_RETRIED = frozenset({429, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_seconds: float = 2.0
    max_retry_after_seconds: float = 120.0

    def should_retry(self, response: RawResponse, exception_type: str, message: str) -> bool:
        if response.status in _ALWAYS_RETRIED:
            return True
        return response.status == 500 and is_transient(exception_type, message)

    def delay(self, retry_number: int, response: RawResponse | None = None) -> float:
        """Seconds to wait before retry `retry_number` (0 for the first retry)."""
        if response is not None and response.status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after", ""))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after_seconds)
        backoff = self.backoff_seconds * (2**retry_number)
        # Jitter spreads the retries of many workers that failed together.
        return float(backoff * random.uniform(0.75, 1.25))


def parse_retry_after(value: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0)
