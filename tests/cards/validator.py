"""Validate Adaptive Cards with Microsoft's parser (tools/validate-card.js, adaptivecards 3.0.6).

    errors = validate_cards([card, other_card])   # [] when every card is valid for Teams (1.5)

One node process per call, however many cards; each error names its card ("card 1: ...").
The Playground renders invalid cards silently, so every card the bot sends is checked here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "validate-card.js"


class ValidatorUnavailable(RuntimeError):
    pass


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise ValidatorUnavailable("node is not installed: the card validator needs Node 20")
    if not (ROOT / "node_modules" / "adaptivecards").is_dir():
        raise ValidatorUnavailable("node_modules is missing: run ./dev test (it runs npm ci)")
    return node


def validate_cards(cards: list[Any]) -> list[str]:
    """Every error of every card, each prefixed with the card's index; [] if all are valid.

    An item may be a card, or {"template": card, "data": {...}} to validate its expansion.
    """
    if not cards:
        return []
    completed = subprocess.run(
        [_node(), str(TOOL)],
        input=json.dumps(cards),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    if completed.returncode not in (0, 1):
        raise ValidatorUnavailable(
            f"validate-card.js failed ({completed.returncode}): {completed.stderr.strip()}"
        )
    results = json.loads(completed.stdout)
    return [
        f"card {index}: {error}"
        for index, result in enumerate(results)
        for error in result["errors"]
    ]


def validate_card(card: Any) -> list[str]:
    return validate_cards([card])
