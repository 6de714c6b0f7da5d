"""ListIndex search latency over a generated directory, against a plain linear substring scan.

The lists come from `exchange.sandbox.generate` (the same generator `--lists 100000` uses for
the sandbox tenant), as the directory sync would index them. Queries are what people type:
whole names, words in another order, partial words, one typo, filler words around a name,
addresses, and a region alone. The baseline is the least a search could do: one casefolded
substring test per list over its display name, name and address, in the same run, interleaved
query by query with the index so that the machine's drift affects both alike. Wall time is the
measure; the search thread's CPU time is shown beside it, since on a busy shared machine another
process's scheduler slice lands inside some queries' wall time.

    .venv/bin/python bench/directory_search.py                 # 100,000 lists, 2,000 queries
    .venv/bin/python bench/directory_search.py --lists 10000 --queries 500
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.sandbox.generate import generate_tenant  # noqa: E402
from skills.find_dl import ListIndex  # noqa: E402
from skills.ports import DirectoryList, ListKind, Restriction  # noqa: E402

DOMAIN = "contoso.com"
GOAL_P99_MS = 5.0


def directory(lists: int, seed: int) -> list[DirectoryList]:
    groups = generate_tenant(lists, 0, seed, domain=DOMAIN)["groups"]
    return [_as_list(group) for group in groups]


def _as_list(group: dict[str, Any]) -> DirectoryList:
    name = group["name"]
    return DirectoryList(
        object_id=group["id"],
        name=name,
        display_name=group["display_name"],
        alias=name,
        address=f"{name}@{DOMAIN}",
        kind=ListKind.SECURITY if group.get("type") == "Security" else ListKind.DISTRIBUTION,
        join_restriction=Restriction(group["member_join_restriction"]),
        depart_restriction=Restriction(group.get("member_depart_restriction", "Open")),
        description=group.get("description", ""),
        hidden=bool(group.get("hidden_from_address_lists")),
        dir_synced=bool(group.get("is_dir_synced")),
    )


def _typo(word: str, rng: random.Random) -> str:
    """One edit (swap, drop, or change a letter) away, as people mistype."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    edit = rng.randrange(3)
    if edit == 0:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if edit == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeiourst") + word[i + 1 :]


def queries(lists: list[DirectoryList], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    made: list[str] = []
    for _ in range(count):
        item = rng.choice(lists)
        topic, region, number = item.display_name.split(" ")
        shape = rng.randrange(8)
        made.append(
            [
                item.display_name,  # "Running BR 1"
                f"{region.lower()} {topic.lower()} {number}",  # "br running 1"
                f"{topic[:4].lower()} {region.lower()}",  # "runn br"
                f"{_typo(topic.lower(), rng)} {region.lower()} {number}",  # "runing br 1"
                f"pls add me to the {topic.lower()} {region.lower()} list",
                item.address,  # "running-br-1@contoso.com"
                f"{item.name}@",  # an address typed half
                f"{topic.lower()} {region.lower()}",  # many lists: the best five
            ][shape]
        )
    return made


def scanner(lists: list[DirectoryList]) -> Callable[[str, int], list[DirectoryList]]:
    """The baseline: a casefolded substring test per list, the first `limit` hits."""
    texts = [f"{i.display_name}\n{i.name}\n{i.address}".casefold() for i in lists]

    def scan(query: str, limit: int) -> list[DirectoryList]:
        wanted = query.strip().casefold()
        hits = [lists[n] for n, text in enumerate(texts) if wanted in text]
        return hits[:limit]

    return scan


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(lists: int, count: int, seed: int) -> dict[str, float]:
    every = directory(lists, seed)
    started = time.perf_counter()
    index = ListIndex(every)
    build_seconds = time.perf_counter() - started
    scan = scanner(every)
    asked = queries(every, count, seed + 1)
    index_ms: list[float] = []
    scan_ms: list[float] = []
    # The CPU the search thread itself spent: on a shared machine a query preempted by another
    # process for a scheduler slice (~4 ms) shows that slice in wall time, not in this.
    index_cpu_ms: list[float] = []
    found = 0
    gc.collect()
    gc.disable()  # a collection inside one query would be measured as that query's latency
    try:
        for n, query in enumerate(asked):
            sides: list[tuple[list[float], Callable[[], object]]] = [
                (index_ms, lambda query=query: index.search(query, 5)),
                (scan_ms, lambda query=query: scan(query, 5)),
            ]
            if n % 2:
                sides.reverse()
            for times, work in sides:
                cpu_ns, started_ns = time.thread_time_ns(), time.perf_counter_ns()
                result = work()
                times.append((time.perf_counter_ns() - started_ns) / 1e6)
                if times is index_ms:
                    index_cpu_ms.append((time.thread_time_ns() - cpu_ns) / 1e6)
                    found += bool(result)
    finally:
        gc.enable()
    return {
        "lists": len(every),
        "queries": len(asked),
        "found": found,
        "build_s": build_seconds,
        "index_p50": statistics.median(index_ms),
        "index_p99": _percentile(index_ms, 0.99),
        "index_max": max(index_ms),
        "index_cpu_p50": statistics.median(index_cpu_ms),
        "index_cpu_p99": _percentile(index_cpu_ms, 0.99),
        "index_cpu_max": max(index_cpu_ms),
        "scan_p50": statistics.median(scan_ms),
        "scan_p99": _percentile(scan_ms, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    r = run(args.lists, args.queries, args.seed)
    print(
        f"{r['lists']:,} lists (index built in {r['build_s']:.1f} s), {r['queries']:,} queries, "
        f"{r['found']:,} answered with at least one list"
    )
    print("| search | p50 | p99 | scan / index at p50 | scan / index at p99 |")
    print("|---|---|---|---|---|")
    print(
        f"| ListIndex | {r['index_p50']:.3f} ms | {r['index_p99']:.3f} ms | "
        f"**{r['scan_p50'] / r['index_p50']:.0f}x** | **{r['scan_p99'] / r['index_p99']:.0f}x** |"
    )
    print(f"| linear substring scan | {r['scan_p50']:.3f} ms | {r['scan_p99']:.3f} ms | 1x | 1x |")
    print(
        f"| ListIndex, CPU time of the search thread | {r['index_cpu_p50']:.3f} ms | "
        f"{r['index_cpu_p99']:.3f} ms | | |"
    )
    print(
        f"(slowest index query {r['index_max']:.3f} ms wall, {r['index_cpu_max']:.3f} ms CPU; "
        f"goal p99 <= {GOAL_P99_MS} ms; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs)"
    )
    return 0 if r["index_p99"] <= GOAL_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
