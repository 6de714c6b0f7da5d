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
  take minutes) keeps the lock, and a crashed process frees it after one expiry; the renewal
  runs from a timer, so a short turn creates no task for it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

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

# A Redis hash's key and the fields to read from it.
HashFields = tuple[str, Sequence[str]]


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
    async def hold(
        self, conversation_id: str, *, also_read: HashFields | None = None
    ) -> AsyncIterator[list[Any] | None]:
        """Run the body as the only turn of `conversation_id`, or raise TurnLockTimeout.

        `also_read` (a hash's key and fields): read them in the round trip that takes the lock,
        after it is ours, and yield their values (HMGET's list); else, or when that read
        failed, yield None. A turn that reads its state first thing saves a round trip to Redis
        this way."""
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
                token, values = await self._acquire(key, conversation_id, deadline, also_read)
                renewal = _Renewal(self, key, token, conversation_id)
                try:
                    yield values
                finally:
                    await renewal.stop()
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

    async def _acquire(
        self, key: str, conversation_id: str, deadline: float, also_read: HashFields | None
    ) -> tuple[str, list[Any] | None]:
        loop = asyncio.get_running_loop()
        token = secrets.token_hex(16)
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            if also_read is None:
                if await self._redis.set(key, token, nx=True, px=self._ttl_ms):
                    return token, None
            else:
                # A pipeline, not a script: the two keys may live in different hash slots
                # (Redis Cluster). The HMGET runs after the SET on the same connection, so
                # when the SET took the lock, what it read is what this turn would read.
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(key, token, nx=True, px=self._ttl_ms)
                    pipe.hmget(also_read[0], list(also_read[1]))
                    # A failed read (a key of another type) must not leave the lock taken
                    # and unreleased: the turn reads again, and meets the error, under it.
                    taken, values = await pipe.execute(raise_on_error=False)
                if isinstance(taken, Exception):
                    raise taken
                if taken:
                    return token, None if isinstance(values, Exception) else list(values)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TurnLockTimeout(conversation_id, self._wait)
            # Jitter spreads the retries of processes that all saw the same release.
            await asyncio.sleep(min(remaining, backoff * random.uniform(0.5, 1.5)))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


# How long the end of a turn waits for a renewal command already on its way to Redis.
_STOP_RENEWAL_SECONDS = 5.0


class _Renewal:
    """Renews one turn's lock every third of its expiry, from a timer on the event loop: a turn
    shorter than that (nearly all of them) costs one timer set and cancelled, not a task; a task
    exists only while a renewal command is on its way to Redis."""

    def __init__(self, lock: TurnLock, key: str, token: str, conversation_id: str) -> None:
        self._lock = lock
        self._key = key
        self._token = token
        self._conversation_id = conversation_id
        self._loop = asyncio.get_running_loop()
        self._interval = lock._ttl_ms / 3000  # noqa: SLF001 - the lock's own helper
        self._stopped = False
        self._in_flight: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(self._interval, self._due)

    def _due(self) -> None:
        self._timer = None
        if not self._stopped:
            self._in_flight = self._loop.create_task(self._renew())

    async def _renew(self) -> None:
        try:
            still_ours = await self._lock._renew(  # noqa: SLF001 - the lock's own script
                keys=[self._key],
                args=[self._token, self._lock._ttl_ms],  # noqa: SLF001
            )
        except Exception:  # Redis hiccup: try again next interval, the lock still runs
            log.warning("could not renew the turn lock of %s", self._conversation_id, exc_info=True)
            still_ours = True
        if not still_ours:
            log.warning(
                "the turn lock of %s expired while its turn ran; another turn may overlap",
                self._conversation_id,
            )
        elif not self._stopped:
            self._timer = self._loop.call_later(self._interval, self._due)

    async def stop(self) -> None:
        """No renewal after this returns. A renewal already on its way is waited for, not only
        cancelled: redis-py can swallow a cancellation that lands during a command
        (redis/redis-py#2028); once stopped it schedules no further one whatever happens. The
        cancel is the fallback for a renewal stuck on Redis past _STOP_RENEWAL_SECONDS."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        renewal = self._in_flight
        if renewal is None or renewal.done():
            return
        done, _ = await asyncio.wait({renewal}, timeout=_STOP_RENEWAL_SECONDS)
        if not done:
            renewal.cancel()
            log.warning("a turn lock renewal did not stop within %ss", _STOP_RENEWAL_SECONDS)
