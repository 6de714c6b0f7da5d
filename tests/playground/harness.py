"""Microsoft 365 Agents Playground (Teams' client and connector, by Microsoft) against our bot.

    async with serve(create_app(settings, bot, services)) as bot_url:      # our app first
        async with Playground.start(bot_url + "/api/messages", workdir) as pg:
            await pg.install()                        # installationUpdate + conversationUpdate
            await pg.send_message("hello")
            said = await pg.stream.wait_for_text("echo: hello")
            answer = await pg.invoke_card("approve", {"id": 1}, reply_to_id=card_id)

The bot runs in-process (the tests' event loop, a free loopback port), so tests can look at
it; the Playground is a node subprocess on another free loopback port. The Playground asks
for the bot when a client first reads its config and waits up to 15 s, so the bot starts
first. Its telemetry is switched off by flag and environment; run it inside the loopback-only
network namespace (./dev test does) and nothing leaves the machine anyway.

The mock tenant (.m365agentsplayground.yml) holds the six people of the sandbox tenant's
demo directory with their real aadObjectIds, so the bot finds Playground users in the
directory. Their Teams user ids (from.id) are, with user_ids=
- "teams" (default): "29:<aadObjectId>", different from the object id as in Teams, so code
  that takes from.id for a person's id fails here as it would in Teams;
- "object": the aadObjectId itself. Teams accepts an object id as the member of a new 1:1
  chat, the Playground only its users' ids: use this when one Playground must reach people
  the bot never met (an owner who never opened the app).

Playground behaviours worth knowing (0.2.28):
- A bot message with text AND attachments is split into two messages, and the connector
  answers 202 without an id: send cards without text to be able to update them.
- /_conversation/v1/invoke works for any member of that conversation and returns the bot's
  {type, value} (statusCode dropped); non-members get 400 UserNotFound.
- /_internal/v1/customActivities answers 200 before the bot does: the bot's answer (e.g. 401,
  403) is not reported back; look at the bot's side.
- A conversation the bot creates (POST v3/conversations) is never shown in the UI and its
  messages are not on the stream; they exist though (invoke_card on them works). And it
  only knows users by their configured ids (see user_ids above).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.playground import (  # noqa: F401  (re-exported: tests import them from the harness)
    BOT_ID,
    BOT_NAME,
    CLI,
    PEOPLE,
    QUIET_ENV,
    SANDBOX_TENANT_ID,
    PlaygroundUnavailable,
    UserIds,
    personal_chat_id,
    playground_config,
    teams_user_id,
    write_config,
)
from bot.playground import command as playground_command
from bot.playground import environment as playground_environment

T = TypeVar("T")
START_TIMEOUT_SECONDS = 30.0


class PlaygroundError(RuntimeError):
    pass


async def eventually(check: Callable[[], Awaitable[T]], within: float = 10.0) -> T:
    """Poll `check` until it returns something truthy, and return that. The Playground
    forwards some things to the bot after answering (installation, customActivities)."""
    async with asyncio.timeout(within):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MessageStream:
    """What the Playground's UI would see: createMessage / updateMessage events, collected."""

    events: list[dict[str, Any]] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _add(self, event: dict[str, Any]) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 10.0, after: int = 0
    ) -> dict[str, Any]:
        """The first event (from index `after`) matching `predicate`, waiting up to `within`
        seconds for it."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events[after:] if predicate(e)), None)

        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: found() is not None)
        except TimeoutError:
            seen = [_summary(e) for e in self.events[after:]]
            raise PlaygroundError(f"no matching message within {within}s; saw {seen}") from None
        event = found()
        assert event is not None
        return event

    async def wait_for_text(
        self, text: str, within: float = 10.0, after: int = 0
    ) -> dict[str, Any]:
        """The bot's message (created or updated) containing `text`."""
        return await self.wait_for(
            lambda e: text in (e.get("message", {}).get("text") or ""), within, after
        )

    def bot_messages(self) -> list[dict[str, Any]]:
        return [e["message"] for e in self.events if e.get("action") == "createMessage"]


def _summary(event: dict[str, Any]) -> str:
    message = event.get("message", {})
    attachments = len(message.get("attachments") or [])
    return f"{event.get('action')} {message.get('text')!r} ({attachments} attachments)"


