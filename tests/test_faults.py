"""Faults: bad params at the command line, kills mid-stage and mid-run, concurrency, determinism, security.

Bad data (missing mirror folder, empty class folder, labels out of range, mixed
sizes without a resize setting) is in tests/test_datasets.py; a train job killed
mid-epoch resuming is in tests/test_training.py; unsafe archive members are in
tests/test_datasets.py.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from stages.lib.files import write_json
from stages.lib.layout import EVALUATION, EVALUATION_FILES
from tests.conftest import (
    BIN,
    ROOT,
    RUNNER_COMMANDS,
    copy_project,
    edited_params,
    make_project,
    run,
    set_params,
    tiny,
)

RUNS = ["softmax", "mlp", "cnn_intro"]


def small(params):
    tiny(params)
    params["runs"] = {name: params["runs"][name] for name in RUNS}
    params["sweeps"] = None


# ------------------------------------------------------------------ bad params.yaml at the command line


def replace(old, new):
    """An edit of params.yaml's text; the text must hold `old` (an edit that changes nothing tests nothing)."""

    def edit(text):
        assert old in text, f"params.yaml has no {old!r}"
        return text.replace(old, new, 1)

    return edit


BAD_PARAMS = {
    "yaml-syntax": (replace("seed: 42", "seed: [42"), "params.yaml: YAML syntax error at line"),
    "unknown-key": (lambda t: t + "colour: red\n", "params.yaml: (top level): unknown key 'colour'"),
    "unknown-train-key": (
        replace("  epochs: 3", "  epochs: 3\n  activation: relu"),
        "params.yaml: train: unknown key 'activation'",
    ),
    "wrong-type": (replace("  epochs: 3", "  epochs: three"), "params.yaml: train.epochs: 'three' is invalid"),
    "zero-epochs": (replace("  epochs: 3", "  epochs: 0"), "params.yaml: train.epochs: 0 is invalid"),
    "negative-batch": (replace("  batch_size: 64", "  batch_size: -8"), "params.yaml: train.batch_size: -8 is invalid"),
    "fraction": (
        replace("  val_fraction: 0.15", "  val_fraction: 1.5"),
        "params.yaml: split.val_fraction: 1.5 is invalid",
    ),
    "fractions-sum": (
        replace("  val_fraction: 0.15", "  val_fraction: 0.85"),
        "params.yaml: split: val_fraction 0.85 + test_fraction 0.15 leaves no images",
    ),
    "duplicate-run": (replace("  mlp:", "  softmax:"), "duplicate key 'softmax'"),
    "dataset": (
        replace("  dataset: digits", "  dataset: imagenet"),
        "params.yaml: data.dataset: 'imagenet' is invalid",
    ),
    "architecture": (
        replace("    architecture: mlp", "    architecture: resnet"),
        "params.yaml: runs.mlp.architecture: 'resnet' is invalid",
    ),
    "optimizer": (
        replace("  optimizer: adam", "  optimizer: adagrad"),
        "params.yaml: train.optimizer: 'adagrad' is invalid",
    ),
    "activation": (
        replace("    architecture: mlp", "    architecture: mlp\n    activation: swish2"),
        "params.yaml: runs.mlp.activation: 'swish2' is invalid",
    ),
    "sweep-key": (
        replace("sweeps: null", "sweeps:\n  s:\n    run: {architecture: mlp}\n    grid: {colour: [1]}"),
        "params.yaml: runs.s-1: unknown key 'colour' for architecture 'mlp'",
    ),
    # Values the schema alone let through and a stage then refused, after the runner had
    # deleted that job's earlier results (issue 17).
    "float-epochs": (
        replace("  epochs: 3", "  epochs: 3.0"),
        "params.yaml: train.epochs: 3.0 is invalid: an integer is needed (write 3)",
    ),
    "float-batch": (
        replace("  batch_size: 64", "  batch_size: 64.0"),
        "params.yaml: train.batch_size: 64.0 is invalid: an integer is needed (write 64)",
    ),
    "nan-rate": (
        replace("  learning_rate: 0.001", "  learning_rate: .nan"),
        "params.yaml: train.learning_rate: nan is invalid: not a finite number",
    ),
    "inf-fraction": (
        replace("  val_fraction: 0.15", "  val_fraction: .inf"),
        "params.yaml: split.val_fraction: inf is invalid: not a finite number",
    ),
    "huge-seed": (
        replace("seed: 42", "seed: 99999999999"),
        "params.yaml: seed: 99999999999 is invalid: 99999999999 is greater than the maximum of 4294967295",
    ),
    "integer-run-name": (replace("  softmax:", "  1:"), "params.yaml: runs: invalid name 1: a run name is text"),
    "long-run-name": (replace("  softmax:", f"  {'x' * 300}:"), "params.yaml: runs: invalid name 'xxxxxxxxxx"),
    "reserved-run-name": (
        replace("  softmax:", "  report:"),
        "params.yaml: runs.report: the name 'report' is reserved for the report stage's config",
    ),
    "units-list": (
        lambda t: re.sub(r"    units:\n(    - \d+\n)+", "    units: [" + ", ".join(["8"] * 1000) + "]\n", t),
        "params.yaml: runs.mlp.units: [8, 8, 8",
    ),
    "subsample": (
        replace("  dataset: digits", "  dataset: digits\n  train_subsample: 1"),
        "params.yaml: data.train_subsample: 1 is invalid: a stratified subsample keeps at least one image of"
        " each of the 10 classes of digits",
    ),
    "yaml-1.1-boolean": (
        replace("  patience: ", "  mixed_precision: no\n  patience: "),
        "params.yaml: train.mixed_precision: 'no' is invalid: 'no' is not of type 'boolean'",
    ),
}


