"""The source files a stage runs: its module plus every `stages` module it imports.

Both runners declare these as inputs of the stage, so editing the code of a
stage reruns that stage and nothing that does not import the edited module.
"""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _path(module: str) -> str:
    """stages.lib.files -> stages/lib/files.py (relative to the project root)."""
    return module.replace(".", "/") + ".py"


@cache
def _imports(module: str) -> frozenset[str]:
    """The `stages` modules that `module` (dotted, e.g. stages.train) imports, at any depth of its code."""
    tree = ast.parse((ROOT / _path(module)).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stages."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("stages."))
    return frozenset(found)


def code_files(stage: str) -> list[str]:
    """Paths (relative to the project root) of the modules `stages.<stage>` runs."""
    seen, todo = set(), [f"stages.{stage}"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imports(module))
    return sorted(_path(module) for module in seen)
