"""Issue 8, item 3 (processes): a bot or worker killed with SIGKILL at the worst moment loses
nothing and does nothing twice once it is started again.

The processes are real `dlbot serve` / `dlbot worker` processes; this process runs the sandbox
tenant, the Redis they share, and the Bot Connector stand-in that records what they send.
The gap between storing a request and queueing its job (a narrower window than a signal can
hit) is covered by tests/system/test_join_journey.py, whose sweep re-queues what it left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from saq.job import Status

from approvals.audit import AuditAction, RedisStreamAudit
from approvals.models import RequestKind, RequestStatus
from approvals.ports import JobName
from bot.jobs import HEARTBEAT_TIMEOUT_SECONDS, job_key
from bot.settings import Settings
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.reliability.world import (
    ADD,
    World,
    eventually,
    free_port,
    personal,
    replies,
    spawn_bot,
    spawn_worker,
    world,
    world_settings,
)

ALEX, MEGAN, LEE = demo.ALEX, demo.MEGAN, demo.LEE
BOOK_CLUB = demo.listref(
    "fc377a4c-4a15-444d-85e7-ce8a3a578a8e", "book-club@contoso.com", "Book Club"
)


@pytest.fixture
def settings(redis_url: str, sandbox: ThreadedSandbox) -> Settings:
    return world_settings(redis_url, sandbox)


@pytest.fixture
async def product(settings: Settings, sandbox: ThreadedSandbox) -> AsyncIterator[World]:
    """The product without a worker: the test starts (and kills) the one that runs."""
    async with world(settings, sandbox, worker=False) as running:
        await running.install(ALEX, MEGAN, LEE)
        yield running


async def _executions(product: World, request_id: str) -> int:
    events = await RedisStreamAudit(product.dlbot.edge.redis).read()
    return len(
        [e for e in events if e.request_id == request_id and e.event == AuditAction.EXECUTED]
    )


async def _sweep_after_the_heartbeat_timeout(product: World, request_id: str) -> None:
    """What saq's own sweep does to a job whose worker died, once the job has gone without a
    heartbeat for HEARTBEAT_TIMEOUT_SECONDS: abort it and queue it again. The job's last beat
    is moved back past that limit instead of waiting it out; the sweep's once-a-minute lock is
    lifted too. Its start stays as it was: the job's own (ten-minute) timeout is not what
    frees it."""
    queue = product.dlbot.queue
    job = await queue.job(job_key(JobName.EXECUTE, request_id))
    assert job is not None and job.status is Status.ACTIVE  # the dead worker's, stuck
    job.touched -= (HEARTBEAT_TIMEOUT_SECONDS + 1) * 1000
    await queue.redis.set(job.id, queue.serialize(job))
    await queue.redis.delete(queue._sweep)  # noqa: SLF001
    assert await queue.sweep(abort=0.5) == [job.id]


async def test_a_worker_killed_during_an_exchange_write_makes_the_change_once_after_restart(
    product: World, settings: Settings, sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    # Exchange is slow to answer this write: the worker is killed while it waits, and the
    # sandbox carries the write out anyway, as Exchange would (the response is what is lost).
    sandbox.inject(Fault(kind="latency", cmdlet=ADD, count=1, latency_ms=3000))

    with spawn_worker(settings, tmp_path) as worker:
        # Asked once the worker's first sweep is over: a job dequeued while a starting worker
        # sweeps is swept at once by saq (it is not marked active yet), another case.
        queue = product.dlbot.queue

        async def first_sweep_done() -> bool:
            return bool(await queue.redis.exists(queue._sweep))  # noqa: SLF001

        await eventually(first_sweep_done)
        submitted = await product.dlbot.approvals.submit(
            kind=RequestKind.JOIN, requester=ALEX, group=BOOK_CLUB, auto_approved="open list"
        )
        request_id = submitted.request.id

        async def in_flight() -> bool:
            return any(r.cmdlet == ADD and r.fault == "latency" for r in sandbox.requests)

        await eventually(in_flight)
        worker.kill()

    async def written_by_exchange() -> bool:
        return "alexw@contoso.com" in product.members("book-club")

    await eventually(written_by_exchange)
    assert (await product.dlbot.approvals.get(request_id)).status is RequestStatus.APPROVED

    with spawn_worker(settings, tmp_path):
        await _sweep_after_the_heartbeat_timeout(product, request_id)

        def told() -> list[str]:
            return [text for text in replies(product.connector.sent()) if "Book Club" in text]

        async def completed_and_told() -> bool:
            done = await product.dlbot.approvals.get(request_id)
            return done.status is RequestStatus.COMPLETED and bool(told())

        await eventually(completed_and_told)
        await asyncio.sleep(1)  # room for a second notice, were one on its way

    assert product.members("book-club").count("alexw@contoso.com") == 1
    assert await _executions(product, request_id) == 1
    assert len(told()) == 1  # Alex hears it once


async def test_a_bot_killed_after_storing_a_request_sends_its_cards_after_restart(
    product: World, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    bot_url = f"http://127.0.0.1:{port}"

    async def alex_says(text: str, expect: str) -> None:
        seen = len(product.connector.sent())
        status, _ = await product.post(product.activity(ALEX, text=text), url=bot_url)
        assert status == 201
        said = [str(body) for body in product.connector.sent()[seen:]]
        assert any(expect in text for text in said), said

    with spawn_bot(settings, port, tmp_path) as bot:
        await alex_says("add me to finance emea", "Why do you need to join?")
        await alex_says("I moved to the EMEA finance team", "Send your request")
        await alex_says("yes", "I've asked")
        bot.kill()

    (request,) = await product.dlbot.approvals.requests_of(ALEX.object_id)
    assert request.status is RequestStatus.PENDING and request.cards == ()

    # The same bot again, this time with its worker (`dlbot serve`).
    with spawn_bot(settings, port, tmp_path, with_worker=True):
        request = await product.cards_out(request.id, 2)

    assert {card.approver_id for card in request.cards} == {MEGAN.object_id, LEE.object_id}
    for owner in (MEGAN, LEE):
        cards = [
            r
            for r in product.connector.requests
            if r.method == "POST" and personal(owner) in r.path and "Finance EMEA" in str(r.body)
        ]
        assert len(cards) == 1  # in the chat the owner already has, once
