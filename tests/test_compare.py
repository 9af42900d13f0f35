"""The compare command: metric deltas between two report folders or two commits."""

import pytest

from stages.compare import CompareError, compare, load_metrics, main
from stages.lib.files import write_json
from stages.lib.layout import RUN_FILES
from tests.conftest import init_git, run

METRICS = RUN_FILES["metrics"]  # in a run's folder: evaluation/metrics.json


def _runs(folder, metrics=METRICS, **accuracies):
    for name, accuracy in accuracies.items():
        write_json(folder / "runs" / name / metrics, {"run": name, "accuracy": accuracy, "loss": 1 - accuracy})
    return folder


def test_compare_marks_changed_unchanged_added_and_removed_runs():
    old = {"a": {"accuracy": 0.9, "loss": 0.3}, "b": {"accuracy": 0.8, "loss": 0.5}, "gone": {"accuracy": 0.7}}
    new = {"a": {"accuracy": 0.95, "loss": 0.2}, "b": {"accuracy": 0.8, "loss": 0.5}, "fresh": {"accuracy": 0.6}}
    table = compare(old, new, ["accuracy", "loss"], ("main", "HEAD")).splitlines()
    assert table[0] == "Test metrics, main → HEAD:"
    assert table[2] == "| run | accuracy | Δ accuracy | loss | Δ loss |"
    assert table[4] == "| a | 0.9000 → 0.9500 | +0.0500 | 0.3000 → 0.2000 | -0.1000 |"
    assert table[5] == "| b | 0.8000 | 0 | 0.5000 | 0 |"
    assert table[6] == "| fresh (added) | 0.6000 |  | – |  |"
    assert table[7] == "| gone (removed) | 0.7000 |  | – |  |"
    assert table[-1] == "Runs: 1 changed, 1 added, 1 removed, 1 unchanged."


def test_compare_reads_report_folders(tmp_path, capsys):
    _runs(tmp_path / "old", a=0.5, b=0.6)
    _runs(tmp_path / "new", a=0.75, b=0.6)
    assert set(load_metrics(str(tmp_path / "old"))) == {"a", "b"}
    assert main([str(tmp_path / "old"), str(tmp_path / "new"), "--metrics", "accuracy"]) == 0
    assert "| a | 0.5000 → 0.7500 | +0.2500 |" in capsys.readouterr().out


def test_compare_names_a_side_it_cannot_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run(["git", "init", "-q"], tmp_path)
    with pytest.raises(CompareError, match="'nowhere' is neither a folder nor a git revision"):
        load_metrics("nowhere")
    (tmp_path / "empty").mkdir()
    assert main(["empty", "empty"]) == 1
    assert capsys.readouterr().err == f"error: 'empty' holds no runs/<run>/{METRICS}\n"


def test_a_report_folder_counts_only_the_runs_of_its_comparison_table(tmp_path):
    folder = _runs(tmp_path / "reports", a=0.5, b=0.9)
    (folder / "runs" / "stale" / METRICS).parent.mkdir(parents=True)
    (folder / "runs" / "stale" / METRICS).write_text("not JSON: a run removed from params.yaml")
    (folder / "comparison.csv").write_text("run,accuracy\nb,0.9\na,0.5\n")
    # Best first, as the table lists them; the removed run's folder is not even read.
    assert list(load_metrics(str(folder), ["accuracy"])) == ["b", "a"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[0.5, 0.6]", "a JSON list, not an object of metrics"),
        ('{"accuracy": 0.5', "not valid JSON (Expecting ',' delimiter: line 1 column 17 (char 16))"),
        ('{"accuracy": NaN}', "not valid JSON (holds NaN)"),
        ('{"accuracy": "0.5"}', "accuracy is '0.5', not a finite number"),
        ('{"accuracy": 1e999}', "accuracy is inf, not a finite number"),
    ],
)
def test_a_report_folder_with_a_malformed_metrics_file_is_named(tmp_path, capsys, text, message):
    _runs(tmp_path / "new", a=0.5)
    (tmp_path / "old" / "runs" / "a" / METRICS).parent.mkdir(parents=True)
    (tmp_path / "old" / "runs" / "a" / METRICS).write_text(text)
    assert main([str(tmp_path / "old"), str(tmp_path / "new"), "--metrics", "accuracy"]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'old' / 'runs' / 'a' / METRICS}: {message}\n"


