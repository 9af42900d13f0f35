"""The code a stage runs, and its fingerprint: what both runners see of a stage's code.

A stage runs its module, the parts of the `stages` modules it imports that it uses, and the data
files those parts declare in a module-level `DATA_FILES = ("stages/templates/...", ...)`. Its
fingerprint (configs/code/<stage>.json, written by configure and by the Snakefile only when it
changes) maps each of those files to a SHA-256:

- of a module, the syntax tree of the top-level statements the stage needs, docstrings removed:
  comments, docstrings, blank lines and formatting change nothing; a constant, a default, an
  operator or an import does;
- of a data file, its bytes.

"Needs" follows names: the top-level definitions (functions, classes, assignments, imports) that
the stage's code names, and what they name in turn; every other top-level statement (an
expression, an `if`, a decorator that may register something) is always needed, and so is what
runs on import in the `__init__.py` of each package above a needed module. So a helper that
a stage never calls is not in its fingerprint, and editing it reruns nothing of that stage.
A module that uses `globals`, `eval` or the like, or that is imported whole (`import stages.x`),
is needed whole. A train job also runs its architecture's module (`stages.lib.architectures.<name>`,
imported by name at run time): `fingerprint("train", architecture)` adds it. The syntax tree is
Python's own (`ast`), so a fingerprint holds for one Python version (pyproject.toml pins 3.11).
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

from stages.lib.files import sha256_file

ROOT = Path(__file__).resolve().parents[2]
ALL = None  # every top-level name of a module
# Names whose use makes any top-level name reachable: the whole module is then needed.
DYNAMIC = frozenset({"globals", "vars", "eval", "exec", "__import__", "__dict__"})
# Decorators known to register nothing: a definition under any other is always needed.
PURE_DECORATORS = frozenset(
    {"cache", "lru_cache", "cached_property", "dataclass", "contextmanager", "property", "staticmethod", "classmethod"}
)
ARCHITECTURES = "stages.lib.architectures"


def _path(module: str) -> str:
    """stages.lib.files -> stages/lib/files.py; a package -> its __init__.py (relative to the root)."""
    base = module.replace(".", "/")
    return f"{base}/__init__.py" if (ROOT / base).is_dir() else f"{base}.py"


def _is_module(module: str) -> bool:
    return (ROOT / _path(module)).is_file()


def _is_ours(module: str) -> bool:
    return module == "stages" or module.startswith("stages.")


def _source(node: ast.ImportFrom, module: str) -> str:
    """The absolute name of the module `node` imports from, inside `module` (`from .x import y` too)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if _path(module).endswith("__init__.py") else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def _decorator_name(node: ast.expr) -> str:
    node = node.func if isinstance(node, ast.Call) else node
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


class _Statement:
    """One top-level statement: the names it binds and uses, and the `stages` names it imports."""

    def __init__(self, node: ast.stmt, module: str):
        self.dump = ast.dump(node)
        self.binds: set[str] = set()
        self.always = False
        # stages module -> {name bound here (None: inside a definition, always imported) -> name there}
        self.imports: dict[str, dict[str | None, str] | None] = {}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.binds.add(node.name)
            self.always = any(_decorator_name(d) not in PURE_DECORATORS for d in node.decorator_list)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            self.binds.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.binds.update((a.asname or a.name).split(".")[0] for a in node.names)
            # An import of anything but `stages` is always kept: it may have effects of its own.
            self.always = not (isinstance(node, ast.ImportFrom) and _is_ours(_source(node, module)))
        else:
            self.always = True  # an expression, `if`, `try`, ...: it runs on import
        top = isinstance(node, (ast.Import, ast.ImportFrom))
        self.uses = set() if top else {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        self.uses |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr in DYNAMIC}
        for sub in ast.walk(node):
            if isinstance(sub, ast.ImportFrom) and _is_ours(source := _source(sub, module)):
                for alias in sub.names:
                    if _is_module(f"{source}.{alias.name}") or alias.name == "*":  # a module, or all of one
                        self.imports[source if alias.name == "*" else f"{source}.{alias.name}"] = ALL
                    elif self.imports.get(source, {}) is not ALL:
                        bound = (alias.asname or alias.name) if top else None
                        self.imports.setdefault(source, {})[bound] = alias.name
            elif isinstance(sub, ast.Import):
                self.imports.update({a.name: ALL for a in sub.names if _is_ours(a.name)})

    def imported(self, wanted: set[str] | None) -> dict[str, set[str] | None]:
        """The `stages` modules and names this statement imports that `wanted` (ALL: every name) uses."""
        return {
            module: ALL
            if names is ALL
            else {there for here, there in names.items() if here is None or wanted is None or here in wanted}
            for module, names in self.imports.items()
        }


