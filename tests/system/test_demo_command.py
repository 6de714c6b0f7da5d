"""`dlbot demo` (the README's first command) brings everything up, answers a Teams message from
its Playground, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.playground import PEOPLE, personal_chat_id
from tests.conftest import _free_port


def _post(url: str, body: object) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"null")


def _wait_for(pattern: str, output: Path, process: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = output.read_text(errors="replace")
        found = re.search(pattern, text)
        if found:
            return found
        assert process.poll() is None, f"dlbot demo exited:\n{text[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in:\n{output.read_text(errors='replace')[-3000:]}")


def test_the_demo_comes_up_answers_a_message_and_stops_on_ctrl_c(
    tmp_path: Path, redis_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLBOT_")}
    env["DLBOT_REDIS_URL"] = redis_url  # the suite's redis-server; the embedded one is tested apart
    output = tmp_path / "demo.log"
    ports = [str(_free_port()) for _ in range(3)]
    with output.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "demo",
                "--port",
                ports[0],
                "--sandbox-port",
                ports[1],
                "--playground-port",
                ports[2],
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        found = _wait_for(r"then (http://localhost:\d+) \(Alex Wilber\)", output, process)
        alex = found.group(1)
        chat = personal_chat_id("alexw")
        # What a browser does first: the Playground reaches the bot when its config is read.
        with urllib.request.urlopen(f"{alex}/_internal/v1/config", timeout=30):  # noqa: S310
            pass
        _post(f"{alex}/_debug/conversation/{chat}/installation", {})
        _post(
            f"{alex}/_conversation/v1/conversations/{chat}/messages",
            {
                "from": {"id": f"29:{PEOPLE['alexw']}"},
                "text": "add me to finance emea",
                "textFormat": "plain",
            },
        )
        # The bot looked the person up in the sandbox tenant to answer (Get-User is not part of
        # the start-up sync, so this line is the turn's own).
        _wait_for(r"InvokeCommand Get-User -> 200", output, process)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    text = output.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert "Traceback" not in text
