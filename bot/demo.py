"""`dlbot demo`: everything on this machine, on embedded defaults, for someone trying dlbot.

The sandbox tenant stands in for Exchange Online, a local redis-server holds the state, the bot
and a worker run as `dlbot serve` does, and two Agents Playgrounds are the Teams clients: one
signed in as Alex Wilber (who asks), one as Megan Bowen (who owns Finance EMEA and approves).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import SecretStr

from bot import playground
from bot.run import serving, until_stopped, working
from bot.services import running
from bot.settings import Settings
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tenant import Tenant

STATE = Path(".dlbot")
REQUESTER, OWNER = "alexw", "meganb"


def demo_settings(base: Settings, sandbox: SandboxServer) -> Settings:
    app = sandbox.demo_app
    assert app is not None and app.secrets, "the demo tenant registers an app with a secret"
    return base.model_copy(
        update={
            "exchange_base_url": sandbox.base_url,
            "exchange_authority": sandbox.base_url,
            "exchange_tenant": sandbox.tenant_id,
            "exchange_client_id": app.client_id,
            "exchange_client_secret": SecretStr(app.secrets[0]),
            "exchange_certificate_path": None,
            "exchange_ca_file": sandbox.ca_file,
            "allowed_tenants": sandbox.tenant_id,
            "fallback_approvers": base.fallback_approvers or "adelev@contoso.com",
        }
    )


@contextlib.asynccontextmanager
async def playground_for(alias: str, bot_endpoint: str, port: int) -> AsyncIterator[str | None]:
    """A Playground signed in as `alias`; yields its URL, or None (and says why) without Node."""
    workdir = (STATE / f"playground-{alias}").resolve()
    try:
        command = playground.command(bot_endpoint, port)
    except playground.PlaygroundUnavailable as missing:
        print(f"Agents Playground not started: {missing}", flush=True)
        yield None
        return
    playground.write_config(workdir, current_user=alias)
    log_path = workdir / "playground.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=workdir,
            env=playground.environment(workdir, dict(os.environ)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield f"http://localhost:{await _listening_port(log_path, process)}"
    finally:
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
            if process.returncode is None:
                process.kill()


async def _listening_port(log_path: Path, process: asyncio.subprocess.Process) -> int:
    # It silently picks another port when the one asked for is taken: read the real one.
    async with asyncio.timeout(30):
        while True:
            text = await asyncio.to_thread(log_path.read_text, errors="replace")
            found = re.search(r"Listening on (\d+)", text)
            if found:
                return int(found.group(1))
            if process.returncode is not None:
                raise RuntimeError(f"the Agents Playground exited; see {log_path}")
            await asyncio.sleep(0.1)


async def demo(base: Settings, *, bot_port: int, sandbox_port: int, playground_port: int) -> None:
    async with SandboxServer(
        Tenant.demo(), port=sandbox_port, state_dir=(STATE / "sandbox").resolve()
    ) as sandbox:
        settings = demo_settings(base, sandbox)
        endpoint = f"http://127.0.0.1:{bot_port}/api/messages"
        # Exits run in reverse: the worker and the web server drain their turns before the
        # Playgrounds they answer go away.
        async with (
            running(settings) as dlbot,
            playground_for(OWNER, endpoint, playground_port + 1) as owner_url,
            playground_for(REQUESTER, endpoint, playground_port) as requester_url,
            serving(dlbot, "127.0.0.1", bot_port),
            working(dlbot),
        ):
            print(f"\nSandbox Exchange tenant: {sandbox.base_url}   bot: {endpoint}")
            if requester_url and owner_url:
                print(
                    f"Open {owner_url} first (Megan Bowen, an owner of Finance EMEA), then "
                    f"{requester_url} (Alex Wilber) and type: add me to finance emea\n"
                    "Ctrl-C stops everything.",
                    flush=True,
                )
            else:
                print(f"Point any Bot Framework client at {endpoint}. Ctrl-C stops.", flush=True)
            await until_stopped()
