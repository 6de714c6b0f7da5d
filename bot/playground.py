"""Microsoft 365 Agents Playground for `dlbot demo`: its mock tenant, and starting it.

The mock tenant holds the six people of the sandbox tenant's demo directory with their real
aadObjectIds, so the bot finds Playground users in the (sandbox) directory. The test harness
(tests/playground) builds on the same definitions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "node_modules" / ".bin" / "agentsplayground"
DEMO_TENANT = ROOT / "exchange" / "sandbox" / "demo-tenant.json"

SANDBOX_TENANT_ID = "9eac73f7-edc8-43b2-b610-30825ba9d199"
BOT_ID = "28:dlbot-playground"
BOT_NAME = "dlbot"

# The six people of the mock tenant, by alias; the first is the default signed-in user.
PEOPLE: dict[str, str] = {
    "alexw": "9e986098-d981-4a25-9a89-5bf689ff5e3c",
    "meganb": "610e5c9f-cf2a-4499-b142-baecacdfc76e",
    "leeg": "069165b6-f31a-45ec-9da9-6372c99dfd5d",
    "adelev": "e2e05ef4-6ef8-4057-8534-6fd142ebda0b",
    "nestorw": "337f3ef0-df32-4e4f-bc68-618b22ee068c",
    "pattif": "494b3660-a89e-418c-9b1d-c38f998207fa",
}

# Telemetry off: Application Insights' statsbeat/heartbeat would try to reach the internet.
QUIET_ENV = {
    "TEAMSAPPTESTER_BROWSER": "none",
    "APPLICATION_INSIGHTS_NO_STATSBEAT": "1",
    "APPLICATIONINSIGHTS_CONFIGURATION_CONTENT": json.dumps(
        {"disableAppInsights": True, "enableAutoCollectHeartbeat": False, "disableStatsbeat": True}
    ),
}

# "teams": from.id is "29:<aadObjectId>", unlike the object id, as in Teams. "object": from.id
# is the object id, which lets one Playground reach people the bot never met.
UserIds = Literal["teams", "object"]


class PlaygroundUnavailable(RuntimeError):
    pass


def teams_user_id(alias: str, user_ids: UserIds = "teams") -> str:
    return f"29:{PEOPLE[alias]}" if user_ids == "teams" else PEOPLE[alias]


def personal_chat_id(alias: str) -> str:
    return f"a:personal-{alias}"


def _user(alias: str, directory: dict[str, dict[str, Any]], user_ids: UserIds) -> dict[str, str]:
    person = directory[PEOPLE[alias]]
    return {
        "id": teams_user_id(alias, user_ids),
        "name": person["display_name"],
        "userPrincipleName": person["email"],  # sic: the Playground's spelling
        "aadObjectId": PEOPLE[alias],
        "givenName": person["first_name"],
        "surname": person["last_name"],
        "email": person["email"],
    }


def playground_config(current_user: str = "alexw", user_ids: UserIds = "teams") -> dict[str, Any]:
    """The mock tenant: the signed-in `current_user` and exactly five others."""
    if current_user not in PEOPLE:
        raise ValueError(f"current_user must be one of {sorted(PEOPLE)}")
    tenant = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    if tenant["tenant"]["id"] != SANDBOX_TENANT_ID:
        raise PlaygroundUnavailable("the sandbox demo tenant changed its id: update PEOPLE")
    directory = {user["id"]: user for user in tenant["users"]}
    return {
        "version": "0.1.1",
        "tenantId": SANDBOX_TENANT_ID,
        "bot": {"id": BOT_ID, "name": BOT_NAME},
        "currentUser": _user(current_user, directory, user_ids),
        "users": [_user(alias, directory, user_ids) for alias in PEOPLE if alias != current_user],
        "personalChat": {"id": personal_chat_id(current_user)},
        "groupChat": {"id": "19:dlbot-group@thread.v2", "name": "Finance chat"},
        "team": {
            "id": "19:dlbot-team@thread.tacv2",
            "name": "Contoso",
            "aadGroupId": "b5a3bb6e-2d6f-4a8b-9b1e-0c5a2a3c1f01",
            "channels": [],
        },
    }


def write_config(workdir: Path, current_user: str = "alexw", user_ids: UserIds = "teams") -> Path:
    # JSON is YAML: no YAML writer needed, and no quoting surprises (29:..., a:...).
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / ".m365agentsplayground.yml"
    path.write_text(json.dumps(playground_config(current_user, user_ids), indent=2), "utf-8")
    return path


def command(bot_endpoint: str, port: int) -> list[str]:
    """How to start the Playground for `bot_endpoint`, or PlaygroundUnavailable saying why."""
    node = shutil.which("node")
    if node is None:
        raise PlaygroundUnavailable("Node.js is not installed (the Playground needs Node 20)")
    if not CLI.exists():
        raise PlaygroundUnavailable(f"{CLI} is missing: run `npm ci` in {ROOT}")
    return [
        node,
        str(CLI.resolve()),
        "--disable-telemetry",
        "-p",
        str(port),
        "-e",
        bot_endpoint,
        "-c",
        "msteams",
    ]


def environment(workdir: Path, base: dict[str, str]) -> dict[str, str]:
    return {
        **base,
        **QUIET_ENV,
        "HOME": str(workdir),  # whatever it caches stays in its own directory
        "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(workdir / ".m365agentsplayground.yml"),
    }
