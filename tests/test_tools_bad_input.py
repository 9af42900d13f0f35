"""verify, predict and package refuse bad input in one line that names it, without a traceback."""

import json
import math

import pytest

from stages.lib.files import write_json
from stages.lib.layout import EVALUATION_DIR, RUN_FILES
from stages.package import main as package_main
from stages.package import select_best
from stages.predict import main as predict_main
from stages.verify import differences
from stages.verify import main as verify_main


def recorded_run(runs_dir, models_dir, run="x", metrics='{"accuracy": 0.5, "loss": 1.0}'):
    """A run's recorded files (metrics.json as the text `metrics`) and a model file that is never loaded."""
    (runs_dir / run / EVALUATION_DIR).mkdir(parents=True)
    (runs_dir / run / RUN_FILES["metrics"]).write_text(metrics)
    write_json(runs_dir / run / RUN_FILES["scores"], {"macro_f1": 0.5})
    write_json(runs_dir / run / RUN_FILES["provenance"], {"data": {"sha256": {}}, "config": {"run": run}})
    (models_dir / run).mkdir(parents=True)
    (models_dir / run / "model.keras").write_bytes(b"never loaded")
    return runs_dir / run / RUN_FILES["metrics"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[0.5, 1.0]", "a JSON list, not an object; not a file evaluate wrote"),
        ('{"loss": 1.0}', "no accuracy; not a file evaluate wrote"),
        ('{"accuracy": 0.5', None),  # stages.lib.files.read_json says what is wrong
    ],
)
def test_verify_names_a_recorded_metrics_file_it_cannot_use(tmp_path, capsys, text, message):
    path = recorded_run(tmp_path / "runs", tmp_path / "models", metrics=text)
    status = verify_main(
        [
            "x",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--models-dir",
            str(tmp_path / "models"),
            "--data",
            str(tmp_path / "no-data"),
        ]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}: {message}\n" if message else err.startswith(f"error: {path}: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-inf", "x"])
def test_verify_refuses_a_tolerance_that_is_not_a_finite_non_negative_number(capsys, value):
    with pytest.raises(SystemExit) as exit_:
        verify_main([f"--tolerance={value}"])  # "=": argparse takes "-inf" alone for an option
    assert exit_.value.code == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith(f"error: argument --tolerance: must be a finite number >= 0, not '{value}'")
    )


def test_a_non_finite_value_on_either_side_is_a_difference():
    nan, inf = math.nan, math.inf
    assert differences({"a": nan}, {"a": nan}, tolerance=1.0) == ["a: recorded nan, recomputed nan"]
    assert differences({"a": 0.5}, {"a": nan}, tolerance=1.0) == ["a: recorded 0.5, recomputed nan"]
    assert differences({"b": {"c": nan}}, {"b": {"c": 0.5}}) == ["b.c: recorded nan, recomputed 0.5"]
    assert differences({"a": inf}, {"a": inf}) == ["a: recorded inf, recomputed inf"]
    assert differences({"a": 0.5}, {"a": 0.75}, tolerance=0.5) == []  # finite values within the tolerance pass


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "many"])
def test_predict_refuses_a_max_pixels_that_is_not_a_positive_integer(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        predict_main([str(tmp_path / "package"), str(tmp_path / "image.png"), "--max-pixels", value])
    assert exit_.value.code == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith(f"error: argument --max-pixels: must be a positive integer, not '{value}'")
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"accuracy": 0.5, "loss": 1e999}',
            "run 'b': metrics.json has loss Infinity; only runs with finite metrics can be ranked and packaged",
        ),
        (
            '{"accuracy": "0.9", "loss": 1.0}',
            "run 'b': metrics.json has accuracy \"0.9\"; only runs with finite metrics can be ranked and packaged",
        ),
        (
            '{"accuracy": 0.9, "loss": null}',
            "run 'b': metrics.json has loss null; only runs with finite metrics can be ranked and packaged",
        ),
        ('{"accuracy": 0.9}', "run 'b': loss missing from {path}"),
        ("[0.9, 1.0]", "run 'b': {path} is a JSON list, not an object of metrics"),
        ('{"accuracy": 0.9, "loss": NaN}', None),  # refused by stages.lib.files.read_json, named by run and file
    ],
)
def test_package_refuses_a_run_whose_metrics_are_not_finite_numbers(tmp_path, capsys, text, message):
    recorded_run(tmp_path / "runs", tmp_path / "models", "a")
    path = recorded_run(tmp_path / "runs", tmp_path / "models", "b", metrics=text)
    with pytest.raises(ValueError) as error:
        select_best(["a", "b"], [tmp_path / "runs" / run / RUN_FILES["metrics"] for run in "ab"], "accuracy")
    message = message.format(path=path) if message else str(error.value)
    assert str(error.value) == message and message.startswith("run 'b': ")
    # The stage: one line, nothing written.
    write_json(tmp_path / "package.json", {"metric": "accuracy", "run": None, "exports": []})
    assert (
        package_main(
            [
                "--config",
                str(tmp_path / "package.json"),
                "--runs",
                "a",
                "b",
                "--runs-dir",
                str(tmp_path / "runs"),
                "--models-dir",
                str(tmp_path / "models"),
                "--data",
                str(tmp_path / "data"),
                "--out-dir",
                str(tmp_path / "package"),
                "--archive",
                str(tmp_path / "package.tar.gz"),
            ]
        )
        == 1
    )
    assert capsys.readouterr().err == f"error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "package.json", "runs"]


def test_select_best_still_ranks_finite_runs(tmp_path):
    for run, metrics in (("a", {"accuracy": 0.5, "loss": 0.1}), ("b", {"accuracy": 0.7, "loss": 2})):
        recorded_run(tmp_path / "runs", tmp_path / "models", run, metrics=json.dumps(metrics))
    best, _ = select_best(["a", "b"], [tmp_path / "runs" / run / RUN_FILES["metrics"] for run in "ab"], "accuracy")
    assert best == "b"
