"""What users and reviewers see through Snakemake's and DVC's own tools.

One small project runs under Snakemake with two cores and is committed (the
fixture `origin`, which no test changes: a test that changes params.yaml or
reruns works on a copy of its own); a clone at another path reruns it from
scratch. The tests read what the runners show: the console, the log files,
`snakemake --lint`, `dvc metrics`, `dvc plots`, `git status` after the rerun.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from stages.lib.joblog import TF_NATIVE_LOG
from stages.lib.layout import LIVE_DIR, LIVE_METRICS, LOG, REPORT_DIR, REPORT_FILES, TRAINING_DIR, run_file
from tests.conftest import ROOT, copy_project, make_project, run, set_params, tiny

RUNS = ["softmax", "mlp"]
PATH_LITERAL = re.compile(r"""["'](?:configs|data|models|reports|logs)/""")


def two_runs(params):
    tiny(params)
    params["runs"] = {name: params["runs"][name] for name in RUNS}
    params["sweeps"] = {}


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The project run by `snakemake --cores 2`, recorded by `dvc commit`, committed to git."""
    project = make_project(tmp_path_factory.mktemp("views") / "origin", two_runs)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "code"], project)  # results record the commit of their code
    result = run(["snakemake", "--cores", "2"], project)
    (project / "console.txt").write_text(result.stdout + result.stderr)
    (project / "summary.txt").write_text(result.stdout)
    run(["dvc", "commit", "-f", "-q"], project)
    run(["git", "add", "-A", "--", ":!console.txt", ":!summary.txt"], project)
    run(["git", "commit", "-qm", "results"], project)
    return project


@pytest.mark.slow
def test_every_job_has_a_log_and_every_run_line_names_its_run(origin):
    console = (origin / "console.txt").read_text()
    logs = sorted(p.relative_to(origin).as_posix() for p in (origin / "logs").rglob("*.log"))
    expected = [LOG[stage] for stage in ("download", "prepare", "report", "package")]
    expected += [LOG[stage].replace("{run}", run_name) for stage in ("train", "evaluate") for run_name in RUNS]
    assert logs == sorted(expected)
    for run_name in RUNS:
        train_log = (origin / LOG["train"].replace("{run}", run_name)).read_text()
        assert "Epoch 1/3" in train_log and f"run {run_name}: 3 epochs in" in train_log
        # On the console, every line of that job starts with the run's name.
        assert f"[{run_name}] Epoch 1/3" in console
        times = json.loads((origin / f"logs/train/{run_name}.times.json").read_text())
        assert times["images_per_second"] > 0 and times["peak_memory_mb"] > 100
    lines_of_jobs = [line for line in console.splitlines() if re.search(r"\bEpoch \d+/3\b", line)]
    assert lines_of_jobs and all(re.match(r"\[(softmax|mlp)\] ", line) for line in lines_of_jobs)
    # One line an epoch (Keras' progress lines are off), with its metrics and time.
    epochs = sum(len((origin / run_file("history", name)).read_text().splitlines()) - 1 for name in RUNS)
    assert len(lines_of_jobs) == epochs
    assert all(re.search(r": .*\bval_accuracy [\d.]+.* \(\d+ s\)$", line) for line in lines_of_jobs), lines_of_jobs
    # The run's last lines say which run was packaged and where the comparison, report and package are.
    selection = json.loads((origin / "models/package/selection.json").read_text())
    accuracy = json.loads((origin / run_file("metrics", selection["run"])).read_text())["accuracy"]
    assert (origin / "summary.txt").read_text().splitlines()[-4:] == [
        f"packaged run: {selection['run']} (the best by accuracy, accuracy {accuracy:.4f}"
        + (
            f"; McNemar's test cannot tell it from 1 other run(s): {', '.join(selection['indistinguishable'])})"
            if selection["indistinguishable"]
            else ")"
        ),
        "comparison: reports/comparison.md",
        "report: reports/report.html",
        "package: models/package.tar.gz",
    ]
    # No TensorFlow C++ log lines (start-up notes) on the console.
    assert not [line for line in console.splitlines() if TF_NATIVE_LOG.match(line.encode())]
    assert "absl::InitializeLog" not in console
    # Nor libraries' warnings (tf2onnx's FutureWarning, the report kernel's TCP warning).
    assert not re.search(r"warning", console, re.IGNORECASE), console
    # Under DVC, where no closing summary follows, the report and package jobs name their files.
    assert "report: reports/report.html; best run by accuracy: " in console
    assert "into models/package.tar.gz" in console


@pytest.mark.slow
def test_a_clone_at_another_path_reruns_to_a_clean_git_status(origin, tmp_path):
    """Same code, params and data: nothing tracked changes, dvc.lock included (no wall-clock
    time, no absolute path in any result)."""
    clone = tmp_path / "elsewhere" / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    run(["snakemake", "--cores", "2"], clone)  # no data, no models: everything runs
    assert run(["git", "status", "--porcelain"], clone).stdout == ""
    # The clone's DVC cache is empty ("not in cache"), but nothing it made differs from dvc.lock:
    # recording it changes no hash, and then DVC has nothing to do.
    assert "modified" not in run(["dvc", "status"], clone).stdout
    run(["dvc", "commit", "-f", "-q"], clone)
    assert run(["git", "status", "--porcelain"], clone).stdout == ""
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
    for path in [
        *clone.glob("reports/**/*.json"),
        *clone.glob("data/raw/*.json"),
        *clone.glob("models/package/*.json"),
    ]:
        assert str(tmp_path) not in path.read_text() and str(origin) not in path.read_text(), path


@pytest.mark.slow
def test_dvc_metrics_are_headline_numbers_and_a_one_run_change_diffs_only_that_run(origin, tmp_path):
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], origin).stdout)
    files = shown[""]["data"]
    # Per run its headline metrics and dvclive's summary; across runs, the replicates' (none here: {})
    # and the headline numbers again under each run's name (what keeps `dvc exp show` narrow).
    replicates, by_run = (f"{REPORT_DIR}/{REPORT_FILES[key]}" for key in ("replicates", "headline"))
    per_run = {run_file(key, r) for r in RUNS for key in ("metrics", "live_summary")}
    assert set(files) == per_run | {replicates, by_run}
    assert files[replicates]["data"] == {}
    assert set(files[by_run]["data"]) == set(RUNS)
    assert files[by_run]["data"]["mlp"] == {
        key: files[run_file("metrics", "mlp")]["data"][key] for key in ("accuracy", "macro_f1", "loss")
    }
    for run_name in RUNS:
        columns = [value for path, data in files.items() if f"/{run_name}/" in path for value in _leaves(data["data"])]
        assert 0 < len(columns) <= 12 and all(isinstance(v, (int, float)) for v in columns)
    headline = files[run_file("metrics", "mlp")]["data"]
    assert set(headline) == {"accuracy", "loss", "top_3_accuracy", "top_5_accuracy", "macro_f1", "weighted_f1"}
    live = files[run_file("live_summary", "mlp")]["data"]
    assert live["step"] == 2 and set(live) == {"step", "train", "eval", "learning_rate"}

    project = copy_project(origin, tmp_path / "project")
    set_params(project, lambda p: p["runs"]["softmax"].update(learning_rate=0.05))
    run(["snakemake", "--cores", "2"], project)
    run(["dvc", "commit", "-f", "-q"], project)
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], project).stdout)
    changed = diff.pop(by_run)  # the run's entries of the headline file, and its own files
    assert diff and {path.split("/")[2] for path in diff} == {"softmax"}, diff
    assert {key.split(".")[0] for key in changed} == {"softmax"}, changed


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]


def run_of(filename: str) -> str:
    """What the template's `run` expression computes (Vega: peek(split(replace(...), '/')))."""
    return re.sub(rf"/{TRAINING_DIR}/{LIVE_DIR}/.*$", "", filename).split("/")[-1]


