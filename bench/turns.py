"""Turns per second, latency and CPU per turn: dlbot against Microsoft's echo sample, A/B.

Everything runs on loopback, each bot in a process of its own (its CPU read from /proc), the load
generator and the Bot Connector stub in this process, a private redis-server and the sandbox
tenant in theirs:

- echo-stock: Microsoft's 02.echo-bot sample on the stock SDK (bench/baselines/echo_bot), "the
  peer";
- echo-floor: the same with only msrest's safe_codes as a frozenset, "the floor of this stack";
- dlbot-fixed / -round-three / -round-two / -fingerprint / -pooled / -safe-codes / -stock:
  dlbot's real app (bench/dlbot_server.py) as shipped; without the fourth round (the schema
  codec's class plans, the preloaded state serving every read, references by EVALSHA, the
  people pointer kept); also without the state read in the turn lock's round trip and the
  pickled activity copy; also without the state codec and the reference built once per sender;
  also without the state fingerprint; also without kept connector clients; or with no SDK fix
  at all (each variant one change from the next).

Scenarios:
1. compare (interleaved rounds, the order alternating each round): the echo bots get one message
   per conversation; the dlbot variants a search-and-pick pair per conversation ("finance emea"
   searches the in-memory index and offers choices, "None of these" answers the choice prompt),
   both turns loading and saving the dialog state in Redis; no Exchange call.
2. submit: people who were shown a list and gave a reason say "yes": the request is stored in
   Redis and its card delivery queued (dlbot-fixed only; set-up turns are not measured).
3. approve: an owner clicks Approve on each of those requests (an adaptiveCard/action invoke:
   owners re-read from the sandbox, the decision a compare-and-set, the execution queued).
4. surge: N distinct people (default 1,000) each start a join request within a minute (arrivals
   spread evenly) and go through it: "add me to <list>", a reason, "yes"; then Redis is checked
   for every request.

    .venv/bin/python bench/turns.py [--rounds 4] [--echo-turns 300] [--dlbot-pairs 150]
        [--submits 200] [--surge-users 1000] [--surge-seconds 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from approvals import keys  # noqa: E402
from approvals.models import ApprovalRequest  # noqa: E402
from bench.load import (  # noqa: E402
    ROOT,
    BotProcess,
    ConnectorStub,
    PhaseResult,
    Totals,
    activity,
    encode,
    free_port,
    percentile,
    run_phase,
    serving,
    start_bot,
)
from exchange.sandbox.generate import generate_tenant  # noqa: E402

BASELINES = ROOT / "bench" / "baselines"
ECHO_TARGETS = ("echo-stock", "echo-floor")
DLBOT_TARGETS = (
    "dlbot-fixed", "dlbot-round-three", "dlbot-round-two", "dlbot-fingerprint", "dlbot-pooled",
    "dlbot-safe-codes", "dlbot-stock",
)  # fmt: skip
CONCURRENCY = 20
PICK_NONE = "None of these"
REASON = "I work with this team every week."
QUERIES = ("finance emea", "sales amer", "marketing apac", "engineering uk", "support de")


# Processes around the bots ---------------------------------------------------------------------


@contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, int]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    directory = workdir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--appendonly", "yes", "--save", "", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import redis as redis_sync

        deadline = time.monotonic() + 10
        while True:
            try:
                redis_sync.Redis(port=port).ping()
                break
            except redis_sync.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process.pid
    finally:
        process.terminate()
        process.wait()


@contextmanager
def sandbox(workdir: Path, tenant_file: Path) -> Iterator[tuple[Path, int]]:
    state = workdir / "sandbox"
    env_file = state / "sandbox.env"
    env_file.unlink(missing_ok=True)
    with (workdir / "sandbox.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "exchange.sandbox.cli", "--port", "0",
             "--tenant-file", str(tenant_file), "--state-dir", str(state)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the sandbox did not start; see {workdir / 'sandbox.log'}")
            time.sleep(0.1)
        yield env_file, process.pid
    finally:
        process.terminate()
        process.wait()


# The tenant: who asks for what -----------------------------------------------------------------


@dataclass
class Cast:
    tenant_id: str
    people: list[str]  # object ids of enabled users
    asks: list[tuple[str, str]]  # (requester object id, list address), each requester once


def cast_from(tenant: dict[str, Any]) -> Cast:
    users = {u["id"]: u for u in tenant["users"]}
    enabled = [u["id"] for u in tenant["users"] if not u.get("account_disabled")]
    domain = tenant["tenant"]["accepted_domains"][0]["domain"]
    joinable = []
    for group in tenant["groups"]:
        if (
            group.get("member_join_restriction") != "ApprovalRequired"
            or group.get("type") == "Security"
            or group.get("hidden_from_address_lists")
            or group.get("is_dir_synced")
        ):
            continue
        owners = [o for o in group.get("managed_by", []) if o in users]
        if any(not users[o].get("account_disabled") for o in owners):
            joinable.append(group)
    rng = random.Random(7)
    asks = []
    for person in enabled:
        for _ in range(20):
            group = rng.choice(joinable)
            if person not in group.get("managed_by", []) and person not in group.get("members", []):
                asks.append((person, f"{group['name']}@{domain}"))
                break
    return Cast(tenant["tenant"]["id"], enabled, asks)


# The bots ---------------------------------------------------------------------------------------


async def start_bots(
    workdir: Path, redis_url: str, env_file: Path, tenant_id: str, targets: tuple[str, ...]
) -> dict[str, BotProcess]:
    bots: dict[str, BotProcess] = {}
    try:
        for name in targets:
            port = free_port()
            if name.startswith("echo-"):
                script = "app.py" if name == "echo-stock" else "../echo_floor.py"
                bots[name] = await start_bot(
                    name, [script], port, workdir,
                    env={"PORT": str(port), "PYTHONPATH": str(BASELINES / "echo_bot")},
                    cwd=BASELINES / "echo_bot",
                )  # fmt: skip
            else:
                first = not any(n.startswith("dlbot-") for n in bots)
                argv = [
                    "bench/dlbot_server.py", "--port", str(port), "--redis-url", redis_url,
                    "--sandbox-env", str(env_file), "--tenant-id", tenant_id,
                    "--variant", name.removeprefix("dlbot-"),
                ]  # fmt: skip
                if first:
                    argv.append("--sync-people")
                if os.environ.get("DLBOT_BENCH_PROFILE_DIR"):
                    argv += ["--profile", f"{os.environ['DLBOT_BENCH_PROFILE_DIR']}/{name}.prof"]
                bots[name] = await start_bot(name, argv, port, workdir)
    except BaseException:
        for bot in bots.values():
            bot.stop()
        raise
    return bots


# Scenarios ---------------------------------------------------------------------------------------


@dataclass
class Results:
    compare: dict[str, Totals] = field(default_factory=dict)
    rounds: list[dict[str, PhaseResult]] = field(default_factory=list)
    connections: dict[str, int] = field(default_factory=dict)
    replies: dict[str, int] = field(default_factory=dict)
    choices_shown: int = 0
    searches: int = 0
    submit: PhaseResult | None = None
    submit_stored: int = 0
    approve: PhaseResult | None = None
    approved: int = 0
    surge: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


def echo_jobs(stub_url: str, target: str, round_: int, count: int) -> list[list[bytes]]:
    return [
        [
            encode(
                activity(
                    f"{stub_url}/{target}",
                    conversation=f"a:{target}-{round_}-{i}",
                    object_id=f"00000000-0000-4000-8000-{i:012d}",
                    text=f"hello {i}",
                )
            )
        ]
        for i in range(count)
    ]


def search_pick_jobs(
    stub_url: str, target: str, round_: int, count: int, cast: Cast
) -> list[list[bytes]]:
    jobs = []
    for i in range(count):
        person = cast.people[(round_ * count + i) % len(cast.people)]
        conversation = f"a:{target}-{round_}-{i}"
        service_url = f"{stub_url}/{target}"

        def say(
            text: str,
            person: str = person,
            conversation: str = conversation,
            service_url: str = service_url,
        ) -> bytes:
            return encode(
                activity(
                    service_url,
                    conversation=conversation,
                    object_id=person,
                    text=text,
                    tenant_id=cast.tenant_id,
                )
            )

        jobs.append([say(QUERIES[i % len(QUERIES)]), say(PICK_NONE)])
    return jobs


async def compare(
    session: aiohttp.ClientSession,
    bots: dict[str, BotProcess],
    stub: ConnectorStub,
    stub_url: str,
    cast: Cast,
    redis_pid: int,
    args: argparse.Namespace,
    results: Results,
) -> None:
    targets = [t for t in (*ECHO_TARGETS, *DLBOT_TARGETS) if t in bots]
    # Warm-up: imports, first connections, the OpenID-free first turn of each bot.
    for target in targets:
        jobs = (
            echo_jobs(stub_url, target, -1, 40)
            if target.startswith("echo-")
            else search_pick_jobs(stub_url, target, -1, 20, cast)
        )
        await run_phase(session, bots[target], jobs, concurrency=CONCURRENCY, time_limit=60)
    for target in targets:
        results.compare[target] = Totals()
    for round_ in range(args.rounds):
        order = targets if round_ % 2 == 0 else list(reversed(targets))
        this_round: dict[str, PhaseResult] = {}
        for target in order:
            if target.startswith("echo-"):
                jobs = echo_jobs(stub_url, target, round_, args.echo_turns)
                other = None
            else:
                jobs = search_pick_jobs(stub_url, target, round_, args.dlbot_pairs, cast)
                other = redis_pid
            phase = await run_phase(
                session,
                bots[target],
                jobs,
                concurrency=CONCURRENCY,
                time_limit=args.phase_limit,
                other_pid=other,
            )
            results.compare[target].add(phase)
            this_round[target] = phase
            print(
                f"round {round_ + 1} {target:17} {phase.turns_per_second:7.1f} turns/s "
                f"{phase.cpu_ms_per_turn:6.2f} ms CPU/turn  failures {phase.failures}",
                flush=True,
            )
        results.rounds.append(this_round)
    for target in targets:
        results.connections[target] = stub.connections(target)
    # Every search must have shown choices, or it was not the turn the goal is about.
    results.searches = sum(1 for c in stub.texts if c.startswith("a:dlbot-") and "--1-" not in c)
    results.choices_shown = sum(
        1 for c in stub.attachments if c.startswith("a:dlbot-") and "--1-" not in c
    )


def say_to(stub_url: str, target: str, cast: Cast, person: str, text: str, tag: str) -> bytes:
    return encode(
        activity(
            f"{stub_url}/{target}",
            conversation=f"a:{tag}-{person}",
            object_id=person,
            text=text,
            tenant_id=cast.tenant_id,
        )
    )


async def requests_of(redis_url: str, people: list[str]) -> dict[str, list[ApprovalRequest]]:
    from redis.asyncio import Redis

    found: dict[str, list[ApprovalRequest]] = {}
    async with Redis.from_url(redis_url) as redis:
        for person in people:
            ids = await redis.zrange(keys.requests_of(person), 0, -1)
            for raw_id in ids:
                body = await redis.hget(keys.request(raw_id.decode()), "json")
                if body is not None:
                    request = ApprovalRequest.model_validate_json(body)
                    found.setdefault(person, []).append(request)
    return found


async def submit_and_approve(
    session: aiohttp.ClientSession,
    bots: dict[str, BotProcess],
    stub_url: str,
    cast: Cast,
    redis_url: str,
    redis_pid: int,
    asks: list[tuple[str, str]],
    args: argparse.Namespace,
    results: Results,
) -> None:
    target = "dlbot-fixed"
    bot = bots[target]

    def phase_jobs(text_for: Any) -> list[list[bytes]]:
        return [
            [say_to(stub_url, target, cast, person, text_for(address), "submit")]
            for person, address in asks
        ]

    for setup in (lambda address: f"add me to {address}", lambda address: REASON):
        await run_phase(session, bot, phase_jobs(setup), concurrency=CONCURRENCY, time_limit=120)
    results.submit = await run_phase(
        session,
        bot,
        phase_jobs(lambda address: "yes"),
        concurrency=CONCURRENCY,
        time_limit=120,
        other_pid=redis_pid,
    )
    stored = await requests_of(redis_url, [person for person, _ in asks])
    results.submit_stored = sum(len(found) for found in stored.values())
    print(f"submit: {results.submit.turns_per_second:.1f} turns/s, stored {results.submit_stored}")

    jobs = []
    for requests in stored.values():
        request = requests[0]
        owner = request.approvers[0].object_id
        body = activity(
            f"{stub_url}/{target}",
            conversation=f"a:owner-{owner}",
            object_id=owner,
            tenant_id=cast.tenant_id,
            type="invoke",
            name="adaptiveCard/action",
            replyToId=f"card-{request.id}",
            value={
                "action": {
                    "type": "Action.Execute",
                    "verb": "approve",
                    "data": {"requestId": request.id},
                }
            },
        )
        jobs.append([encode(body)])
    results.approve = await run_phase(
        session, bot, jobs, concurrency=CONCURRENCY, time_limit=120, other_pid=redis_pid
    )
    decided = await requests_of(redis_url, list(stored))
    results.approved = sum(
        1 for found in decided.values() for r in found if r.status.value == "approved"
    )
    print(f"approve: {results.approve.turns_per_second:.1f} invokes/s, approved {results.approved}")


async def surge(
    session: aiohttp.ClientSession,
    bots: dict[str, BotProcess],
    stub: ConnectorStub,
    stub_url: str,
    cast: Cast,
    redis_url: str,
    asks: list[tuple[str, str]],
    args: argparse.Namespace,
    results: Results,
) -> None:
    target = "dlbot-fixed"
    bot = bots[target]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    finished: list[float] = []
    headers = {"Content-Type": "application/json"}
    spacing = args.surge_seconds / len(asks)
    started = time.monotonic()

    async def person_asks(index: int, person: str, address: str) -> None:
        await asyncio.sleep(max(0.0, started + index * spacing - time.monotonic()))
        for text in (f"add me to {address}", REASON, "yes"):
            body = say_to(stub_url, target, cast, person, text, "surge")
            sent = time.perf_counter()
            try:
                async with session.post(bot.url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError:
                status = 0
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1
        finished.append(time.monotonic() - started)

    cpu_before = bot.cpu()
    tasks = [asyncio.create_task(person_asks(i, p, a)) for i, (p, a) in enumerate(asks)]
    _, unfinished = await asyncio.wait(tasks, timeout=args.surge_seconds + args.surge_grace)
    for task in unfinished:
        task.cancel()
    wall = time.monotonic() - started
    cpu = bot.cpu() - cpu_before
    stored = await requests_of(redis_url, [person for person, _ in asks])
    per_person = [len(stored.get(person, [])) for person, _ in asks]
    told = sum(
        1
        for person, _ in asks
        if any("I've asked" in t or "asked" in t for t in stub.texts.get(f"a:surge-{person}", []))
    )
    results.surge = {
        "people": len(asks),
        "arrivals_seconds": args.surge_seconds,
        "turns": len(latencies),
        "unfinished_people": len(unfinished),
        "statuses": statuses,
        "wall_seconds": wall,
        "last_person_done_at": max(finished) if finished else None,
        "p50_ms": 1000 * percentile(latencies, 0.50),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies),
        "cpu_ms_per_turn": 1000 * cpu / len(latencies),
        "stored": sum(per_person),
        "people_with_one_request": sum(1 for n in per_person if n == 1),
        "pending": sum(
            1 for found in stored.values() for r in found if r.status.value == "pending"
        ),
        "told_outcome": told,
    }
    print(f"surge: {json.dumps(results.surge)}", flush=True)


# Reporting ---------------------------------------------------------------------------------------


def summary(results: Results) -> dict[str, Any]:
    def target_row(totals: Totals) -> dict[str, Any]:
        return {
            "turns": totals.turns,
            "failures": totals.failures,
            "turns_per_second": totals.turns_per_second,
            "p50_ms": totals.latency_ms(0.5),
            "p99_ms": totals.latency_ms(0.99),
            "cpu_ms_per_turn": totals.cpu_ms_per_turn,
            "redis_cpu_ms_per_turn": totals.other_cpu_ms_per_turn,
        }

    def phase_row(phase: PhaseResult | None) -> dict[str, Any] | None:
        if phase is None:
            return None
        return {
            "turns": phase.turns,
            "failures": phase.failures,
            "turns_per_second": phase.turns_per_second,
            "p50_ms": 1000 * percentile(phase.latencies, 0.5),
            "p99_ms": 1000 * percentile(phase.latencies, 0.99),
            "cpu_ms_per_turn": phase.cpu_ms_per_turn,
            "redis_cpu_ms_per_turn": 1000 * phase.other_cpu / phase.turns if phase.turns else 0,
        }

    ratios: dict[str, Any] = {}
    c = results.compare

    def ratio(a: str, b: str, what: str) -> dict[str, float] | None:
        if a not in c or b not in c:
            return None
        get = (lambda t: t.turns_per_second) if what == "tps" else (lambda t: t.cpu_ms_per_turn)
        per_round = [
            (r[a].turns_per_second / r[b].turns_per_second)
            if what == "tps"
            else (r[a].cpu_ms_per_turn / r[b].cpu_ms_per_turn)
            for r in results.rounds
            if a in r and b in r and r[b].turns and r[a].turns
        ]
        return {
            "all_rounds": get(c[a]) / get(c[b]),
            "lowest_round": min(per_round),
            "highest_round": max(per_round),
        }

    ratios["dlbot_tps_vs_echo_stock"] = ratio("dlbot-fixed", "echo-stock", "tps")
    ratios["dlbot_cpu_vs_echo_floor"] = ratio("dlbot-fixed", "echo-floor", "cpu")
    # Each change against the state before it, named "<a>_<measure>_vs_<b>" (report.py reads them).
    for a, b, measures in (
        ("echo-floor", "echo-stock", ("tps", "cpu")),
        ("dlbot-fixed", "dlbot-stock", ("tps", "cpu")),
        ("dlbot-fixed", "dlbot-round-three", ("cpu", "tps")),
        ("dlbot-round-three", "dlbot-round-two", ("cpu", "tps")),
        ("dlbot-round-two", "dlbot-fingerprint", ("cpu", "tps")),
        ("dlbot-fingerprint", "dlbot-pooled", ("cpu",)),
        ("dlbot-pooled", "dlbot-safe-codes", ("cpu",)),
        ("dlbot-safe-codes", "dlbot-stock", ("cpu",)),
    ):
        for measure in measures:
            ratios[f"{a}_{measure}_vs_{b}".replace("-", "_")] = ratio(a, b, measure)
    return {
        "facts": results.facts,
        "compare": {t: target_row(v) for t, v in c.items()},
        "ratios": ratios,
        "connector_connections": results.connections,
        "search_turns_with_choices": [results.choices_shown, results.searches],
        "submit": phase_row(results.submit),
        "submit_stored": results.submit_stored,
        "approve": phase_row(results.approve),
        "approved": results.approved,
        "surge": results.surge,
    }


def prepare(args: argparse.Namespace) -> tuple[Path, Path, Cast]:
    """The working directory and the generated tenant, with who asks for what."""
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="dlbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    tenant_file = workdir / "tenant.json"
    tenant = generate_tenant(args.lists, args.users, seed=1)
    tenant_file.write_text(json.dumps(tenant))
    return workdir, tenant_file, cast_from(tenant)


async def run(
    args: argparse.Namespace, workdir: Path, tenant_file: Path, cast: Cast
) -> dict[str, Any]:
    need = args.submits + args.surge_users
    if len(cast.asks) < need:
        raise SystemExit(f"the tenant has {len(cast.asks)} requesters, {need} needed")
    submit_asks, surge_asks = cast.asks[: args.submits], cast.asks[args.submits : need]
    results = Results()
    results.facts = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "concurrency": CONCURRENCY,
        "rounds": args.rounds,
        "echo_turns_per_round": args.echo_turns,
        "dlbot_pairs_per_round": args.dlbot_pairs,
        "tenant": {"lists": args.lists, "users": args.users},
    }
    targets = tuple(args.targets.split(",")) if args.targets else (*ECHO_TARGETS, *DLBOT_TARGETS)
    stub = ConnectorStub()
    with (
        redis_server(workdir) as (redis_url, redis_pid),
        sandbox(workdir, tenant_file) as (
            env_file,
            _sandbox_pid,
        ),
    ):
        async with serving(stub.app()) as stub_url:
            started = time.monotonic()
            bots = await start_bots(workdir, redis_url, env_file, cast.tenant_id, targets)
            results.facts["bots_started_seconds"] = round(time.monotonic() - started, 1)
            try:
                connector = aiohttp.TCPConnector(limit=0)
                async with aiohttp.ClientSession(connector=connector) as session:
                    await compare(session, bots, stub, stub_url, cast, redis_pid, args, results)
                    if "dlbot-fixed" in bots and args.submits:
                        await submit_and_approve(
                            session, bots, stub_url, cast, redis_url, redis_pid,
                            submit_asks, args, results,
                        )  # fmt: skip
                    if "dlbot-fixed" in bots and args.surge_users:
                        await surge(
                            session, bots, stub, stub_url, cast, redis_url,
                            surge_asks, args, results,
                        )  # fmt: skip
            finally:
                for bot in bots.values():
                    bot.stop()
    return summary(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--echo-turns", type=int, default=300, help="per echo bot per round")
    parser.add_argument("--dlbot-pairs", type=int, default=150, help="per dlbot per round")
    parser.add_argument("--phase-limit", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--surge-users", type=int, default=1000)
    parser.add_argument("--surge-seconds", type=float, default=60.0)
    parser.add_argument(
        "--surge-grace", type=float, default=90.0, help="seconds after the last arrival"
    )
    parser.add_argument("--lists", type=int, default=3000)
    parser.add_argument("--users", type=int, default=1600)
    parser.add_argument("--targets", help="comma-separated subset of the bots")
    parser.add_argument("--workdir", help="keep logs and Redis here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    figures = asyncio.run(run(args, *prepare(args)))
    text = json.dumps(figures, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