# What DVC's own YAML reader says about the file before configure can (it has the line too).
DVC_READS_FIRST = {"yaml-syntax": "line 1, column 7", "duplicate-run": 'found duplicate key "softmax"'}


# The cases that also run end to end under each runner (the rest: the configure command alone,
# which both runners call first and whose message each prints as it is).
END_TO_END = ("yaml-syntax", "duplicate-run", "float-epochs", "sweep-key")


@pytest.mark.parametrize("case", BAD_PARAMS)
def test_bad_params_are_refused_by_configure_in_one_line(case, tmp_path, monkeypatch, capsys):
    from stages.configure import main

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    small(params)
    edit, expected = BAD_PARAMS[case]
    (tmp_path / "params.yaml").write_text(edit(yaml.safe_dump(params, sort_keys=False)))
    monkeypatch.chdir(tmp_path)
    assert main(["--params", "params.yaml", "--out-dir", "configs"]) == 2
    output = capsys.readouterr()
    lines = output.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], output
    assert "Traceback" not in output.out + output.err and not (tmp_path / "configs").exists()


@pytest.fixture(scope="module")
def unstarted(tmp_path_factory):
    """A project in which nothing has run (the bad-params checks must keep it so)."""
    return make_project(tmp_path_factory.mktemp("params") / "project", small)


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["snakemake", "dvc"])
@pytest.mark.parametrize("case", END_TO_END)
def test_bad_params_are_one_line_and_no_job_starts(unstarted, case, runner):
    edit, expected = BAD_PARAMS[case]
    with edited_params(unstarted, edit):
        result = run(RUNNER_COMMANDS[runner], unstarted, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    if runner == "dvc" and case in DVC_READS_FIRST:
        # DVC parses params.yaml itself before any stage and prints its parser's multi-line report.
        assert output.startswith("ERROR: unable to read: 'params.yaml', YAML file structure is corrupted")
        assert DVC_READS_FIRST[case] in output, output[-3000:]
    else:
        lines = [line for line in output.splitlines() if "params.yaml:" in line]
        assert len(lines) == 1 and expected in lines[0], output[-3000:]
    assert "Traceback" not in output
    assert not (unstarted / "data").exists() and not (unstarted / "models").exists()


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["snakemake", "dvc"])
@pytest.mark.parametrize("content", [None, "", "# nothing yet\n"])
def test_a_missing_or_empty_params_yaml_is_named_in_one_line(unstarted, content, runner):
    """Not DVC's "Could not find 'report.metric'": dvc.yaml interpolates no parameter."""
    with edited_params(unstarted, lambda _: content):
        result = run(RUNNER_COMMANDS[runner], unstarted, check=False)
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if "params.yaml" in line]
    assert result.returncode != 0 and len(lines) == 1, output[-3000:]
    if runner == "dvc":  # DVC checks the stage's dependencies (params.yaml among them) before configure runs
        assert re.fullmatch(
            r"ERROR: failed to reproduce 'configure': (Parameters '.*' are missing from 'params.yaml'\."
            r"|\[Errno 2\] No such file or directory: '.*/params.yaml')",
            lines[0],
        ), output
    else:
        assert lines[0] == (
            "error: params.yaml: file not found"
            if content is None
            else "error: params.yaml: empty; it needs the keys seed, data, split, train, runs and report"
        )
    assert "Traceback" not in output and "report.metric" not in output
    assert not (unstarted / "data").exists() and not (unstarted / "models").exists()


