"""Code fingerprints (stages.lib.codedeps): they follow what the code does, not its bytes, and a job
depends on the code it runs, not on its neighbours'. Edits are made in a copy of stages/."""

import ast
import re
import shutil

import pytest

from stages.lib import codedeps
from stages.lib.architectures import names
from stages.lib.layout import CODE_STAGES
from tests.conftest import ROOT


def every_fingerprint() -> dict:
    """(stage, architecture) -> fingerprint, for every file configure writes."""
    codedeps._statements.cache_clear()
    keys = [(stage, None) for stage in CODE_STAGES if stage != "train"] + [("train", name) for name in names()]
    return {key: codedeps.fingerprint(*key) for key in keys}


@pytest.fixture
def code(tmp_path, monkeypatch):
    """A copy of stages/ that codedeps reads instead of the checkout's; returns its root."""
    shutil.copytree(ROOT / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codedeps, "ROOT", tmp_path)
    yield tmp_path
    codedeps._statements.cache_clear()


def edit(root, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert text.count(old) == 1, (path, old)
    file.write_text(text.replace(old, new))


def changed(before: dict, after: dict) -> set:
    return {key for key in before if before[key] != after[key]}


def test_code_files_follow_imports():
    assert codedeps.code_files("compare") == [
        "stages/__init__.py",
        "stages/compare.py",
        "stages/lib/errors.py",
        "stages/lib/layout.py",
        "stages/lib/uncertainty.py",
    ]
    train = codedeps.code_files("train", "morph")
    assert {"stages/train.py", "stages/lib/architectures/morph.py", "stages/lib/layers.py"} <= set(train)
    # Another architecture's module, or a stage's settings train does not read, is no part of it.
    assert "stages/lib/architectures/cnn_deep.py" not in train and "stages/lib/archive.py" not in train
    # A template a stage reads (its DATA_FILES) is an input of the stage like its code.
    assert "stages/templates/model_card.md.j2" in codedeps.code_files("package")
    # The published results are the report's code: a new row reruns it under either runner.
    assert "stages/data/published_results.csv" in codedeps.code_files("report")


def reworded(text: str) -> str:
    """`text` (Python) with every docstring reworded, and a comment and a blank line before every
    top-level statement and at both ends: what it does is unchanged."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and isinstance(node.body[0], ast.Expr):
            doc = node.body[0].value
            if isinstance(doc, ast.Constant) and isinstance(doc.value, str):
                line, col = doc.lineno - 1, doc.col_offset
                quotes = re.match(r"[rRbBuU]*(\"\"\"|'''|\"|')", lines[line][col:]).end()
                lines[line] = lines[line][: col + quotes] + "Reworded. " + lines[line][col + quotes :]
    starts = [min([n.lineno for n in getattr(node, "decorator_list", [])] + [node.lineno]) for node in tree.body]
    for start in reversed(starts):
        lines.insert(start - 1, "# A comment before a statement.\n\n")
    return "# A comment at the top.\n" + "".join(lines) + "\n# A comment at the end.\n"


def test_comments_docstrings_and_formatting_change_no_fingerprint(code):
    before = every_fingerprint()
    for path in sorted((code / "stages").rglob("*.py")):
        path.write_text(reworded(path.read_text()))
    assert every_fingerprint() == before


EVALUATE, PACKAGE = {("evaluate", None)}, {("package", None)}
# The stages that call sha256_file; transfer checks the ImageNet weights with it.
HASHERS = {("download", None), ("prepare", None), ("package", None), ("train", "transfer")}


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        # A constant of evaluate: evaluate's fingerprint, not train's.
        ("stages/evaluate.py", "FILTERS_SHOWN = 16", "FILTERS_SHOWN = 15", EVALUATE),
        # A default, an operator, an import: what the code does.
        ("stages/lib/scores.py", "1e-7, 1.0", "1e-6, 1.0", EVALUATE),
        ("stages/lib/scores.py", "(probabilities > p_true)", "(probabilities >= p_true)", EVALUATE),
        ("stages/lib/architectures/mlp.py", '"relu", preset', '"tanh", preset', {("train", "mlp")}),
        ("stages/lib/architectures/softmax.py", "    import keras\n", "    import keras\n    import math\n",
         {("train", "softmax")}),
        # A shared helper: the jobs that call it. small_conv_stem: cnn_intro and cnn_dropout.
        ("stages/lib/architectures/_blocks.py", "Conv2D(16,", "Conv2D(17,",
         {("train", "cnn_intro"), ("train", "cnn_dropout")}),
        # sha256_file: not train's, nor evaluate's.
        ("stages/lib/files.py", "chunk: int = 1 << 20", "chunk: int = 1 << 21", HASHERS),
        # One stage's settings class: that stage alone.
        ("stages/lib/settings.py", "class PackageSettings(Settings):",
         "class PackageSettings(Settings):\n    extra: int = 1", PACKAGE),
        # A data file a stage declares: its bytes.
        ("stages/templates/model_card.md.j2", "# Model card:", "# Model card for", PACKAGE),
    ],
)  # fmt: skip
def test_a_real_change_changes_exactly_the_fingerprints_of_the_code_that_runs_it(code, path, old, new, expected):
    before = every_fingerprint()
    edit(code, path, old, new)
    assert changed(before, every_fingerprint()) == expected


def test_a_change_that_train_runs_changes_every_train_fingerprint(code):
    before = every_fingerprint()
    edit(code, "stages/lib/files.py", 'suffix: str = ""', 'suffix: str = ".tmp"')  # atomic_path: every stage writes
    assert {key for key in changed(before, every_fingerprint()) if key[0] == "train"} == {
        ("train", name) for name in names()
    }


def test_adding_an_architecture_changes_no_fingerprint_but_its_own(code):
    before = every_fingerprint()
    (code / "stages/lib/architectures/tiny.py").write_text(
        "def build(input_shape, num_classes):\n    import keras\n\n"
        "    layers = [keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(num_classes)]\n"
        "    return keras.Sequential(layers)\n"
    )
    codedeps._statements.cache_clear()
    assert "stages/lib/architectures/tiny.py" in codedeps.fingerprint("train", "tiny")
    after = every_fingerprint()
    assert {key: after[key] for key in before} == before


def test_code_that_names_globals_is_needed_whole(code):
    before = every_fingerprint()
    # A helper nobody calls is in no fingerprint...
    with (code / "stages/lib/confusion.py").open("a") as handle:
        handle.write("\n\ndef unused_helper():\n    return 1\n")
    assert changed(before, every_fingerprint()) == set()
    # ... until code that runs on import may look names up by string: then the whole module counts.
    with (code / "stages/lib/confusion.py").open("a") as handle:
        handle.write("\nglobals()\n")
    looked_up = every_fingerprint()
    edit(code, "stages/lib/confusion.py", "return 1", "return 2")
    assert {stage for stage, _ in changed(looked_up, every_fingerprint())} == {"evaluate", "report"}


def _imports(path):
    """Every module name that `path` imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_libraries_import_no_command():
    """Imports run downward: a command may import libraries, a library (stages/lib/) no command."""
    upward = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "stages" / "lib").rglob("*.py")
        for name in _imports(path)
        if name.startswith("stages.") and not name.startswith("stages.lib")
    }
    assert upward == set()


