"""The whole of dlbot (tests/system's fixtures) with two Playgrounds, and their pages in Chromium.

- `playground`: Playground A, Alex Wilber signed in (the requester), as in tests/system;
- `owner_playground`: Playground B on the same bot, Megan Bowen signed in (an owner);
- `ui`: tools/ui-driver.js, which drives Debian's Chromium through playwright-core (never a
  downloaded browser). Each page gets its own browser and a fresh profile.

Chromium must be installed (./dev test installs it): without it the UI tests fail, they are not
skipped. The browser resolves no host name but localhost; ./dev test runs it all in a
loopback-only network namespace anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.playground.harness import Playground
from tests.system.conftest import (  # noqa: F401  (fixtures, by name)
    bot_url,
    dlbot,
    playground,
    playground_bot,
    playground_services,
    playground_settings,
    playground_user,
    playground_user_ids,
    sandbox,
)

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tools" / "ui-driver.js"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS_ENV = "DLBOT_SAVE_SCREENSHOTS"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
# Headroom over a command's own timeout for the driver to answer.
ANSWER_SLACK_SECONDS = 5.0


class UiError(AssertionError):
    pass


def chromium_path() -> str:
    found = shutil.which("chromium") or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if found is None:
        pytest.fail(
            "Chromium is not installed, so the UI tests cannot run: "
            "run the suite with ./dev test (it installs Debian's chromium), "
            "or apt-get install chromium",
            pytrace=False,
        )
    return found


class UiDriver:
    """A client for tools/ui-driver.js: one JSON command per line, one JSON answer per line."""

    def __init__(self, process: asyncio.subprocess.Process, workdir: Path) -> None:
        self._process = process
        self._workdir = workdir
        self._ids = 0
        self._lock = asyncio.Lock()

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, workdir: Path) -> AsyncIterator[UiDriver]:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed (the UI driver needs Node 20)", pytrace=False)
        if not (ROOT / "node_modules" / "playwright-core").is_dir():
            pytest.fail("node_modules is missing: run ./dev test (it runs npm ci)", pytrace=False)
        env = {**os.environ, "CHROMIUM": chromium_path(), "HOME": str(workdir)}
        with (workdir / "ui-driver.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                node,
                str(DRIVER),
                cwd=ROOT,
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                limit=32 * 1024 * 1024,  # an "html" answer is one long line
            )
        driver = cls(process, workdir)
        try:
            yield driver
        finally:
            await driver._stop()

    async def run(self, op: str, *, timeout_ms: int = 10_000, **fields: Any) -> dict[str, Any]:
        """Send one command; its answer, or UiError (with a screenshot of the page it was on)."""
        answer = await self._send({"op": op, "timeout": timeout_ms, **fields}, timeout_ms)
        if not answer.get("ok"):
            shot = await self._failure_screenshot(fields.get("page"))
            raise UiError(f"{op} {json.dumps(fields)} failed: {answer.get('error')}{shot}")
        return answer

    async def _send(self, command: dict[str, Any], timeout_ms: int) -> dict[str, Any]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        async with self._lock:
            self._ids += 1
            command["id"] = self._ids
            stdin.write((json.dumps(command) + "\n").encode())
            await stdin.drain()
            try:
                async with asyncio.timeout(timeout_ms / 1000 + ANSWER_SLACK_SECONDS):
                    while True:
                        line = await stdout.readline()
                        if not line:
                            log = (self._workdir / "ui-driver.log").read_text(errors="replace")
                            raise UiError(f"the UI driver exited: {log[-2000:]}")
                        answer: dict[str, Any] = json.loads(line)
                        # A late answer to a command we stopped waiting for: not ours.
                        if answer.get("id") == command["id"]:
                            return answer
            except TimeoutError:
                raise UiError(f"the UI driver did not answer {command['op']}") from None

    async def _failure_screenshot(self, page: str | None) -> str:
        if page is None or self._process.returncode is not None:
            return ""
        path = self._workdir / f"failure-{page}.png"
        with contextlib.suppress(UiError, TimeoutError, OSError):
            answer = await self._send(
                {"op": "screenshot", "page": page, "path": str(path), "timeout": 5000}, 5000
            )
            if answer.get("ok"):
                return f" (the page then: {path})"
        return ""

    async def _stop(self) -> None:
        process = self._process
        if process.returncode is None:
            with contextlib.suppress(UiError, TimeoutError, OSError, ConnectionError):
                await self._send({"op": "close", "timeout": 10_000}, 10_000)
        if process.stdin is not None:
            process.stdin.close()
            with contextlib.suppress(OSError, ConnectionError):
                await process.stdin.wait_closed()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def owner_playground(
    bot_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Playground]:
    """Playground B: Megan Bowen's own client on the same bot (another port, another chat)."""
    workdir = tmp_path_factory.mktemp("playground-meganb")
    async with Playground.start(
        f"{bot_url}/api/messages", workdir, current_user="meganb", user_ids="object"
    ) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ui(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UiDriver]:
    async with UiDriver.start(tmp_path_factory.mktemp("ui")) as driver:
        yield driver


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's screenshots go; see `keep_screenshot` for the README's copies."""
    return tmp_path_factory.mktemp("screenshots")


def keep_screenshot(path: Path) -> None:
    """Copy a screenshot to docs/screenshots/ for the README, only when DLBOT_SAVE_SCREENSHOTS
    is set (a normal test run writes nothing into the repository)."""
    if os.environ.get(SCREENSHOTS_ENV):
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SCREENSHOTS / path.name)