# ------------------------------------------------------------------ kills


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small project built by `snakemake --cores 2` (its report of the jobs in snakemake.log
    beside it) and recorded by DVC; tests change copies of it."""
    project = make_project(tmp_path_factory.mktemp("faults") / "project", small)
    result = run(["snakemake", "--cores", "2"], project)
    (project.parent / "snakemake.log").write_text(result.stderr)
    run(["dvc", "commit", "-f", "-q"], project)
    return project


@pytest.fixture
def project(built, tmp_path):
    """The test's own copy of `built`, to change."""
    return copy_project(built, tmp_path / "project")


def start(args, cwd, log: Path, **env_extra) -> subprocess.Popen:
    """Start a command in its own process group, so that a kill takes its children too, and with
    Ctrl-C's signal acting as in a terminal (a shell starts background jobs with it ignored)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env_extra}
    with open(log, "w") as out:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def kill_when(process: subprocess.Popen, condition, timeout: float = 300) -> None:
    """SIGKILL the process group as soon as `condition()` holds, as when a node dies."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the command ended before the moment to kill it"
        assert time.monotonic() < deadline, "timed out waiting for the moment to kill"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def being_written(folder: Path) -> list[Path]:
    """The files in stages.lib.files.atomic_dir's temporary folder for `folder` (beside it, renamed
    to `folder` when the writer is done): none before the writer starts or once it is done."""
    try:
        return [f for temporary in folder.parent.glob(f".{folder.name}.*.tmp") for f in temporary.iterdir()]
    except FileNotFoundError:  # renamed into place meanwhile
        return []


def snakemake_pending(project) -> set[str]:
    """The jobs a `snakemake` run would do now, as DVC names stages (train@mlp)."""
    out = run(["snakemake", "--dry-run", "--nocolor"], project).stdout
    jobs, rule = set(), None
    for line in out.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):", line):
            rule = match[1]
            jobs.add(rule)
        elif match := re.match(r"^\s+wildcards: run=(\S+)", line):
            jobs.discard(rule)
            jobs.add(f"{rule}@{match[1]}")
    return jobs - {"all"}


def dvc_pending(project) -> set[str]:
    """The stages `dvc repro` would run now: those `dvc status` names, and everything downstream.

    configure is left out: Snakemake does its work while it reads the workflow.
    """
    changed = set(json.loads(run(["dvc", "status", "--json"], project).stdout)) - {"configure"}
    edges = re.findall(r'^"([^"]+)" -> "([^"]+)";$', run(["dvc", "dag", "--dot"], project).stdout, re.M)
    while grown := {b for a, b in edges if a in changed} - changed:
        changed |= grown
    return changed


def finish_and_check_both_runners_agree_nothing_is_left(project) -> str:
    run(["snakemake", "--unlock"], project)  # a killed Snakemake leaves its lock, as documented
    result = run(["snakemake", "--cores", "2"], project)
    run(["dvc", "commit", "-f", "-q"], project)
    assert snakemake_pending(project) == set() == dvc_pending(project)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout
    return result.stdout + result.stderr


