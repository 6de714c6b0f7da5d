"""The sandbox tenant and the real Exchange client, for the skills that read Exchange live."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange.client import ExchangeClient
from exchange.sandbox.server import SandboxServer
from skills.exchange_directory import ExchangeListDirectory
from tests.exchange.conftest import client, make_config, sandbox, sandbox_state_dir  # noqa: F401

CallCounter = Callable[[], int]


@pytest.fixture
def directory(client: ExchangeClient) -> ExchangeListDirectory:  # noqa: F811
    return ExchangeListDirectory(client)


@pytest.fixture
def exchange_calls(sandbox: SandboxServer) -> CallCounter:  # noqa: F811
    """Logical Exchange calls since the last reading: one per client-request-id (pages and
    retries of one call share it), as the cost comments in skills.exchange_directory count."""
    start = len(sandbox.requests)

    def count() -> int:
        nonlocal start
        ids = {r.client_request_id for r in sandbox.requests[start:]}
        start = len(sandbox.requests)
        return len(ids)

    return count
