"""The source files a stage runs: its module plus every `stages` module it imports, and the
files those modules declare in a module-level `DATA_FILES = ("stages/templates/...", ...)`.

Both runners see them through one file per stage, from `fingerprints` (configs/code/<stage>.json,
written by configure and by the Snakefile, only when it changes), so editing the code of a
stage reruns that stage and nothing that does not import the edited module.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from stages.lib.files import sha256_file

ROOT = Path(__file__).resolve().parents[2]


def _path(module: str) -> str:
    """stages.lib.files -> stages/lib/files.py (relative to the project root)."""
    return module.replace(".", "/") + ".py"


@cache
def _parse(module: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The `stages` modules that `module` (dotted, e.g. stages.train) imports, at any depth of its
    code, and the files it declares in DATA_FILES."""
    tree = ast.parse((ROOT / _path(module)).read_text(encoding="utf-8"))
    found, data_files = set(), ()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stages."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("stages."))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DATA_FILES" for t in node.targets):
            data_files = tuple(ast.literal_eval(node.value))
    return frozenset(found), data_files


def code_files(stage: str) -> list[str]:
    """Paths (relative to the project root) of the modules `stages.<stage>` runs."""
    seen, todo = set(), [f"stages.{stage}"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_parse(module)[0])
    return sorted({_path(module) for module in seen} | {path for module in seen for path in _parse(module)[1]})


def fingerprints(stages) -> dict[str, dict[str, str]]:
    """{stage: {path: SHA-256}} of the files each of `stages` runs (each file read once): the one
    input that stands for a stage's code."""
    files = {stage: code_files(stage) for stage in stages}
    digests = {path: sha256_file(ROOT / path) for path in set().union(*files.values())}
    return {stage: {path: digests[path] for path in paths} for stage, paths in files.items()}