def training_progress(project, run) -> int:
    """Epochs done by the run's train job so far (its resume log)."""
    progress = project / "models" / "runs" / run / "model.keras.progress.json"
    try:
        return len(json.loads(progress.read_text())["rows"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_snakemake_killed_mid_training_then_both_runners_agree_and_training_resumes(project):
    set_params(project, lambda p: p["runs"]["mlp"].update(epochs=40, patience=40))
    snakemake = start(["snakemake", "--cores", "1"], project, project.parent / "snakemake.log")
    kill_when(snakemake, lambda: training_progress(project, "mlp") >= 2)
    pending = snakemake_pending(project)
    assert pending == dvc_pending(project) == {"train@mlp", "evaluate@mlp", "report", "package"}
    log = finish_and_check_both_runners_agree_nothing_is_left(project)
    assert re.search(r"run mlp: .* resuming after epoch \d+", log)


@pytest.mark.slow
def test_dvc_killed_while_evaluate_writes_then_both_runners_agree(project):
    set_params(project, lambda p: p["runs"]["softmax"].update(epochs=5))
    folder = project / EVALUATION.replace("{run}", "softmax")
    dvc = start(["dvc", "repro"], project, project.parent / "dvc.log")
    # Evaluate writes metrics.json first, then the tables and figures, into a temporary folder
    # renamed into place at the end: killed in between, it leaves no evaluation folder.
    kill_when(dvc, lambda: any(f.name == EVALUATION_FILES["metrics"] for f in being_written(folder)))
    assert not folder.exists()
    pending = snakemake_pending(project)
    assert pending == dvc_pending(project) == {"evaluate@softmax", "report", "package"}
    finish_and_check_both_runners_agree_nothing_is_left(project)


INTERRUPTED = "error: interrupted (log: logs/train/mlp.log): run it again to resume after the last finished epoch"


def ctrl_c(process: subprocess.Popen, log: Path) -> str:
    """Send SIGINT to the process group, as Ctrl-C in a terminal does; what the command printed."""
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=120)
    return log.read_text()


def training_long(project) -> None:
    """mlp trains for longer than the test takes (the test interrupts it)."""
    set_params(project, lambda p: p["runs"]["mlp"].update(epochs=500, patience=500))


def wait_for_epochs(process: subprocess.Popen, project, epochs: int = 1, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while training_progress(project, "mlp") < epochs:
        assert process.poll() is None, "the runner ended before training started"
        assert time.monotonic() < deadline, "timed out waiting for training"
        time.sleep(0.1)


@pytest.mark.slow
def test_dvc_repro_during_a_snakemake_run_is_refused_and_ctrl_c_is_one_line(project):
    training_long(project)
    log = project.parent / "snakemake.log"
    snakemake = start(["snakemake", "--cores", "1"], project, log)
    wait_for_epochs(snakemake, project)
    configs = {path: path.read_bytes() for path in (project / "configs").rglob("*.json")}
    # DVC refuses before it deletes or writes anything, naming the Snakemake run (stages/lib/runlock.py).
    refused = run(["dvc", "repro"], project, check=False)
    assert refused.returncode != 0
    blocked = r"is busy, it is being blocked by:\n\s+\(PID \d+\): snakemake --cores 1"
    assert re.search(blocked, refused.stderr), refused.stderr
    assert {path: path.read_bytes() for path in (project / "configs").rglob("*.json")} == configs
    done = training_progress(project, "mlp")
    wait_for_epochs(snakemake, project, done + 1)  # the Snakemake run went on
    # Ctrl-C: the train job says so in one line, and what the next run does; no traceback.
    output = ctrl_c(snakemake, log)
    assert f"[mlp] {INTERRUPTED}" in output
    assert "Traceback" not in output
    assert snakemake_pending(project) == dvc_pending(project) == {"train@mlp", "evaluate@mlp", "report", "package"}


@pytest.mark.slow
def test_snakemake_during_dvc_repro_is_refused_in_one_line(project):
    training_long(project)
    log = project.parent / "dvc.log"
    dvc = start(["dvc", "repro"], project, log)
    wait_for_epochs(dvc, project)
    refused = run(["snakemake", "--cores", "1"], project, check=False)
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    busy = rf"error: dvc repro \(pid {dvc.pid}\) is running in \S+: wait for it to end; Snakemake started no job"
    assert re.fullmatch(busy, last), last
    assert "Traceback" not in refused.stderr
    done = training_progress(project, "mlp")
    wait_for_epochs(dvc, project, done + 1)  # dvc repro went on
    output = ctrl_c(dvc, log)
    assert INTERRUPTED in output
    assert "Traceback" not in output
    assert snakemake_pending(project) == dvc_pending(project) == {"train@mlp", "evaluate@mlp", "report", "package"}


@pytest.mark.slow
@pytest.mark.parametrize("runner", RUNNER_COMMANDS)
def test_a_keras_backend_that_cannot_run_stops_either_runner_in_one_line(project, runner):
    set_params(project, lambda p: p["runs"]["mlp"].update(epochs=4))
    result = run(RUNNER_COMMANDS[runner], project, check=False, env_extra={"KERAS_BACKEND": "nonsense"})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "[mlp] error: KERAS_BACKEND is 'nonsense', not a Keras backend (tensorflow, jax, torch, " in output, output
    assert "Traceback" not in output


@pytest.mark.slow
def test_a_stage_killed_while_writing_leaves_no_file_a_later_run_trusts(built, tmp_path):
    """Kill evaluate at the moments it writes: its folder, the one output the runners see, is
    whole or absent, and the next run clears what the killed one left."""
    command = [
        str(BIN / "python"),
        "-m",
        "stages.evaluate",
        "--config",
        "configs/cnn_intro.json",
        "--model",
        "models/runs/cnn_intro/model.keras",
        "--data",
        "data/prepared",
    ]
    reference = tmp_path / "reference"
    run([*command, "--out-dir", str(reference)], built)
    expected = {p.name: p.read_bytes() for p in reference.iterdir()}
    moments = {
        "first temporary file": lambda out: any(f.name.startswith(".") for f in being_written(out)),
        "first whole file": lambda out: any(not f.name.startswith(".") for f in being_written(out)),
        "half the files": lambda out: len(being_written(out)) >= len(expected) // 2,
    }
    for moment, condition in moments.items():
        out = tmp_path / moment.replace(" ", "-")
        process = start([*command, "--out-dir", str(out)], built, tmp_path / "evaluate.log")
        kill_when(process, lambda condition=condition, out=out: condition(out))
        assert not out.exists(), f"{moment}: a partial folder under the final name"
        run([*command, "--out-dir", str(out)], built)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == expected, moment
        assert being_written(out) == [], f"{moment}: the killed run's temporary folder is left"


@pytest.mark.slow
def test_prepare_killed_while_writing_leaves_no_prepared_folder(tmp_path):
    """Fashion-MNIST: 220 MB of arrays, so the kill lands while they are written."""
    from tests.test_datasets import FASHION_MIRROR, require_fashion_mirror

    require_fashion_mirror()
    write_json(tmp_path / "download.json", {"dataset": "fashion_mnist", "mirror": str(FASHION_MIRROR), "folder": None})
    write_json(
        tmp_path / "prepare.json",
        {
            "seed": 1,
            "val_fraction": 0.1,
            "test_fraction": 0.1,
            "image_size": None,
            "color_mode": None,
            "skip_unreadable": False,
            "train_subsample": None,
        },
    )
    run(
        [str(BIN / "python"), "-m", "stages.download", "--config", "download.json", "--out", "raw"],
        tmp_path,
        env_extra={"PYTHONPATH": str(ROOT)},
    )
    command = [
        str(BIN / "python"),
        "-m",
        "stages.prepare",
        "--config",
        "prepare.json",
        "--raw",
        "raw",
        "--out",
        "prepared",
    ]
    process = start(command, tmp_path, tmp_path / "prepare.log", PYTHONPATH=str(ROOT))
    kill_when(process, lambda: any(p.glob("x_*.npy") for p in tmp_path.glob(".prepared.*")))
    assert not (tmp_path / "prepared").exists()
    assert len(list(tmp_path.glob(".prepared.*"))) == 1  # the killed writer's temporary folder
    run(command, tmp_path, env_extra={"PYTHONPATH": str(ROOT)})
    arrays = {f"{kind}_{split}.npy" for kind in ("x", "y", "index") for split in ("train", "val", "test")}
    assert {p.name for p in (tmp_path / "prepared").iterdir()} == {"metadata.json", *arrays}  # complete, nothing else
    assert list(tmp_path.glob(".prepared.*")) == []  # cleared by the next writer


# ------------------------------------------------------------------ security


def python_sources():
    return [p for folder in ("stages", "benchmarks") for p in sorted((ROOT / folder).rglob("*.py"))]


def calls(tree, name):
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "attr", None) == name or getattr(node.func, "id", None) == name)
    ]