@pytest.mark.slow
def test_dvc_plots_give_each_run_its_colour_and_name(origin):
    plots = json.loads(run(["dvc", "plots", "show", "--json", "--split"], origin).stdout)["data"]
    curves = {name: plot for name, plot in plots.items() if name.endswith("per epoch")}
    assert set(curves) == {"validation loss per epoch", "validation accuracy per epoch", "learning rate per epoch"}
    template = json.loads((ROOT / "workflow/report/dvc_runs_template.json").read_text())
    expression = template["transform"][0]["calculate"]
    assert expression == f"peek(split(replace(datum.filename, /\\/{TRAINING_DIR}\\/{LIVE_DIR}\\/.*$/, ''), '/'))"
    fields = {"validation loss per epoch": "loss", "validation accuracy per epoch": "accuracy"}
    for name, (plot,) in curves.items():
        content = plot["content"]
        assert content["encoding"]["color"]["field"] == "run", name
        # The template's transforms, with DVC's placeholders filled in for this plot.
        filled = json.dumps(template["transform"]).replace("<DVC_METRIC_X>", "step")
        filled = filled.replace("<DVC_METRIC_Y>", fields.get(name, "learning_rate"))
        assert content["transform"] == json.loads(filled), name
        data = plot["anchor_definitions"]["<DVC_METRIC_DATA>"]
        # DVC shortens the file names (no common prefix); the run is the folder before training/live/.
        assert {run_of(point["filename"]) for point in data} == set(RUNS), name
    # dvclive's files of a run: one TSV per metric, one row per epoch.
    tsv = (origin / run_file(f"live_{LIVE_METRICS['val_loss']}", "mlp")).read_text()
    assert tsv.splitlines()[0] == "step\tloss" and len(tsv.splitlines()) == 4


