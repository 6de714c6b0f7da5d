"""What the Exchange client costs per call, against a bare httpx POST to the same sandbox.

Both sides run in this one process against one sandbox tenant (on its own thread and event loop),
over the same kind of pooled HTTPS connection, in interleaved rounds so that drift of the machine
affects both alike. The bare side is the least a caller could do: POST the same body with a
token it already holds and decode the JSON. The client side is `get_distribution_group`: headers,
request id, token source, retry loop, paging check, error mapping, annotation stripping and the
pydantic model.

    .venv/bin/python bench/exchange_client_overhead.py [--calls 200] [--rounds 10] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.client import ExchangeClient, build_http_client  # noqa: E402
from exchange.config import ExchangeConfig  # noqa: E402
from exchange.sandbox.server import ThreadedSandbox  # noqa: E402

GROUP = "finance-emea@contoso.com"


async def _timed(work: Callable[[], Awaitable[None]], calls: int, concurrency: int) -> float:
    """Seconds per call for `calls` calls with `concurrency` in flight."""
    per_worker = calls // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await work()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.perf_counter() - started) / (per_worker * concurrency)


async def run(calls: int, rounds: int, concurrency: int) -> dict[str, float]:
    with ThreadedSandbox() as sandbox:
        app = sandbox.demo_app
        assert app is not None and app.secrets, "the demo tenant registers an app with a secret"
        config = ExchangeConfig(
            base_url=sandbox.base_url,
            authority_host=sandbox.base_url,
            tenant=sandbox.tenant_id,
            client_id=app.client_id,
            client_secret=SecretStr(app.secrets[0]),
            ca_file=sandbox.ca_file,
        )
        async with ExchangeClient(config) as client, build_http_client(config) as bare_http:
            token = await client.tokens.token()
            body = json.dumps(
                {
                    "CmdletInput": {
                        "CmdletName": "Get-DistributionGroup",
                        "Parameters": {"Identity": GROUP},
                    }
                }
            ).encode()
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
                "X-CmdletName": "Get-DistributionGroup",
                "X-ResponseFormat": "json",
            }

            async def bare() -> None:
                response = await bare_http.post(
                    config.invoke_url,
                    content=body,
                    headers={**headers, "client-request-id": str(uuid.uuid4())},
                )
                response.raise_for_status()
                response.json()

            async def with_client() -> None:
                await client.get_distribution_group(GROUP)

            for work in (bare, with_client):  # warm both pools and code paths
                await _timed(work, 50, concurrency)
            tokens_before = sandbox.tokens_issued
            bare_times: list[float] = []
            client_times: list[float] = []
            for round_number in range(rounds):
                # Alternate which side goes first so neither always runs on a warmer machine.
                order = [(bare, bare_times), (with_client, client_times)]
                for work, times in order if round_number % 2 == 0 else reversed(order):
                    times.append(await _timed(work, calls, concurrency))
            tokens_fetched = sandbox.tokens_issued - tokens_before

        # One thousand client calls, counting the tokens they needed (none beyond the first).
        async with ExchangeClient(config) as fresh_client:
            issued_before = sandbox.tokens_issued
            for _ in range(1000):
                await fresh_client.get_distribution_group(GROUP)
            tokens_for_1000 = sandbox.tokens_issued - issued_before

    bare_call = statistics.median(bare_times)
    client_call = statistics.median(client_times)
    return {
        "bare_ms_per_call": bare_call * 1000,
        "client_ms_per_call": client_call * 1000,
        "bare_calls_per_s": 1 / bare_call,
        "client_calls_per_s": 1 / client_call,
        "ratio_client_over_bare": client_call / bare_call,
        "tokens_fetched_during_rounds": tokens_fetched,
        "tokens_fetched_for_1000_calls": tokens_for_1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="calls per side per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls, args.rounds, args.concurrency))
    print(
        f"calls per side per round: {args.calls}, rounds: {args.rounds}, "
        f"concurrency: {args.concurrency}"
    )
    for name, value in results.items():
        print(f"{name:32} {value:10.3f}")
    goal = (
        results["ratio_client_over_bare"] <= 1.15 and results["tokens_fetched_for_1000_calls"] == 1
    )
    print("goal (ratio <= 1.15 and 1 token for 1,000 calls):", "met" if goal else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
