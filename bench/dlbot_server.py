"""dlbot as the bench runs it: `running(settings)` and the real aiohttp app, web only (no
worker, so the process measured is the one that answers turns), on a port of its own.

    python bench/dlbot_server.py --port P --redis-url URL --sandbox-env .../sandbox.env \
        --tenant-id T [--variant fixed|round-three|round-two|fingerprint|pooled|safe-codes|stock]
        [--sync-people]

--variant says which of the fixes are on, so the bench can measure each change against the
state before it, each variant one round more than the one before:
- `stock`: none, the SDK as shipped;
- `safe-codes`: msrest's retry policy fix;
- `pooled`: that, and kept connector clients (bot/connector_pool.py);
- `fingerprint`: that, and the state fingerprint of bot/sdk_fixes.py;
- `round-two`: that, and the second round: the state codec of bot/storage.py, the reference
  built in one msrest pass once per sender and chat (bot/references.py), the choice
  tokenizer's memo (bot/sdk_fixes.py) and the kept clients' skipped validation;
- `round-three`: that, and the third round: the conversation state read in the round trip
  that takes the turn lock (bot/app.py, bot/turn_lock.py) and the outgoing activity copied
  through pickle (bot/sdk_fixes.py);
- `fixed`: that, and the fourth round, everything as dlbot ships: activities read and replies
  written through the class plans of bot/schema_codec.py, the preloaded state serving every
  read of its turn (bot/storage.py), the references written by EVALSHA alone
  (bot/references.py), and the people pointer kept for a moment (skills/people_store.py).
The turn lock's renewal from a timer (bot/turn_lock.py, third round) is in every variant.
--sync-people reads every person from the sandbox into Redis first (the first process of a run
does it, once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jsonpickle  # type: ignore[import-untyped]  # noqa: E402
from botbuilder.schema import ConversationReference  # noqa: E402

import bot.adapter  # noqa: E402
import bot.app  # noqa: E402
import bot.connector_pool  # noqa: E402
import bot.references  # noqa: E402
import bot.sdk_fixes  # noqa: E402
import bot.storage  # noqa: E402
import bot.turn_lock  # noqa: E402
import skills.people_store  # noqa: E402
from bot.run import serving, until_stopped  # noqa: E402
from bot.services import running  # noqa: E402
from bot.settings import Settings  # noqa: E402


def _without_pool(inner: Any, **_: Any) -> Any:
    return inner


def _jsonpickle_encoded(item: Any) -> str:
    return str(jsonpickle.encode(item, keys=True))


def _reference_every_turn(_: Any, activity: Any) -> str:
    """The reference's JSON as it was built before: through msrest and back, every turn."""
    reference = bot.references.TurnContext.get_conversation_reference(activity)
    stable = ConversationReference().deserialize(reference.serialize())
    stable.activity_id = None
    return json.dumps(stable.serialize(), sort_keys=True, separators=(",", ":"))


_new_client = bot.connector_pool._new_client


def _validating_client(credentials: Any, service_url: str) -> Any:
    client = _new_client(credentials, service_url)
    client._serialize.client_side_validation = True
    return client


def _fixes_before_round_two() -> None:
    bot.sdk_fixes.fix_retry_policy()
    bot.sdk_fixes.fix_state_hash()


def _fixes_of_round_two() -> None:
    _fixes_before_round_two()
    bot.sdk_fixes.fix_choice_tokenizer()


_hold = bot.turn_lock.TurnLock.hold


def _hold_reading_nothing(
    self: bot.turn_lock.TurnLock, conversation_id: str, *, also_read: Any = None
) -> Any:
    return _hold(self, conversation_id)  # the state is read on its own round trip, as before


class _MsrestOnly:
    """The schema codec's place, answering "msrest must do it" to everything, as before."""

    def decode(self, cls: Any, data: Any) -> None:
        return None

    def encode(self, model: Any) -> None:
        return None


def _preloaded_once(self: bot.storage.RedisStorage, key: str) -> Any:
    """The preload as it was: it served the first read of the turn only."""
    preloaded = bot.storage._PRELOADED.get()
    if preloaded is None or preloaded.storage is not self or preloaded.key != key:
        return None
    row, preloaded.row = preloaded.row, None
    return row


