"""The per-conversation turn lock against a real redis-server. Separate TurnLock instances on
separate Redis clients stand for separate bot processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from bot.turn_lock import TurnLock, TurnLockTimeout

KEY = "dlbot:turn-lock:msteams/a:conv"


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[redis.Redis]]:
    connections = [redis.Redis.from_url(redis_url) for _ in range(3)]
    yield connections
    for connection in connections:
        await connection.aclose()


class Overlap:
    """Records how many turns ran at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.order: list[int] = []

    async def turn(self, lock: TurnLock, number: int, conversation: str = "msteams/a:conv") -> None:
        async with lock.hold(conversation):
            self.running += 1
            self.most = max(self.most, self.running)
            await asyncio.sleep(0.005)
            self.order.append(number)
            self.running -= 1


async def test_turns_of_one_conversation_in_one_process_run_one_at_a_time(
    clients: list[redis.Redis],
) -> None:
    lock, overlap = TurnLock(clients[0]), Overlap()
    await asyncio.gather(*(overlap.turn(lock, n) for n in range(10)))
    assert overlap.most == 1
    assert sorted(overlap.order) == list(range(10))


async def test_turns_of_one_conversation_in_three_processes_run_one_at_a_time(
    clients: list[redis.Redis],
) -> None:
    locks, overlap = [TurnLock(c) for c in clients], Overlap()
    await asyncio.gather(*(overlap.turn(locks[n % 3], n) for n in range(15)))
    assert overlap.most == 1
    assert len(overlap.order) == 15


async def test_turns_of_different_conversations_run_at_the_same_time(
    clients: list[redis.Redis],
) -> None:
    lock, overlap = TurnLock(clients[0]), Overlap()
    await asyncio.gather(*(overlap.turn(lock, n, f"msteams/a:conv-{n}") for n in range(5)))
    assert overlap.most == 5


async def test_a_waiting_process_polls_redis_but_waiters_in_one_process_queue_locally(
    clients: list[redis.Redis],
) -> None:
    lock = TurnLock(clients[0])
    await clients[1].config_resetstat()
    overlap = Overlap()
    await asyncio.gather(*(overlap.turn(lock, n) for n in range(10)))
    stats = await clients[1].info("commandstats")
    # One SET NX per turn: the nine waiting turns queued on the process's asyncio lock.
    assert stats["cmdstat_set"]["calls"] == 10


async def test_the_lock_is_gone_after_the_turn(clients: list[redis.Redis]) -> None:
    lock = TurnLock(clients[0])
    async with lock.hold("msteams/a:conv"):
        assert await clients[1].exists(KEY) == 1
        assert lock.conversations_in_process == 1
    assert await clients[1].exists(KEY) == 0
    assert lock.conversations_in_process == 0  # no entry per conversation ever met


async def test_a_turn_that_raises_releases_the_lock(clients: list[redis.Redis]) -> None:
    lock = TurnLock(clients[0])
    with pytest.raises(RuntimeError):
        async with lock.hold("msteams/a:conv"):
            raise RuntimeError("the turn failed")
    assert await clients[1].exists(KEY) == 0
    async with asyncio.timeout(1), lock.hold("msteams/a:conv"):
        pass


async def test_waiting_too_long_raises_and_leaves_the_holder_alone(
    clients: list[redis.Redis],
) -> None:
    holder = TurnLock(clients[0])
    impatient = TurnLock(clients[1], wait_seconds=0.2)
    async with holder.hold("msteams/a:conv"):
        with pytest.raises(TurnLockTimeout):
            async with impatient.hold("msteams/a:conv"):
                pytest.fail("ran while another process held the conversation")
        assert await clients[2].exists(KEY) == 1
    assert impatient.conversations_in_process == 0


async def test_waiting_too_long_in_the_same_process_raises_too(clients: list[redis.Redis]) -> None:
    lock = TurnLock(clients[0], wait_seconds=0.2)
    async with lock.hold("msteams/a:conv"):
        with pytest.raises(TurnLockTimeout):
            async with lock.hold("msteams/a:conv"):
                pytest.fail("ran while another turn of this process held the conversation")


async def test_a_crashed_process_frees_the_conversation_after_the_expiry(
    clients: list[redis.Redis],
) -> None:
    # A process died holding the lock: its token stays until the key expires.
    await clients[0].set(KEY, "token-of-a-dead-process", px=300)
    lock = TurnLock(clients[1], wait_seconds=5)
    started = asyncio.get_running_loop().time()
    async with lock.hold("msteams/a:conv"):
        waited = asyncio.get_running_loop().time() - started
    assert 0.2 < waited < 2


