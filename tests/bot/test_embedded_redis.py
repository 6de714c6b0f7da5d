"""The demo's own redis-server keeps its data across a restart (append-only file on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from bot.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from tests.conftest import _free_port


def test_data_written_before_a_restart_is_there_after_it(tmp_path: Path) -> None:
    port = _free_port()
    with EmbeddedRedis(tmp_path / "redis", port) as url, redis.Redis.from_url(url) as client:
        client.set("request", "kept")
    with EmbeddedRedis(tmp_path / "redis", port) as url, redis.Redis.from_url(url) as client:
        assert client.get("request") == b"kept"


def test_a_port_already_in_use_by_redis_is_refused_with_advice(tmp_path: Path) -> None:
    port = _free_port()
    with EmbeddedRedis(tmp_path / "a", port):
        with pytest.raises(EmbeddedRedisError, match="DLBOT_REDIS_URL"):
            EmbeddedRedis(tmp_path / "b", port).__enter__()
