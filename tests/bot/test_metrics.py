"""The Prometheus figures of bot/metrics.py: Exchange calls of a real client against the sandbox,
and the workflow figures kept in a real Redis after real requests went through the service."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis
from pydantic import SecretStr
from saq import Queue

from approvals.audit import RedisStreamAudit
from approvals.errors import TransientWriteError
from approvals.models import RequestKind
from approvals.ports import JobName
from approvals.redis_store import RedisRequestStore
from approvals.service import ApprovalService
from approvals.testing import (
    InMemoryJobQueue,
    InMemoryMembershipWriter,
    InMemoryNotifier,
    StaticApprovers,
)
from bot.health import Metrics, passing_for
from bot.jobs import SaqJobQueue
from bot.metrics import ExchangeCallMetrics, RecordingAudit, RedisHistogram, WorkflowMetrics
from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.errors import CmdletError, ObjectNotFound
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant
from tests.approvals import demo
from tests.exchange.conftest import DEMO_APP_ID, DEMO_SECRET


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text, or None when it is absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if found == labels:
            return float(value)
    return None


# Exchange calls (per process) -----------------------------------------------------------------


@pytest.fixture
async def tenant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(Tenant.demo(), state_dir=tmp_path_factory.mktemp("sandbox")) as server:
        yield server


def client_of(tenant: SandboxServer, metrics: ExchangeCallMetrics) -> ExchangeClient:
    config = ExchangeConfig(
        base_url=tenant.base_url,
        authority_host=tenant.base_url,
        tenant=tenant.tenant_id,
        client_id=DEMO_APP_ID,
        client_secret=SecretStr(DEMO_SECRET),
        ca_file=tenant.ca_file,
        retry_backoff_seconds=0.01,
    )
    return ExchangeClient(config, observer=metrics)


async def test_exchange_calls_are_counted_by_cmdlet_and_outcome(
    tenant: SandboxServer,
) -> None:
    metrics = ExchangeCallMetrics()
    async with client_of(tenant, metrics) as client:
        await client.get_accepted_domains()
        await client.get_accepted_domains()
        with pytest.raises(ObjectNotFound):
            await client.get_distribution_group("no-such-list@contoso.com")
        with pytest.raises(CmdletError):
            await client.call_cmdlet("Get-Mailbox", {"ResultSize": 1})

    text = metrics.render()
    assert (
        sample(text, "dlbot_exchange_calls_total", cmdlet="Get-AcceptedDomain", outcome="ok") == 2
    )
    assert (
        sample(
            text,
            "dlbot_exchange_calls_total",
            cmdlet="Get-DistributionGroup",
            outcome="ObjectNotFound",
        )
        == 1
    )
    # A cmdlet dlbot does not run itself (the admin command line) cannot grow the series.
    assert sample(text, "dlbot_exchange_calls_total", cmdlet="other", outcome="CmdletError") == 1
    assert sample(text, "dlbot_exchange_call_seconds_count", cmdlet="Get-AcceptedDomain") == 2


async def test_exchange_retries_are_counted_by_reason(
    tenant: SandboxServer,
) -> None:
    metrics = ExchangeCallMetrics()
    tenant.inject(Fault("throttle", cmdlet="Get-AcceptedDomain", count=2, retry_after="0.01"))
    tenant.inject(Fault("unavailable", cmdlet="Get-User", count=1))
    async with client_of(tenant, metrics) as client:
        await client.get_accepted_domains()
        await client.get_user("alexw@contoso.com")

    text = metrics.render()
    assert (
        sample(text, "dlbot_exchange_retries_total", cmdlet="Get-AcceptedDomain", reason="http_429")
        == 2
    )
    assert sample(text, "dlbot_exchange_retries_total", cmdlet="Get-User", reason="http_503") == 1
    assert sample(text, "dlbot_exchange_calls_total", cmdlet="Get-User", outcome="ok") == 1


def test_label_values_outside_the_known_sets_become_other() -> None:
    metrics = ExchangeCallMetrics()
    for n in range(50):
        metrics.call_finished(f"Set-Thing{n}", f"Weird{n}", 0.1)
        metrics.call_retried(f"Set-Thing{n}", f"http_{n}")

    text = metrics.render()
    assert sample(text, "dlbot_exchange_calls_total", cmdlet="other", outcome="other") == 50
    assert sample(text, "dlbot_exchange_retries_total", cmdlet="other", reason="other") == 50


# Shared figures in Redis --------------------------------------------------------------------


async def test_a_redis_histogram_renders_cumulative_buckets_sum_and_count(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    try:
        histogram = RedisHistogram(
            connection, "dlbot:{metrics}:test", "t_seconds", "T.", ("k",), (1, 10)
        )
        for seconds in (0.5, 5, 5, 50):
            await histogram.observe(("join",), seconds)
        # Another process (another object over the same key) sees the same counts.
        text = await RedisHistogram(
            connection, "dlbot:{metrics}:test", "t_seconds", "T.", ("k",), (1, 10)
        ).render()
    finally:
        await connection.aclose()

    assert sample(text, "t_seconds_bucket", k="join", le="1") == 1
    assert sample(text, "t_seconds_bucket", k="join", le="10") == 3
    assert sample(text, "t_seconds_bucket", k="join", le="+Inf") == 4
    assert sample(text, "t_seconds_sum", k="join") == 60.5
    assert sample(text, "t_seconds_count", k="join") == 4


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def connection(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_workflow_figures_follow_real_requests_through_the_service(
    connection: redis.Redis,
) -> None:
    clock = Clock()
    store = RedisRequestStore(connection)
    workflow = WorkflowMetrics(connection, store)
    jobs = InMemoryJobQueue()
    writer = InMemoryMembershipWriter([TransientWriteError("throttled", exchange_request_id="x")])
    service = ApprovalService(
        store=store,
        approvers=StaticApprovers(
            {
                demo.FINANCE_EMEA.object_id: (demo.approver(demo.MEGAN),),
                demo.IT_ANNOUNCEMENTS.object_id: (demo.approver(demo.MEGAN),),
            }
        ),
        notifier=InMemoryNotifier(),
        jobs=jobs,
        writer=writer,
        audit=RecordingAudit(RedisStreamAudit(connection), workflow),
        clock=clock,
    )

    approved = await service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.FINANCE_EMEA
    )
    denied = await service.submit(
        kind=RequestKind.JOIN, requester=demo.ALEX, group=demo.IT_ANNOUNCEMENTS
    )
    await service.submit(kind=RequestKind.JOIN, requester=demo.LEE, group=demo.FINANCE_EMEA)
    await jobs.run_all(service)
    clock.now += timedelta(minutes=30)
    await service.decide(approved.request.id, demo.MEGAN, approve=True)
    clock.now += timedelta(hours=2)
    await service.decide(denied.request.id, demo.MEGAN, approve=False, reason="no")
    # The first write attempt fails (throttled) and is retried 20 s later.
    clock.now += timedelta(seconds=10)
    with pytest.raises(TransientWriteError):
        await service.execute(approved.request.id)
    clock.now += timedelta(seconds=20)
    await jobs.run_all(service)

    text = await workflow.render()
    assert sample(text, "dlbot_requests_total", kind="join", event="submitted") == 3
    assert sample(text, "dlbot_requests_total", kind="join", event="completed") == 1
    assert sample(text, "dlbot_requests_total", kind="join", event="denied") == 1
    assert sample(text, "dlbot_requests_open", kind="join", state="pending") == 1
    assert sample(text, "dlbot_requests_open", kind="join", state="approved") == 0
    decision = {"kind": "join", "decision": "approved"}
    assert sample(text, "dlbot_time_to_decision_seconds_sum", **decision) == 1800
    assert sample(text, "dlbot_time_to_decision_seconds_bucket", **decision, le="900") == 0
    assert sample(text, "dlbot_time_to_decision_seconds_bucket", **decision, le="3600") == 1
    denial = {"kind": "join", "decision": "denied"}
    assert sample(text, "dlbot_time_to_decision_seconds_sum", **denial) == 9000
    execution = {"kind": "join", "outcome": "completed"}
    # From the approval to the change made: 2 h (the denial meanwhile) + 10 s + 20 s.
    assert sample(text, "dlbot_time_to_execution_seconds_sum", **execution) == 7230
    assert sample(text, "dlbot_time_to_execution_seconds_count", **execution) == 1
    assert sample(text, "dlbot_audit_events") == len(await RedisStreamAudit(connection).read())


async def test_queue_depth_is_read_from_saq(connection: redis.Redis, redis_url: str) -> None:
    queue = Queue.from_url(redis_url, name="dlbot")
    try:
        jobs = SaqJobQueue(queue)
        await jobs.enqueue(JobName.EXECUTE, "r1")
        await jobs.enqueue(JobName.DELIVER_CARDS, "r2")
        await jobs.enqueue(JobName.DELIVER_CARDS, "r3", delay_seconds=3600)
        text = await WorkflowMetrics(connection, RedisRequestStore(connection), queue).render()
    finally:
        await queue.disconnect()

    assert sample(text, "dlbot_queue_jobs", state="queued") == 2
    assert sample(text, "dlbot_queue_jobs", state="active") == 0
    assert sample(text, "dlbot_queue_jobs", state="incomplete") == 3


async def test_a_failing_collector_is_reported_and_the_rest_still_served() -> None:
    metrics = Metrics()
    metrics.activity_received("message")

    async def broken() -> str:
        raise ConnectionError("redis is down")

    metrics.collectors["workflow"] = broken
    text = await metrics.render_all()

    assert sample(text, "dlbot_activities_received_total", type="message") == 1
    assert sample(text, "dlbot_metrics_collector_up", collector="workflow") == 0


async def test_a_passing_check_is_not_repeated_for_a_while_and_a_failing_one_always_is() -> None:
    runs: list[bool] = []
    healthy = True

    async def check() -> None:
        runs.append(healthy)
        if not healthy:
            raise ConnectionError("down")

    cached = passing_for(check, seconds=3600)
    await cached()
    await cached()
    assert runs == [True]

    failing = passing_for(check, seconds=3600)
    healthy = False
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await failing()
    assert runs == [True, False, False]
