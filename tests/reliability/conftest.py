"""Fixtures of the reliability suite (the security suite shares them): a fresh sandbox tenant
per test, its certificates made once per run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.sandbox.server import ThreadedSandbox


@pytest.fixture(scope="session")
def sandbox_certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-certificates")


@pytest.fixture
def sandbox(sandbox_certificates: Path) -> Iterator[ThreadedSandbox]:
    """The demo tenant, fresh: every membership the test sees changed, it changed."""
    with ThreadedSandbox(state_dir=sandbox_certificates) as running_sandbox:
        yield running_sandbox