async def _write_through_script_objects(
    self: bot.references.ConversationReferences, records: dict[str, str]
) -> int:
    """The references' write as it was: redis-py's script objects in the pipeline (which ask
    SCRIPT EXISTS in a round trip of their own before it runs)."""
    now = bot.references.time.monotonic()
    changed = {key: value for key, value in records.items() if not self._known(key, value, now)}
    if not changed:
        return 0
    async with self._redis.pipeline(transaction=False) as pipe:
        for key, value in changed.items():
            await self._set_if_different(keys=[self._ns + key], args=[value], client=pipe)
        results = await pipe.execute()
    for key in changed:
        self._memory[key] = (changed[key], now)
        self._memory.move_to_end(key)
    return sum(int(result) for result in results)


def _without_round_four() -> None:
    bot.app.SCHEMA = _MsrestOnly()  # type: ignore[assignment]
    bot.references.SCHEMA = _MsrestOnly()  # type: ignore[assignment]
    bot.connector_pool._plan_bodies = lambda serializer: None
    bot.storage.RedisStorage._preloaded_row = _preloaded_once  # type: ignore[method-assign]
    bot.references.ConversationReferences._write = _write_through_script_objects  # type: ignore[method-assign]
    skills.people_store.POINTER_FRESH_SECONDS = 0.0  # type: ignore[misc]  # read the pointer each time


def choose_variant(variant: str) -> None:
    """Undo, for this process, the fixes the variant goes without."""
    if variant != "fixed":
        _without_round_four()
    if variant not in ("fixed", "round-three"):
        bot.turn_lock.TurnLock.hold = _hold_reading_nothing  # type: ignore[assignment,method-assign]
    if variant not in ("fixed", "round-three", "round-two"):
        bot.storage._encoded = _jsonpickle_encoded
        bot.connector_pool._new_client = _validating_client
        bot.references.ConversationReferences._reference_of = _reference_every_turn  # type: ignore[method-assign]
    if variant in ("stock", "safe-codes"):
        bot.adapter.PooledBotFrameworkAuthentication = _without_pool  # type: ignore[assignment,misc]
    if variant == "stock":
        bot.sdk_fixes.apply = lambda: None
    elif variant in ("safe-codes", "pooled"):
        bot.sdk_fixes.apply = bot.sdk_fixes.fix_retry_policy
    elif variant == "fingerprint":
        bot.sdk_fixes.apply = _fixes_before_round_two
    elif variant == "round-two":
        bot.sdk_fixes.apply = _fixes_of_round_two


def _print_tasks() -> None:
    for task in asyncio.all_tasks():
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


async def main(args: argparse.Namespace) -> None:
    settings = Settings(
        _env_file=str(args.sandbox_env),
        redis_url=args.redis_url,
        allowed_tenants=args.tenant_id,
        policy_require_justification=True,
    )
    # `kill -USR1 <pid>` prints where every task of the bot is waiting (a stuck turn's cause).
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _print_tasks)
    async with running(settings) as dlbot:
        if args.sync_people:
            count = await dlbot.sync_people()
            print(f"people synced: {count}", flush=True)
        async with serving(dlbot, "127.0.0.1", args.port):
            print(
                f"dlbot ({args.variant}) on http://127.0.0.1:{args.port}/api/messages, "
                f"{len(dlbot.index)} lists",
                flush=True,
            )
            await until_stopped()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--sandbox-env", type=Path, required=True)
    parser.add_argument("--tenant-id", required=True)
    parser.add_argument(
        "--variant",
        choices=(
            "fixed",
            "round-three",
            "round-two",
            "fingerprint",
            "pooled",
            "safe-codes",
            "stock",
        ),
        default="fixed",
    )
    parser.add_argument("--sync-people", action="store_true")
    parser.add_argument("--profile", type=Path, help="write cProfile stats here at exit")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    choose_variant(arguments.variant)
    if arguments.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            asyncio.run(main(arguments))
        finally:
            profiler.disable()
            profiler.dump_stats(arguments.profile)
    else:
        asyncio.run(main(arguments))