def keyword(call, name):
    return next((k.value.value for k in call.keywords if k.arg == name and isinstance(k.value, ast.Constant)), None)


def test_code_loads_no_pickles_and_runs_no_shell():
    for path in python_sources():
        text = path.read_text()
        tree = ast.parse(text)
        where = path.relative_to(ROOT)
        for call in calls(tree, "load"):
            if getattr(call.func.value, "id", None) == "np":
                assert keyword(call, "allow_pickle") is False, (
                    f"{where}:{call.lineno}: np.load without allow_pickle=False"
                )
        for call in calls(tree, "load_model"):
            if isinstance(call.func, ast.Attribute):  # keras.models.load_model, not our safe wrapper
                assert keyword(call, "safe_mode") is True, f"{where}:{call.lineno}: load_model without safe_mode=True"
        for call in calls(tree, "extractall"):
            assert keyword(call, "filter") == "data", f"{where}:{call.lineno}: extractall without filter='data'"
        for call in [*calls(tree, "run"), *calls(tree, "Popen"), *calls(tree, "check_output")]:
            assert keyword(call, "shell") in (None, False), f"{where}:{call.lineno}: shell=True"
        if re.search(r"^\s*(import|from) (pickle|dill|cloudpickle|joblib)\b", text, re.M):
            # Only an unpickler whose find_class allows no code (tests/test_imagenet.py tries one).
            assert where.as_posix() == "stages/lib/torch_weights.py", where
            assert "def find_class(self" in text and "pickle.load(" not in text and "pickle.loads(" not in text
        assert "os.system(" not in text and "os.popen(" not in text, where