@pytest.mark.slow
def test_snakemake_config_overrides_are_refused_not_ignored(origin):
    for args in (["--config", "seed=3"], ["--configfile", "params.yaml"]):
        result = run(["snakemake", "-n", *args], origin, check=False)
        assert result.returncode != 0
        error = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error:")]
        assert len(error) == 1 and "params.yaml" in error[0] and "dvc exp run -S" in error[0], error


@pytest.mark.slow
def test_lint_finds_only_the_software_environment(origin):
    result = run(["snakemake", "--lint"], origin, check=False)
    findings = re.findall(r"^    \* (.+?)[:.]?$", result.stdout + result.stderr, re.M)
    assert findings and set(findings) == {"Specify a conda environment or container for each rule."}, findings


@pytest.mark.slow
def test_a_failed_job_has_its_error_in_its_log_under_both_runners(origin, tmp_path):
    project = copy_project(origin, tmp_path / "project")
    set_params(project, lambda p: p["runs"]["mlp"].update(require_gpu=True))
    result = run(["snakemake", "--cores", "2"], project, check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "logs/train/mlp.log" in out
    log = (project / "logs/train/mlp.log").read_text()
    assert "error: run mlp sets require_gpu" in log and "(log: logs/train/mlp.log)" in log
    result = run(["dvc", "repro"], project, check=False)
    assert result.returncode != 0
    assert "(log: logs/train/mlp.log)" in result.stdout + result.stderr
    assert "error: run mlp sets require_gpu" in (project / "logs/train/mlp.log").read_text()
    # DVC's first stage logs too (Snakemake resolves params.yaml while it parses the workflow).
    assert "configured 2 runs: softmax, mlp" in (project / LOG["configure"]).read_text()


def test_rules_and_dvc_yaml_generator_spell_no_path():
    """Each path is written once, in stages/lib/layout.py."""
    sources = [*(ROOT / "workflow" / "rules").glob("*.smk"), ROOT / "stages" / "lib" / "dvc_yaml.py"]
    found = {path.name: PATH_LITERAL.findall(path.read_text()) for path in sources}
    assert {name: hits for name, hits in found.items() if hits} == {}
    # The paths DVC sees are the layout's.
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert dvc["stages"]["train"]["do"]["outs"][0] == "models/runs/${key}/model.keras"
    assert dvc["stages"]["evaluate"]["do"]["outs"][0] == {"reports/runs/${item}/evaluation": {"cache": False}}
    assert Path(ROOT / "workflow/report/dvc_runs_template.json").is_file()
