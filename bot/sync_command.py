"""`dlbot sync [--lists-only] [--users-only]`: read the directory from Exchange into Redis now.

The workers do the same on a schedule (DLBOT_SYNC_LISTS_HOURS, DLBOT_SYNC_PEOPLE_HOURS); this is
for the first deployment, after a bulk change in Exchange, or for a scheduler of your own. It
writes to the Redis the bots read (DLBOT_REDIS_URL), and every running replica loads the new list
snapshot within seconds (follow_index). Nothing is held whole in memory: one page of Exchange
(1,000 objects) at a time.

Progress goes to stderr (a bar redrawn in place on a terminal, a line every few seconds
otherwise), the counts to stdout. Exit 0; 1 with one line when Exchange or Redis fails; 2 when
the settings are incomplete.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TextIO

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.exchange_command import EXIT_EXCHANGE_ERROR, EXIT_OK, EXIT_USAGE, describe_error
from bot.settings import Settings
from exchange.client import ExchangeClient
from exchange.errors import ExchangeConfigError, ExchangeError
from skills.exchange_directory import ExchangeListDirectory
from skills.index_store import ListSnapshotStore, sync_lists
from skills.people_store import PersonSnapshotStore, refresh_people

PLAIN_LINE_SECONDS = 5.0  # without a terminal: one progress line at most this often
BAR_WIDTH = 24


def add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `dlbot sync`, for bot/cli.py's subparser."""
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--lists-only", action="store_true", help="sync the lists, not the people")
    only.add_argument("--users-only", action="store_true", help="sync the people, not the lists")


class Progress:
    """A text progress bar for one phase: what was read so far, in how many pages, how fast.

    Exchange does not say how many objects there are, so the bar is a spinner of pages rather
    than a percentage. On a terminal it is redrawn in place with \\r; otherwise (a log, a pipe)
    it prints a line at most every PLAIN_LINE_SECONDS, and always a last one.
    """

    def __init__(self, label: str, stream: TextIO, *, tty: bool | None = None) -> None:
        self.label = label
        self.count = 0
        self.pages = 0
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._started = time.monotonic()
        self._last_line = self._started

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def advance(self, page_size: int) -> None:
        self.count += page_size
        self.pages += 1
        now = time.monotonic()
        if self._tty:
            self._stream.write("\r" + self._line())
            self._stream.flush()
        elif self.pages == 1 or now - self._last_line >= PLAIN_LINE_SECONDS:
            self._last_line = now
            self._stream.write(self._line() + "\n")
            self._stream.flush()

    def finish(self) -> None:
        line = self._line(done=True)
        self._stream.write(("\r" + line + "\n") if self._tty else line + "\n")
        self._stream.flush()

    def abandon(self) -> None:
        """End a redrawn bar with a newline, so an error message starts a line of its own."""
        if self._tty and self.pages:
            self._stream.write("\n")
            self._stream.flush()

    def _line(self, *, done: bool = False) -> str:
        elapsed = max(self.elapsed, 1e-6)
        rate = self.count / elapsed
        if done:
            bar = "#" * BAR_WIDTH
        else:
            filled = self.pages % (BAR_WIDTH + 1)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
        pages = f"{self.pages} page" + ("" if self.pages == 1 else "s")
        state = "done" if done else "reading"
        return (
            f"{self.label:<6} [{bar}] {self.count:>9,} read, {pages}, "
            f"{rate:,.0f}/s, {_clock(elapsed)} {state}"
        )


def run_sync(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.redis_url:
        print(
            "dlbot sync: DLBOT_REDIS_URL is empty; set it to the Redis the bots use "
            "(the sync writes the directory there for them to read)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        settings.exchange()
    except ExchangeConfigError as exc:
        print(f"{type(exc).__name__}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    lists = not getattr(args, "users_only", False)
    people = not getattr(args, "lists_only", False)
    return asyncio.run(sync(settings, lists=lists, people=people))


async def sync(
    settings: Settings,
    *,
    lists: bool = True,
    people: bool = True,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    started = time.monotonic()
    counts: list[str] = []
    redis = Redis.from_url(settings.redis_url)
    progress: Progress | None = None
    try:
        async with ExchangeClient(settings.exchange()) as client:
            directory = ExchangeListDirectory(client)
            if lists:
                progress = Progress("lists", err)
                count = await sync_lists(
                    directory, ListSnapshotStore(redis), progress=progress.advance
                )
                progress.finish()
                counts.append(f"{count:,} lists in {progress.elapsed:.1f} s")
            if people:
                progress = Progress("people", err)
                count = await refresh_people(
                    directory, PersonSnapshotStore(redis), progress=progress.advance
                )
                progress.finish()
                counts.append(f"{count:,} people in {progress.elapsed:.1f} s")
    except ExchangeError as exc:
        if progress is not None:
            progress.abandon()
        print(f"dlbot sync: Exchange failed: {describe_error(exc)}", file=err)
        return EXIT_EXCHANGE_ERROR
    except (RedisError, OSError) as exc:
        if progress is not None:
            progress.abandon()
        print(f"dlbot sync: Redis failed: {type(exc).__name__}: {exc}", file=err)
        return EXIT_EXCHANGE_ERROR
    finally:
        await redis.aclose()
    total = time.monotonic() - started
    print(f"synced {', '.join(counts)}; total {total:.1f} s", file=out)
    return EXIT_OK


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.sync_command [--env-file F] [--lists-only | --users-only]`: the same as
    `dlbot sync`, for a bot/cli.py without the sync subparser."""
    import logging

    parser = argparse.ArgumentParser(prog="dlbot sync", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", default=None, help="read settings from this file too")
    add_sync_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    settings = Settings(_env_file=args.env_file) if args.env_file else Settings()
    return run_sync(settings, args)


if __name__ == "__main__":
    sys.exit(main())
