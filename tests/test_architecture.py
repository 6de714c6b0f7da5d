"""The domain packages never import the Teams edge's frameworks, so the edge can be replaced."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_PACKAGES = ("skills", "approvals", "exchange")
EDGE_FRAMEWORKS = ("botbuilder", "aiohttp")
# The sandbox is a test double of a remote service (an HTTP server), not part of the product.
TEST_DOUBLES = (ROOT / "exchange" / "sandbox",)


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _domain_files() -> list[Path]:
    files = [p for package in DOMAIN_PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    return [p for p in files if not any(p.is_relative_to(d) for d in TEST_DOUBLES)]


def test_there_are_domain_modules_to_check() -> None:
    assert len(_domain_files()) >= 5


@pytest.mark.parametrize("path", _domain_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_domain_module_imports_no_edge_framework(path: Path) -> None:
    offending = {
        module for module in _imported_modules(path) if module.split(".")[0] in EDGE_FRAMEWORKS
    }
    assert not offending, f"{path.relative_to(ROOT)} imports {sorted(offending)}"


def test_the_checker_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from aiohttp import web\n    import botbuilder.core\n")
    assert _imported_modules(module) == {"aiohttp", "botbuilder.core"}