def test_rule_commands_interpolate_only_paths_and_validated_values():
    """Shell commands hold files, folders and log paths (stages/lib/layout.py's, with run names validated
    by the schema's pattern), run names and a number of folds (the wildcard allows digits only); every
    other value reaches a stage in a config file."""
    allowed = re.compile(
        r"^(input|output)\.\w+$|^log$|^params\.(runs|history|summary|live|times|out_dir|runs_dir|data_dir"
        r"|models_dir|data)$|^wildcards\.folds$"
    )
    seen = set()
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for command in re.findall(r'shell:\n((?:\s+".*"\n)+)', path.read_text()):
            for field in re.findall(r"\{([^}]*)\}", command):
                assert allowed.match(field), f"{path.name}: {{{field}}} in a shell command"
                seen.add(field)
    assert {"log", "params.runs", "params.times", "input.config"} <= seen


def test_an_npy_of_python_objects_is_refused_not_unpickled(tmp_path):
    from stages.lib.splits import load_split
    from tests.conftest import make_tiny_data

    data = make_tiny_data(tmp_path / "data")
    np.save(data / "y_test.npy", np.array([{"label": 1}], dtype=object), allow_pickle=True)
    for mmap in (True, False):
        with pytest.raises(ValueError, match=r"y_test.npy: not a plain numeric array"):
            load_split(data, "test", mmap=mmap)


def test_a_model_with_code_in_it_is_refused(tmp_path):
    import keras

    from stages.lib.layers import load_model

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(tmp_path / "lambda.keras")
