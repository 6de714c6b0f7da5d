"""`dlbot sandbox`: run the sandbox tenant on loopback until SIGINT/SIGTERM.

Prints (and writes to <state-dir>/sandbox.env) the environment the dlbot client needs to talk to
it, so a demo is: start this, `set -a; . .dlbot/sandbox/sandbox.env; set +a`, start the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from .server import SandboxServer
from .tenant import Tenant

ENV_FILE = "sandbox.env"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlbot sandbox",
        description=(
            "Run a local test double of Exchange Online's admin REST endpoint and of the Entra ID "
            "token endpoint, over HTTPS on loopback."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8443, help="port to listen on (8443)")
    parser.add_argument(
        "--tenant-file",
        type=Path,
        default=None,
        help="tenant JSON (see TENANT-FORMAT.md); default: the shipped demo tenant",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".dlbot/sandbox"),
        help="where the CA, certificates and sandbox.env live (.dlbot/sandbox)",
    )
    return parser


def environment(sb: SandboxServer) -> dict[str, str]:
    """The variables the dlbot client reads to use this sandbox as its Exchange tenant."""
    app = sb.demo_app
    env = {
        "DLBOT_EXCHANGE_BASE_URL": sb.base_url,
        # The client builds the authority as DLBOT_EXCHANGE_AUTHORITY + "/" + tenant.
        "DLBOT_EXCHANGE_AUTHORITY": sb.base_url,
        "DLBOT_EXCHANGE_TENANT": sb.tenant_id,
        "DLBOT_EXCHANGE_CLIENT_ID": app.client_id if app else "",
        "DLBOT_EXCHANGE_CLIENT_SECRET": app.secrets[0] if app and app.secrets else "",
        "DLBOT_EXCHANGE_CA_FILE": str(sb.ca_file.resolve()),
    }
    return env


def write_env_file(path: Path, env: dict[str, str]) -> None:
    # Owner-only: it holds the demo app's secret (a sandbox secret, but a secret-shaped one).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(f"{key}={value}\n" for key, value in env.items())


async def serve(tenant: Tenant, host: str, port: int, state_dir: Path) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with SandboxServer(tenant, host=host, port=port, state_dir=state_dir) as sb:
            env = environment(sb)
            env_file = state_dir / ENV_FILE
            await asyncio.to_thread(write_env_file, env_file, env)
            print(f"dlbot sandbox (a test double of Exchange Online) listening on {sb.base_url}")
            print(f"tenant {sb.tenant_id} ({tenant.initial_domain}), authority {sb.authority}")
            print(f"CA certificate: {sb.ca_file.resolve()}")
            print(f"client certificate for the demo app: {sb.keys.client_pfx_file.resolve()}")
            print(f"environment for the dlbot client (also in {env_file.resolve()}):")
            for key, value in env.items():
                print(f"{key}={value}")
            print("Ctrl-C to stop.", flush=True)
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("dlbot sandbox stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print(f"dlbot sandbox: invalid port {args.port}", file=sys.stderr)
        return 2
    try:
        tenant = Tenant.load(args.tenant_file) if args.tenant_file else Tenant.demo()
    except (OSError, ValueError) as exc:
        print(f"dlbot sandbox: cannot load tenant file {args.tenant_file}: {exc}", file=sys.stderr)
        return 2
    # One line per InvokeCommand on stderr, so a demo shows what the bot asked for.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(serve(tenant, args.host, args.port, args.state_dir))
    except OSError as exc:  # typically: the port is taken
        print(f"dlbot sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