@cache
def _statements(module: str) -> tuple[list[_Statement], tuple[str, ...]]:
    """The top-level statements of `module` (docstrings removed), and the files it declares in
    DATA_FILES; none for a folder without __init__.py (a namespace package)."""
    if not _is_module(module):
        return [], ()
    tree = _strip_docstrings(ast.parse((ROOT / _path(module)).read_text(encoding="utf-8")))
    data_files = ()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DATA_FILES" for t in node.targets):
            data_files = tuple(ast.literal_eval(node.value))
    return [_Statement(node, module) for node in tree.body], data_files


def _needed(module: str, names: set[str] | None) -> tuple[list[_Statement], set[str] | None]:
    """The statements of `module` that running its `names` (ALL: the module itself) needs, in order,
    and every name they use (ALL where that is the whole module)."""
    statements = _statements(module)[0]
    wanted = None if names is ALL else set(names)
    chosen: set[int] = set()
    while True:
        before = len(chosen)
        for i, statement in enumerate(statements):
            if i not in chosen and (wanted is None or statement.always or statement.binds & wanted):
                chosen.add(i)
                if wanted is not None:
                    wanted |= statement.uses
                    wanted = None if wanted & DYNAMIC else wanted
        if len(chosen) == before:
            return [statements[i] for i in sorted(chosen)], wanted


def _closure(entries: dict[str, set[str] | None]) -> dict[str, list[_Statement]]:
    """module -> the statements needed to run `entries` (module -> names, or ALL), imports followed."""
    wanted: dict[str, set[str] | None] = {}
    todo = list(entries.items())
    while todo:
        module, names = todo.pop()
        known = wanted.get(module, set())
        if module in wanted and (known is ALL or (names is not ALL and names <= known)):
            continue
        wanted[module] = ALL if names is ALL or known is ALL else known | names
        statements, uses = _needed(module, wanted[module])
        for statement in statements:
            todo.extend(statement.imported(uses).items())
        # Importing a module runs its packages' __init__.py first: what runs on import there counts.
        parents = module.split(".")[:-1]
        todo.extend((".".join(parents[:i]), set()) for i in range(1, len(parents) + 1))
    return {module: _needed(module, names)[0] for module, names in wanted.items()}


def _entries(stage: str, architecture: str | None = None) -> dict[str, set[str] | None]:
    entries = {f"stages.{stage}": ALL}
    if architecture is not None:
        entries[f"{ARCHITECTURES}.{architecture}"] = ALL
    return entries


def code_files(stage: str, architecture: str | None = None) -> list[str]:
    """Paths (relative to the project root) of the modules and data files `stages.<stage>` runs
    (a train job: with its `architecture`'s module)."""
    closure = {module: s for module, s in _closure(_entries(stage, architecture)).items() if _is_module(module)}
    return sorted({_path(module) for module in closure} | {p for module in closure for p in _statements(module)[1]})


def _digest(statements: list[_Statement]) -> str:
    return hashlib.sha256("\n".join(s.dump for s in statements).encode()).hexdigest()


def fingerprint(stage: str, architecture: str | None = None) -> dict[str, str]:
    """{path: SHA-256} of what `stages.<stage>` runs (see the module's docstring)."""
    closure = {module: s for module, s in _closure(_entries(stage, architecture)).items() if _is_module(module)}
    digests = {_path(module): _digest(statements) for module, statements in closure.items()}
    for module in closure:
        digests.update({path: sha256_file(ROOT / path) for path in _statements(module)[1]})
    return dict(sorted(digests.items()))