class Playground:
    """A running Agents Playground and a small client for its HTTP and WebSocket APIs."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        base_url: str,
        config: dict[str, Any],
        log_path: Path,
    ) -> None:
        self._process = process
        self.base_url = base_url
        self.config = config
        self.log_path = log_path
        self.stream = MessageStream()
        self._session = aiohttp.ClientSession()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def current_user(self) -> dict[str, str]:
        return dict(self.config["currentUser"])

    @property
    def personal_chat_id(self) -> str:
        return str(self.config["personalChat"]["id"])

    @property
    def service_url(self) -> str:
        """The serviceUrl on its activities (it names itself localhost)."""
        return self.base_url.replace("127.0.0.1", "localhost") + "/_connector"

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        bot_endpoint: str,
        workdir: Path,
        *,
        current_user: str = "alexw",
        user_ids: UserIds = "teams",
    ) -> AsyncIterator[Playground]:
        try:
            command = playground_command(bot_endpoint, _free_port())
        except PlaygroundUnavailable as missing:
            raise PlaygroundError(f"{missing} (./dev test runs npm ci)") from None
        config = playground_config(current_user, user_ids)
        write_config(workdir, current_user, user_ids)
        log_path = workdir / "playground.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=workdir,
                env=playground_environment(workdir, dict(os.environ)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        playground: Playground | None = None
        try:
            # It falls back to a random port when ours got taken meanwhile: read the real one.
            actual = await _listening_port(process, log_path)
            playground = cls(process, f"http://127.0.0.1:{actual}", config, log_path)
            await playground._ready()
            yield playground
        finally:
            if playground is not None:
                await playground._close()
            await _stop(process)

    async def _ready(self) -> None:
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with self._session.get(f"{self.base_url}/_debug/ping") as response:
                        if response.status == 200 and await response.text() == "pong":
                            break
                await asyncio.sleep(0.05)
        # Reading the config is what makes the Playground connect to the bot (as a page load).
        served = await self._get("/_internal/v1/config")
        if served["config"]["tenantId"] != SANDBOX_TENANT_ID:
            raise PlaygroundError(f"the Playground did not load our config: {served['config']}")
        self._ws = await self._session.ws_connect(
            f"{self.base_url}/_ws_conversation/v1/conversations/stream", heartbeat=None
        )
        self._reader = asyncio.create_task(self._read_stream(self._ws))

    async def _read_stream(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type == aiohttp.WSMsgType.TEXT:
                await self.stream._add(json.loads(frame.data))

    async def _close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._session.close()

    # The HTTP API ---------------------------------------------------------------------------

    async def _get(self, path: str) -> Any:
        async with self._session.get(self.base_url + path) as response:
            return await _json_or_raise(response)

    async def _post(self, path: str, body: Any) -> Any:
        async with self._session.post(self.base_url + path, json=body) as response:
            return await _json_or_raise(response)

    async def install(self, conversation_id: str | None = None) -> None:
        """What opening the app does: installationUpdate, then conversationUpdate (bot added)."""
        await self._post(
            f"/_debug/conversation/{conversation_id or self.personal_chat_id}/installation", {}
        )

    async def send_message(self, text: str, *, conversation_id: str | None = None) -> str:
        """The signed-in user types `text`; returns the Playground's message id."""
        answer = await self._post(
            f"/_conversation/v1/conversations/{conversation_id or self.personal_chat_id}/messages",
            {"from": {"id": self.current_user["id"]}, "text": text, "textFormat": "plain"},
        )
        return str(answer["messageId"])

    async def invoke_card(
        self,
        verb: str,
        data: dict[str, Any],
        *,
        reply_to_id: str,
        from_id: str | None = None,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        """Click an Action.Execute button of the card message `reply_to_id`, as `from_id`
        (any member of the conversation; default: the signed-in user). Returns the bot's
        {type, value}."""
        answer = await self._post(
            "/_conversation/v1/invoke",
            {
                "name": "adaptiveCard/action",
                "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}},
                "from": {"id": from_id or self.current_user["id"]},
                "conversation": {"id": conversation_id or self.personal_chat_id},
                "replyToId": reply_to_id,
            },
        )
        return dict(answer)

    async def raw_activity(self, activity: dict[str, Any]) -> None:
        """Forward any activity JSON to the bot as is (no answer comes back from the bot)."""
        await self._post("/_internal/v1/customActivities", activity)

    def activity(self, **fields: Any) -> dict[str, Any]:
        """A message activity as this Playground sends them, for raw_activity to alter."""
        user = self.current_user
        base: dict[str, Any] = {
            "type": "message",
            "id": f"custom-{os.urandom(4).hex()}",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": {"id": user["id"], "name": user["name"], "aadObjectId": user["aadObjectId"]},
            "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "conversation": {
                "id": self.personal_chat_id,
                "conversationType": "personal",
                "tenantId": SANDBOX_TENANT_ID,
            },
            "channelData": {"tenant": {"id": SANDBOX_TENANT_ID}},
            "text": "hello",
        }
        base.update(fields)
        return base


async def _json_or_raise(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    if response.status >= 400:
        raise PlaygroundError(f"{response.method} {response.url.path}: {response.status} {text}")
    return json.loads(text) if text else None


def _read(path: Path) -> str:
    return path.read_text(errors="replace")


async def _listening_port(process: asyncio.subprocess.Process, log_path: Path) -> int:
    async with asyncio.timeout(START_TIMEOUT_SECONDS):
        while True:
            output = _read(log_path)
            found = re.search(r"Listening on (\d+)", output)
            if found:
                return int(found.group(1))
            if process.returncode is not None:
                raise PlaygroundError(f"the Playground exited: {output[-2000:]}")
            await asyncio.sleep(0.05)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
