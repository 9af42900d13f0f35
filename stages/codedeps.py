"""The source files a stage runs: its module plus every `stages` module it imports.

Both runners declare these as inputs of the stage, so editing the code of a
stage reruns that stage and nothing that does not import the edited module.
"""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@cache
def _imports(module: str) -> frozenset[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stages."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("stages."))
    return frozenset(found)


def code_files(stage: str) -> list[str]:
    """Paths (relative to the project root) of the modules `stages.<stage>` runs."""
    seen, todo = set(), [stage]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imports(module))
    return [f"stages/{module}.py" for module in sorted(seen)]
