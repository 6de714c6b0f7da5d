"""The `dlbot` command. It only parses arguments and hands over; each command lives elsewhere."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.admin_command import register as register_admin_commands
from bot.exchange_command import EXIT_USAGE, run_exchange_call
from bot.logs import configure_logging
from bot.settings import Settings
from bot.sync_command import add_sync_arguments
from exchange.errors import ExchangeConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlbot", description="Self-service Exchange Online distribution lists in Teams."
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="read settings from this file as well as the environment (default: ./.env)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "sandbox",
        help="run the local stand-in Exchange Online tenant",
        add_help=False,  # the sandbox's own parser answers --help
    )

    serve = commands.add_parser("serve", help="run the bot (and, unless --no-worker, a worker)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=3978, help="port to listen on (3978)")
    serve.add_argument(
        "--no-worker", action="store_true", help="serve only; run `dlbot worker` elsewhere"
    )
    worker = commands.add_parser(
        "worker", help="run a worker: approval cards, Exchange changes, updates"
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics, /healthz, /readyz on this port (default: DLBOT_METRICS_PORT; 0: no)",
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", help="address for --metrics-port (127.0.0.1)"
    )
    demo = commands.add_parser(
        "demo", help="everything local: sandbox tenant, Redis, bot, worker, Agents Playground"
    )
    demo.add_argument("--port", type=int, default=3978, help="the bot's port (3978)")
    demo.add_argument("--sandbox-port", type=int, default=8443, help="sandbox tenant (8443)")
    demo.add_argument(
        "--playground-port", type=int, default=56150, help="requester's Playground; owner's +1"
    )

    manifest = commands.add_parser("manifest", help="the Teams app package: build or validate it")
    manifest_commands = manifest.add_subparsers(dest="manifest_command", required=True)
    build = manifest_commands.add_parser("build", help="fill in the ids and write the zip")
    build.add_argument("--out", type=Path, default=Path("dist/dlbot-teams-app.zip"))
    validate = manifest_commands.add_parser(
        "validate", help="check a package (or the built one) offline against the official schema"
    )
    validate.add_argument("package", type=Path, nargs="?", default=Path("dist/dlbot-teams-app.zip"))
    commands.add_parser(
        "doctor", help="check the configuration against the tenant, say what to fix"
    )
    add_sync_arguments(
        commands.add_parser("sync", help="read every list and person from Exchange into Redis now")
    )
    register_admin_commands(commands)  # audit export | prune; requests list | show | cancel

    exchange = commands.add_parser("exchange", help="talk to Exchange Online as the bot does")
    exchange_commands = exchange.add_subparsers(dest="exchange_command", required=True)
    call = exchange_commands.add_parser(
        "call",
        help="run one cmdlet and print its objects as JSON lines",
        description=(
            "Run one cmdlet through the Exchange admin API with the bot's credentials. "
            "Param=Value passes a string; Param:=JSON passes a JSON value "
            '(BypassSecurityGroupManagerCheck:=true, ResultSize:=10, Members:=\'["a@x","b@x"]\').'
        ),
    )
    call.add_argument("cmdlet", help="e.g. Get-DistributionGroup")
    call.add_argument("parameters", nargs="*", metavar="Param=Value")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["sandbox"]:
        # Handed over before parsing: argparse would claim the sandbox's own --options.
        # Imported here: the sandbox is a test double, not part of a production start-up.
        from exchange.sandbox.cli import main as sandbox_main

        return sandbox_main(arguments[1:])
    args = _parser().parse_args(arguments)

    try:
        settings = Settings(_env_file=args.env_file) if args.env_file else Settings()
    except ValidationError as exc:
        # Before logging is set up, and a person's to fix: which setting, and why, no trace.
        problems = "; ".join(
            f"DLBOT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        print(f"dlbot: invalid settings: {problems}", file=sys.stderr)
        return EXIT_USAGE
    long_running = args.command in ("serve", "worker", "demo")
    configure_logging(
        settings,
        console=settings.log_format == "console"
        or (settings.log_format == "auto" and (args.command == "demo" or sys.stderr.isatty())),
        # A one-shot command prints its own results; its log says only what went wrong,
        # unless DLBOT_LOG_LEVEL asks for more.
        level=None if long_running or "log_level" in settings.model_fields_set else "WARNING",
    )
    if args.command == "manifest":
        from bot.manifest_command import run_manifest

        return run_manifest(settings, args)
    if args.command == "sync":
        from bot.sync_command import run_sync

        return run_sync(settings, args)
    if args.command == "audit":
        from bot.admin_command import run_audit

        return run_audit(settings, args)
    if args.command == "requests":
        from bot.admin_command import run_requests

        return run_requests(settings, args)
    if args.command == "doctor":
        from bot.doctor import run_doctor

        return asyncio.run(run_doctor(settings))
    if args.command in ("serve", "worker", "demo"):
        return _run(settings, args)
    if args.command == "exchange":
        try:
            config = settings.exchange()
        except ExchangeConfigError as exc:
            print(f"{type(exc).__name__}: {exc.message}", file=sys.stderr)
            return EXIT_USAGE
        return asyncio.run(run_exchange_call(config, args.cmdlet, args.parameters))
    return EXIT_USAGE


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.embedded_redis import EmbeddedRedisError
    from bot.run import serve, with_redis, work

    try:
        with with_redis(settings) as ready:
            if args.command == "serve":
                with_worker = not args.no_worker
                asyncio.run(serve(ready, host=args.host, port=args.port, with_worker=with_worker))
            elif args.command == "demo":
                from bot.demo import demo

                ports = {"sandbox_port": args.sandbox_port, "playground_port": args.playground_port}
                asyncio.run(demo(ready, bot_port=args.port, **ports))
            else:
                port = settings.metrics_port if args.metrics_port is None else args.metrics_port
                asyncio.run(work(ready, metrics_host=args.metrics_host, metrics_port=port))
    except ExchangeConfigError as exc:
        print(f"{type(exc).__name__}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except EmbeddedRedisError as exc:
        print(f"dlbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
