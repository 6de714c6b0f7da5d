"""`dlbot sync` run as an admin runs it: against a sandbox tenant and a real Redis, in a process
of its own, reading its settings from an env file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_sync

from bot.sync_command import Progress
from exchange.sandbox.server import ThreadedSandbox
from skills.index_store import PREFIX as LISTS_PREFIX
from skills.people_store import PREFIX as PEOPLE_PREFIX
from tests.bot.test_exchange_command import DEMO_APP_ID, DEMO_SECRET


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox(state_dir=tmp_path_factory.mktemp("sync") / "state") as running:
        yield running


def _env_file(path: Path, sandbox: ThreadedSandbox, redis_url: str, secret: str) -> Path:
    path.write_text(
        f"DLBOT_EXCHANGE_BASE_URL={sandbox.base_url}\n"
        f"DLBOT_EXCHANGE_AUTHORITY={sandbox.base_url}\n"
        f"DLBOT_EXCHANGE_TENANT={sandbox.tenant_id}\n"
        f"DLBOT_EXCHANGE_CLIENT_ID={DEMO_APP_ID}\n"
        f"DLBOT_EXCHANGE_CLIENT_SECRET={secret}\n"
        f"DLBOT_EXCHANGE_CA_FILE={sandbox.ca_file}\n"
        "DLBOT_EXCHANGE_RETRY_BACKOFF_SECONDS=0.01\n"
        f"DLBOT_REDIS_URL={redis_url}\n"
    )
    return path


def _sync(env_file: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # `python -m bot.sync_command` is `dlbot sync` without bot/cli.py's parser in front.
    return subprocess.run(
        [sys.executable, "-m", "bot.sync_command", "--env-file", str(env_file), *args],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("DLBOT_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _live_keys(redis_url: str, prefix: str) -> int:
    with redis_sync.Redis.from_url(redis_url) as client:
        return len(client.keys(f"{prefix}:current"))


def test_a_sync_fills_both_snapshots_shows_progress_and_prints_the_counts(
    sandbox: ThreadedSandbox, redis_url: str, tmp_path: Path
) -> None:
    env = _env_file(tmp_path / "sync.env", sandbox, redis_url, DEMO_SECRET)

    result = _sync(env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "lists" in result.stderr and "people" in result.stderr and "done" in result.stderr
    (summary,) = result.stdout.splitlines()
    assert summary.startswith("synced ") and " lists in " in summary and " people in " in summary
    assert _live_keys(redis_url, LISTS_PREFIX) == _live_keys(redis_url, PEOPLE_PREFIX) == 1


def test_lists_only_leaves_the_people_alone(
    sandbox: ThreadedSandbox, redis_url: str, tmp_path: Path
) -> None:
    env = _env_file(tmp_path / "sync.env", sandbox, redis_url, DEMO_SECRET)

    result = _sync(env, "--lists-only", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert " people " not in result.stdout
    assert _live_keys(redis_url, PEOPLE_PREFIX) == 0


def test_a_wrong_secret_is_one_line_and_exit_1(
    sandbox: ThreadedSandbox, redis_url: str, tmp_path: Path
) -> None:
    env = _env_file(tmp_path / "bad.env", sandbox, redis_url, "not-the-secret")

    result = _sync(env, cwd=tmp_path)

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("dlbot sync: Exchange failed: ExchangeAuthError")
    assert result.stdout == ""


def test_without_a_redis_url_the_sync_says_so_and_exits_2(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    env = _env_file(tmp_path / "sync.env", sandbox, "", DEMO_SECRET)

    result = _sync(env, cwd=tmp_path)

    assert result.returncode == 2
    assert "DLBOT_REDIS_URL" in result.stderr and "Traceback" not in result.stderr


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    stream = io.StringIO()
    progress = Progress("lists", stream, tty=True)

    progress.advance(1000)
    progress.advance(1000)
    progress.finish()

    assert stream.getvalue().count("\r") == 3 and stream.getvalue().count("\n") == 1
    assert "2,000 read, 2 pages" in stream.getvalue()


def test_without_a_terminal_progress_is_a_line_now_and_then_and_a_last_one() -> None:
    stream = io.StringIO()
    progress = Progress("people", stream, tty=False)

    for _ in range(50):
        progress.advance(1000)  # within a second: only the first page gets a line
    progress.finish()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert "50,000 read, 50 pages" in lines[-1] and lines[-1].endswith("done")