def test_every_imported_package_is_a_declared_dependency():
    """stages/ and benchmarks/ import only the standard library, the project, and the distributions
    pyproject.toml declares (not one that happens to come with another, as funcy comes with DVC)."""
    import importlib.metadata
    import sys
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {Requirement(r).name.lower().replace("_", "-") for r in project["dependencies"]}
    declared |= {"jax", "jaxlib"}  # benchmarks/gpu_throughput.py: the GPU machine's backend (docs/running.md#gpus)
    providers = importlib.metadata.packages_distributions()
    scripts = {path.stem for path in (ROOT / "benchmarks").glob("*.py")}  # benchmarks import each other
    undeclared = set()
    for path in [*(ROOT / "stages").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        for name in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in {"stages", "tensorflow", "torch", *scripts}:
                continue
            distributions = {d.lower().replace("_", "-") for d in providers.get(top, [top])}
            if not distributions & declared:
                undeclared.add(f"{path.relative_to(ROOT)}: {name}")
    assert undeclared == set()


def test_what_a_package_runs_on_import_is_in_every_fingerprint_below_it(code):
    """stages/__init__.py runs before any stage: its code, not its docstring, is every job's input."""
    before = every_fingerprint()
    edit(code, "stages/__init__.py", '"TF_CPP_MIN_LOG_LEVEL", "2"', '"TF_CPP_MIN_LOG_LEVEL", "1"')
    assert changed(before, every_fingerprint()) == set(before)
    architectures = every_fingerprint()
    edit(code, "stages/lib/architectures/__init__.py", "\nimport importlib\n", "\nimport importlib\nimport json\n")
    assert changed(architectures, every_fingerprint()) == {key for key in before if key[0] == "train"}
