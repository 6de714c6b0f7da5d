"""bench/RESULTS.md from the figures bench/turns.py wrote (and the directory search bench's
output, when there is one).

    python bench/report.py figures.json [--section TITLE output.txt ...] [--seconds N] > RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path
from typing import Any

GOAL_TPS = 2.5  # dlbot search-and-pick turns/s, at least this times the stock echo sample's
GOAL_CPU = 1.3  # dlbot CPU per turn, at most this times the fixed echo baseline's

NAMES = {
    "echo-stock": "echo sample, stock SDK (the peer)",
    "echo-floor": "echo sample + safe_codes fix (the floor)",
    "dlbot-fixed": "dlbot search-and-pick, as shipped",
    "dlbot-round-three": "dlbot, without the schema plans and the saved round trips",
    "dlbot-round-two": "dlbot, also without the state read with the lock and the pickled copy",
    "dlbot-fingerprint": "dlbot, also without the state codec and the kept reference",
    "dlbot-pooled": "dlbot, also without the state fingerprint",
    "dlbot-safe-codes": "dlbot, also without kept connector clients",
    "dlbot-stock": "dlbot, no SDK fix at all",
}


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ratio(figures: dict[str, Any], key: str) -> str:
    value = figures["ratios"].get(key)
    if not value:
        return "n/a"
    return (
        f"**{value['all_rounds']:.2f}** "
        f"(rounds {value['lowest_round']:.2f} to {value['highest_round']:.2f})"
    )


def render(figures: dict[str, Any], sections: list[tuple[str, str]], seconds: float | None) -> str:
    facts = figures["facts"]
    out: list[str] = []
    add = out.append
    add("# Benchmark results")
    add("")
    add("Written by `bench/run` (do not edit by hand); how each figure is made: bench/README.md.")
    add("")
    add("    bench/run            # everything below, in a loopback-only network namespace")
    add("")
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    add(
        f"Machine: {facts['cpus']} CPUs ({_cpu_model()}), Python {facts['python']}, "
        f"{platform.system()} {platform.release()}; run {when}"
        + (f", {seconds:.0f} s in all." if seconds else ".")
    )
    add(
        "The machine is shared: other processes' load shows as spread between rounds, and "
        "affects A and B alike because they are interleaved."
    )
    add("")
    add("## Turns: dlbot against Microsoft's echo sample (`bench/turns.py`)")
    add("")
    add(
        f"{facts['rounds']} rounds, interleaved, the order reversed every other round; "
        f"{facts['concurrency']} requests in flight; per round {facts['echo_turns_per_round']} "
        f"echo turns per echo bot, {facts['dlbot_pairs_per_round']} search-and-pick pairs "
        f"({2 * facts['dlbot_pairs_per_round']} turns) per dlbot. Tenant: "
        f"{facts['tenant']['lists']:,} lists, {facts['tenant']['users']:,} people."
    )
    add("")
    add(
        "| bot | turns | turns/s | p50 ms | p99 ms | bot CPU ms/turn | Redis CPU ms/turn "
        "| connector TCP connections |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for target, row in figures["compare"].items():
        add(
            f"| {NAMES.get(target, target)} | {row['turns']:,} "
            f"{'(' + str(row['failures']) + ' failed) ' if row['failures'] else ''}"
            f"| {row['turns_per_second']:.1f} | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} "
            f"| {row['cpu_ms_per_turn']:.2f} | {row['redis_cpu_ms_per_turn']:.2f} "
            f"| {figures['connector_connections'].get(target, 'n/a')} |"
        )
    add("")
    tps = figures["ratios"].get("dlbot_tps_vs_echo_stock") or {}
    cpu = figures["ratios"].get("dlbot_cpu_vs_echo_floor") or {}
    add("| goal (issue 7) | ratio, all rounds (lowest to highest round) | met |")
    add("|---|---|---|")
    add(
        f"| dlbot turns/s ÷ stock echo turns/s ≥ {GOAL_TPS} "
        f"| {_ratio(figures, 'dlbot_tps_vs_echo_stock')} "
        f"| {'yes' if tps and tps['all_rounds'] >= GOAL_TPS else 'no'} |"
    )
    add(
        f"| dlbot CPU/turn ÷ fixed echo CPU/turn ≤ {GOAL_CPU} "
        f"| {_ratio(figures, 'dlbot_cpu_vs_echo_floor')} "
        f"| {'yes' if cpu and cpu['all_rounds'] <= GOAL_CPU else 'no'} |"
    )
    add("")
    add("Each change against the state before it (same run):")
    add("")
    add("| change | ratio |")
    add("|---|---|")
    for label, key in (
        ("echo: safe_codes fix, turns/s", "echo_floor_tps_vs_echo_stock"),
        ("echo: safe_codes fix, CPU/turn", "echo_floor_cpu_vs_echo_stock"),
        ("dlbot: safe_codes fix, CPU/turn", "dlbot_safe_codes_cpu_vs_dlbot_stock"),
        ("dlbot: + kept connector clients, CPU/turn", "dlbot_pooled_cpu_vs_dlbot_safe_codes"),
        ("dlbot: + state fingerprint, CPU/turn", "dlbot_fingerprint_cpu_vs_dlbot_pooled"),
        (
            "dlbot: + state codec, kept reference, CPU/turn",
            "dlbot_round_two_cpu_vs_dlbot_fingerprint",
        ),
        (
            "dlbot: + state codec, kept reference, turns/s",
            "dlbot_round_two_tps_vs_dlbot_fingerprint",
        ),
        (
            "dlbot: + state read with the lock, pickled copy, CPU/turn",
            "dlbot_round_three_cpu_vs_dlbot_round_two",
        ),
        (
            "dlbot: + state read with the lock, pickled copy, turns/s",
            "dlbot_round_three_tps_vs_dlbot_round_two",
        ),
        (
            "dlbot: + schema plans, saved round trips, CPU/turn",
            "dlbot_fixed_cpu_vs_dlbot_round_three",
        ),
        (
            "dlbot: + schema plans, saved round trips, turns/s",
            "dlbot_fixed_tps_vs_dlbot_round_three",
        ),
        ("dlbot: all fixes, CPU/turn", "dlbot_fixed_cpu_vs_dlbot_stock"),
        ("dlbot: all fixes, turns/s", "dlbot_fixed_tps_vs_dlbot_stock"),
    ):
        add(f"| {label} | {_ratio(figures, key)} |")
    shown, searches = figures["search_turns_with_choices"]
    add("")
    add(
        f"Every search turn offered choices ({shown} of {searches} conversations got the choice "
        "card), so each pair was the search-and-pick the goal is about, without an Exchange call."
    )
    add("")
    add("## Submit, approve, surge (dlbot as shipped)")
    add("")
    add("| scenario | turns | turns/s | p50 ms | p99 ms | bot CPU ms/turn | outcome |")
    add("|---|---|---|---|---|---|---|")
    for label, key, outcome in (
        ('submit ("yes": request stored, cards queued)', "submit", "submit_stored"),
        ("approve (owner's adaptiveCard/action invoke)", "approve", "approved"),
    ):
        row = figures.get(key)
        if row:
            add(
                f"| {label} | {row['turns']} | {row['turns_per_second']:.1f} "
                f"| {row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['cpu_ms_per_turn']:.2f} "
                f"| {figures[outcome]} of {row['turns']} "
                f"{'stored' if key == 'submit' else 'approved'} |"
            )
    surge = figures.get("surge") or {}
    if surge:
        add(
            f"| surge: {surge['people']:,} people start within {surge['arrivals_seconds']:.0f} s,"
            f" 3 turns each | {surge['turns']:,} "
            f"| {surge['turns'] / (surge['last_person_done_at'] or surge['wall_seconds']):.1f} "
            f"| {surge['p50_ms']:.0f} | **{surge['p99_ms']:.0f}** "
            f"| {surge['cpu_ms_per_turn']:.2f} "
            f"| **{surge['stored']:,} of {surge['people']:,} stored**, "
            f"{surge['people_with_one_request']:,} people with exactly one, "
            f"{surge['pending']:,} pending, {surge['told_outcome']:,} told, "
            f"{surge['unfinished_people']:,} still waiting on a turn at the end |"
        )
        add("")
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(surge["statuses"].items()))
        add(
            f"Surge: HTTP statuses {statuses}; the last person was done "
            f"{surge['last_person_done_at']:.1f} s after the first arrived; slowest turn "
            f"{surge['max_ms']:.0f} ms. Submit and surge turns read the list live from the "
            "sandbox tenant (its own process), as they do from Exchange Online."
        )
        if surge["unfinished_people"]:
            add("")
            add(
                f"{surge['unfinished_people']} people never got an answer to one turn by the "
                "end of the grace period: a lost request. `kill -USR1` on the bot prints where "
                "each of its tasks waits (bench/README.md); that is how the renewal that never "
                "ended (redis/redis-py#2028, fixed in `bot/turn_lock.py`) was found."
            )
    for title, text in sections:
        add("")
        add(f"## {title}")
        add("")
        add("```")
        add(text.rstrip())
        add("```")
    add("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("figures", type=Path)
    parser.add_argument(
        "--section",
        nargs=2,
        action="append",
        default=[],
        metavar=("TITLE", "FILE"),
        help="another bench's output, shown as it printed it under ## TITLE (missing: left out)",
    )
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    figures = json.loads(args.figures.read_text())
    sections = [
        (title, Path(file).read_text()) for title, file in args.section if Path(file).exists()
    ]
    print(render(figures, sections, args.seconds))


if __name__ == "__main__":
    main()