def test_a_git_revision_with_a_malformed_metrics_file_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    init_git(tmp_path)
    _runs(tmp_path / "reports", a=0.5, b=0.6)
    (tmp_path / "reports" / "runs" / "b" / METRICS).write_text('{"accuracy": 0.6, "loss": 1e999}')
    run(["git", "add", "reports"], tmp_path)
    run(["git", "commit", "-q", "-m", "runs"], tmp_path)
    assert main(["HEAD", "reports", "--metrics", "accuracy", "loss"]) == 1
    assert capsys.readouterr().err == f"error: HEAD:reports/runs/b/{METRICS}: loss is inf, not a finite number\n"
    (tmp_path / "reports" / "runs" / "b" / METRICS).write_text("[1]")
    run(["git", "commit", "-q", "-a", "-m", "list"], tmp_path)
    assert main(["HEAD~1", "HEAD", "--metrics", "accuracy"]) == 1
    assert capsys.readouterr().err == f"error: HEAD:reports/runs/b/{METRICS}: a JSON list, not an object of metrics\n"


def test_a_git_revision_is_read_from_the_current_folder_as_in_a_study(tmp_path, monkeypatch):
    """In studies/<name>/, HEAD's reports are the study's, not the repository root's."""
    init_git(tmp_path)
    _runs(tmp_path / "reports", a=0.5, b=0.6)
    study = tmp_path / "studies" / "s"
    _runs(study / "reports", a=0.9, c=0.8)
    run(["git", "add", "-A"], tmp_path)
    run(["git", "commit", "-q", "-m", "root and study"], tmp_path)
    monkeypatch.chdir(study)
    assert {run: m["accuracy"] for run, m in load_metrics("HEAD", ["accuracy"]).items()} == {"a": 0.9, "c": 0.8}
    monkeypatch.chdir(tmp_path)
    assert {run: m["accuracy"] for run, m in load_metrics("HEAD", ["accuracy"]).items()} == {"a": 0.5, "b": 0.6}


def test_an_unknown_metric_is_refused_with_the_known_ones(tmp_path, capsys):
    _runs(tmp_path / "old", a=0.5)
    _runs(tmp_path / "new", a=0.75)
    assert main([str(tmp_path / "old"), str(tmp_path / "new"), "--metrics", "acuracy", "loss"]) == 1
    assert capsys.readouterr().err == (
        "error: no run on either side has the metric 'acuracy'; known metrics: accuracy, loss\n"
    )
    # Of the default metrics, those no run has (older versions) are left out.
    assert main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    assert "| run | accuracy | Δ accuracy | loss | Δ loss |" in capsys.readouterr().out


def test_a_version_from_before_the_evaluation_folder_still_compares(tmp_path, monkeypatch, capsys):
    """Commits before 2026-11-24 hold runs/<run>/metrics.json; dvclive's live/metrics.json, in every
    run's training folder, is not a run's metrics."""
    monkeypatch.chdir(tmp_path)
    init_git(tmp_path)
    _runs(tmp_path / "reports", metrics="metrics.json", a=0.5, b=0.6)
    run(["git", "add", "reports"], tmp_path)
    run(["git", "commit", "-q", "-m", "old layout"], tmp_path)
    run(["git", "rm", "-q", "-r", "reports"], tmp_path)
    _runs(tmp_path / "reports", a=0.75, b=0.6)
    _runs(tmp_path / "reports", metrics=RUN_FILES["live_summary"], a=0.1, live=0.2)
    run(["git", "add", "reports"], tmp_path)
    run(["git", "commit", "-q", "-m", "evaluation folders"], tmp_path)
    for side in ("HEAD", "reports"):
        assert {run: m["accuracy"] for run, m in load_metrics(side, ["accuracy"]).items()} == {"a": 0.75, "b": 0.6}
    assert main(["HEAD~1", "HEAD", "--metrics", "accuracy"]) == 0
    out = capsys.readouterr().out
    assert "| a | 0.5000 → 0.7500 | +0.2500 |" in out and out.endswith("Runs: 1 changed, 1 unchanged.\n")
