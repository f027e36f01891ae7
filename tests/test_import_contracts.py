"""The parts' import rules hold (pyproject's [tool.importlinter] contracts, checked by import-linter)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("benchmark", "baselines", "evaluator", "submissions", "space_app", "motifbench")


def test_import_linter_contracts_hold():
    """Layers space_app > submissions > evaluator > benchmark; baselines > benchmark (may call the
    evaluator); nothing imports motifbench; no import cycles inside a part."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.is_file() else ["lint-imports"]
    done = subprocess.run([*command, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout or "broken" not in done.stdout.split("Contracts:")[-1]


def _guards_in_repo_import(handler: ast.ExceptHandler, body: list[ast.stmt]) -> list[str]:
    names = {"ImportError", "ModuleNotFoundError"}
    caught = handler.type
    types = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    if not any(isinstance(t, ast.Name) and t.id in names for t in types):
        return []
    guarded = []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.ImportFrom) and node.module:
                guarded.append(node.module)
            elif isinstance(node, ast.Import):
                guarded.extend(a.name for a in node.names)
    return [m for m in guarded if m.split(".")[0] in PARTS]


def test_no_import_error_guards_around_our_own_modules():
    """A part never hides a missing sibling behind ``except ImportError``: the dependency rules say who may import whom."""
    offenders = []
    for part in PARTS:
        for path in (ROOT / part).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Try):
                    for handler in node.handlers:
                        for module in _guards_in_repo_import(handler, node.body):
                            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} guards {module}")
    assert not offenders, offenders
