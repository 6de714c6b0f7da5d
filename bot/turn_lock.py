"""One turn at a time per conversation, across every bot process.

Teams delivers a person's messages and card clicks concurrently, and to any replica behind the
load balancer; two turns of one conversation that both load and save ConversationState would
collide on its e_tag (one of them fails). So each turn holds a lock on its conversation:

- in process, an asyncio.Lock per conversation queues the turns of this process without
  touching Redis (the entry is dropped when nobody holds or waits for it);
- across processes, a Redis key set with NX and an expiry holds a random token; waiting polls
  with exponential backoff and jitter; release deletes the key only if it still holds our token
  (a Lua compare-and-delete), so a turn that outlived its lock never frees someone else's;
- while the turn runs, the expiry is renewed every third of it, so a slow turn (Exchange can
  take minutes) keeps the lock, and a crashed process frees it after one expiry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from redis.asyncio import Redis

log = logging.getLogger(__name__)

_RELEASE = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
"""
_RENEW = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
"""

FIRST_BACKOFF_SECONDS = 0.005
MAX_BACKOFF_SECONDS = 0.25


class TurnLockTimeout(Exception):
    """Another turn of the conversation held it for longer than we may wait."""

    def __init__(self, conversation_id: str, waited: float) -> None:
        super().__init__(
            f"conversation {conversation_id!r} stayed locked by another turn for {waited:.1f}s"
        )
        self.conversation_id = conversation_id


@dataclass
class _Local:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders and waiters; the entry goes when this drops to 0


class TurnLock:
    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: float = 30.0,
        wait_seconds: float = 20.0,
        namespace: str = "dlbot:turn-lock:",
    ) -> None:
        if ttl_seconds <= 0 or wait_seconds < 0:
            raise ValueError("ttl_seconds must be positive and wait_seconds not negative")
        self._redis = redis
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._wait = wait_seconds
        self._namespace = namespace
        self._local: dict[str, _Local] = {}
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    @property
    def conversations_in_process(self) -> int:
        """Conversations with a turn holding or waiting in this process (0 when idle)."""
        return len(self._local)

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        """Run the body as the only turn of `conversation_id`, or raise TurnLockTimeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        local = self._local.setdefault(conversation_id, _Local())
        local.users += 1
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    await local.lock.acquire()
            except TimeoutError:
                raise TurnLockTimeout(conversation_id, self._wait) from None
            try:
                key = self._namespace + conversation_id
                token = await self._acquire(key, conversation_id, deadline)
                turn_over = asyncio.Event()
                renewal = asyncio.create_task(self._keep(key, token, conversation_id, turn_over))
                try:
                    yield
                finally:
                    await _stop(renewal, turn_over)
                    try:
                        await self._release(keys=[key], args=[token])
                    except Exception:  # the key expires by itself; don't mask the turn's outcome
                        log.warning(
                            "could not release the turn lock of %s", conversation_id, exc_info=True
                        )
            finally:
                local.lock.release()
        finally:
            local.users -= 1
            if local.users == 0:
                del self._local[conversation_id]

    async def _acquire(self, key: str, conversation_id: str, deadline: float) -> str:
        loop = asyncio.get_running_loop()
        token = secrets.token_hex(16)
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            if await self._redis.set(key, token, nx=True, px=self._ttl_ms):
                return token
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TurnLockTimeout(conversation_id, self._wait)
            # Jitter spreads the retries of processes that all saw the same release.
            await asyncio.sleep(min(remaining, backoff * random.uniform(0.5, 1.5)))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _keep(
        self, key: str, token: str, conversation_id: str, turn_over: asyncio.Event
    ) -> None:
        interval = self._ttl_ms / 3000
        while True:
            with suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await turn_over.wait()
            if turn_over.is_set():
                return
            try:
                still_ours = await self._renew(keys=[key], args=[token, self._ttl_ms])
            except Exception:  # Redis hiccup: try again next interval, the lock still runs
                log.warning("could not renew the turn lock of %s", conversation_id, exc_info=True)
                continue
            if not still_ours:
                log.warning(
                    "the turn lock of %s expired while its turn ran; another turn may overlap",
                    conversation_id,
                )
                return


# How long the end of a turn waits for a renewal command already on its way to Redis.
_STOP_RENEWAL_SECONDS = 5.0


async def _stop(renewal: asyncio.Task[None], turn_over: asyncio.Event) -> None:
    """End the renewal loop by telling it the turn is over, not by cancelling it alone:
    redis-py can swallow a cancellation that lands during a command (redis/redis-py#2028), and a
    loop that never saw it would renew the lock, and hold this turn's answer, for ever. The
    cancel is the fallback for a renewal stuck on Redis past _STOP_RENEWAL_SECONDS."""
    turn_over.set()
    done, _ = await asyncio.wait({renewal}, timeout=_STOP_RENEWAL_SECONDS)
    if not done:
        renewal.cancel()
        log.warning("a turn lock renewal did not stop within %ss", _STOP_RENEWAL_SECONDS)
