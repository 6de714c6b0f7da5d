"""`dlbot sync` over a generated 100,000-list tenant: wall time and peak RSS of the sync process.

Three processes, so the figures are the sync's alone: a sandbox serving the generated tenant
(`dlbot sandbox --tenant-file`, which needs memory of its own to hold the tenant), a private
redis-server, and `python -m bot.sync_command` (what `dlbot sync` runs), whose resource usage
is read with os.wait4 when it exits.

    .venv/bin/python bench/sync_100k.py                        # 100,000 lists, 20,000 users
    .venv/bin/python bench/sync_100k.py --lists 10000 --users 2000
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--tenant-file", type=Path, default=None, help="reuse a generated tenant")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dlbot-sync-bench-"))
    tenant = args.tenant_file or work / "tenant.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLBOT_")}
    if args.tenant_file is None:
        subprocess.run(
            [sys.executable, "-m", "exchange.sandbox.generate", "--lists", str(args.lists),
             "--users", str(args.users), "--out", str(tenant)],
            cwd=ROOT, check=True,
        )  # fmt: skip
    redis_port = _free_port()
    redis_server = shutil.which("redis-server") or "redis-server"
    redis = subprocess.Popen(
        [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    state = work / "sandbox"
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0", "--tenant-file", str(tenant),
         "--state-dir", str(state)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(state / "sandbox.env", sandbox, 600)
        env_file = work / "sync.env"
        env_file.write_text(
            (state / "sandbox.env").read_text()
            + f"\nDLBOT_REDIS_URL=redis://127.0.0.1:{redis_port}/0\n"
        )
        started = time.monotonic()
        sync = subprocess.Popen(
            [sys.executable, "-m", "bot.sync_command", "--env-file", str(env_file)],
            cwd=ROOT, env=env,
        )  # fmt: skip
        _, status, usage = os.wait4(sync.pid, 0)
        wall = time.monotonic() - started
        sync.returncode = os.waitstatus_to_exitcode(status)
        print(
            f"sync: exit {sync.returncode}, wall {wall:.1f} s, "
            f"peak RSS {usage.ru_maxrss / 1024:.0f} MiB, "
            f"CPU {usage.ru_utime + usage.ru_stime:.1f} s (user {usage.ru_utime:.1f} s)"
        )
        with open(f"/proc/{sandbox.pid}/status") as status_file:
            sandbox_rss = next(line for line in status_file if line.startswith("VmHWM"))
        print(f"sandbox (not the sync): {' '.join(sandbox_rss.split()[1:])} peak RSS")
        return sync.returncode
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=60)
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