async def test_a_slow_turn_keeps_its_lock_beyond_the_expiry(clients: list[redis.Redis]) -> None:
    slow = TurnLock(clients[0], ttl_seconds=0.3)
    other = TurnLock(clients[1], wait_seconds=0.1)
    async with slow.hold("msteams/a:conv"):
        await asyncio.sleep(0.8)  # almost three expiries
        with pytest.raises(TurnLockTimeout):
            async with other.hold("msteams/a:conv"):
                pytest.fail("the renewed lock was taken")


async def test_a_turn_ends_even_when_redis_swallows_the_cancel_of_a_renewal_in_flight(
    clients: list[redis.Redis],
) -> None:
    """redis-py can swallow a cancellation that lands during a command (redis/redis-py#2028);
    a renewal loop stopped only by cancel then renewed for ever and the turn never answered."""
    lock = TurnLock(clients[0], ttl_seconds=0.6)  # a renewal every 0.2 s
    renewal_in_flight = asyncio.Event()
    real_renew = lock._renew  # noqa: SLF001 - standing in for redis-py's command

    async def renew_swallowing_cancel(**kwargs: object) -> object:
        renewal_in_flight.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass  # what redis-py sometimes does
        return await real_renew(**kwargs)

    lock._renew = renew_swallowing_cancel  # type: ignore[assignment]  # noqa: SLF001

    async def turn() -> None:
        async with lock.hold("msteams/a:conv"):
            await renewal_in_flight.wait()  # the turn ends while a renewal is on its way

    ending = asyncio.create_task(turn())
    done, _ = await asyncio.wait({ending}, timeout=3)  # not wait_for: it would cancel the turn
    if not done:
        ending.cancel()
        pytest.fail("the turn never ended: its renewal loop outlived the cancel")
    assert await clients[1].exists(KEY) == 0


async def test_a_turn_shorter_than_a_third_of_the_expiry_creates_no_task(
    clients: list[redis.Redis],
) -> None:
    lock = TurnLock(clients[0], ttl_seconds=30)
    before = asyncio.all_tasks()
    async with lock.hold("msteams/a:conv"):
        during = asyncio.all_tasks()
    assert during == before


async def test_no_renewal_runs_after_the_turn_ends(clients: list[redis.Redis]) -> None:
    lock = TurnLock(clients[0], ttl_seconds=0.3)  # a renewal every 0.1 s
    renewals = 0
    real_renew = lock._renew  # noqa: SLF001 - counting the lock's own script

    async def counted_renew(**kwargs: object) -> object:
        nonlocal renewals
        renewals += 1
        return await real_renew(**kwargs)

    lock._renew = counted_renew  # type: ignore[assignment]  # noqa: SLF001
    async with lock.hold("msteams/a:conv"):
        await asyncio.sleep(0.35)
    renewed_during_the_turn = renewals
    await asyncio.sleep(0.35)
    assert renewed_during_the_turn >= 2
    assert renewals == renewed_during_the_turn
    assert await clients[1].exists(KEY) == 0


async def test_the_lock_reads_a_hash_in_its_round_trip_only_once_the_lock_is_ours(
    clients: list[redis.Redis],
) -> None:
    first, second = TurnLock(clients[0]), TurnLock(clients[1])
    state = ("dlbot:state:msteams/conversations/a:conv", ("e_tag", "doc"))
    async with first.hold("msteams/a:conv", also_read=state) as values:
        assert values == [None, None]

        async def waiting_turn() -> list[object] | None:
            async with second.hold("msteams/a:conv", also_read=state) as seen:
                return seen

        waiting = asyncio.create_task(waiting_turn())
        await asyncio.sleep(0.05)  # the other process polls while this turn writes
        await clients[0].hset(state[0], mapping={"e_tag": "1", "doc": "written"})
    assert await waiting == [b"1", b"written"]
    async with first.hold("msteams/a:conv") as nothing_asked:
        assert nothing_asked is None


async def test_a_read_that_fails_yields_nothing_and_the_lock_is_still_released(
    clients: list[redis.Redis],
) -> None:
    lock = TurnLock(clients[0])
    await clients[0].set("not-a-hash", "text")  # HMGET on it fails: WRONGTYPE
    async with lock.hold("msteams/a:conv", also_read=("not-a-hash", ("e_tag",))) as values:
        assert values is None
        assert await clients[1].exists(KEY) == 1
    assert await clients[1].exists(KEY) == 0


async def test_release_never_deletes_a_lock_another_turn_holds_now(
    clients: list[redis.Redis],
) -> None:
    lock = TurnLock(clients[0])
    async with lock.hold("msteams/a:conv"):
        # Our lock expired and another process took the conversation meanwhile.
        await clients[1].set(KEY, "someone-else")
    assert await clients[1].get(KEY) == b"someone-else"


def test_a_lock_needs_a_positive_expiry(clients: list[redis.Redis]) -> None:
    with pytest.raises(ValueError):
        TurnLock(clients[0], ttl_seconds=0)
