"""Replicates: `repeats` (seeds) and `cv_folds` (stratified K-fold), each a run of its own,
aggregated by the report (mean, standard deviation, interval)."""

import copy
import json

import numpy as np
import pytest

from stages.folds import make_folds
from stages.lib.errors import InputError
from stages.lib.files import write_json
from stages.lib.layout import RUN_FILES
from stages.lib.params import (
    ParamsError,
    load_params,
    replicate_groups,
    resolve_report,
    resolve_runs,
    train_jobs,
    validate_params,
)
from stages.lib.splits import load_split
from stages.lib.uncertainty import mean_interval, welch_pvalue
from stages.report import replicate_summary, replicates_markdown
from tests.conftest import ROOT
from tests.test_stages import _write_run

PARAMS = load_params(ROOT / "params.yaml")


def _params(**runs) -> dict:
    params = copy.deepcopy(PARAMS)
    params["runs"] = runs
    params.pop("sweeps", None)
    validate_params(params)
    return params


def test_repeats_make_seed_replicates_that_differ_only_in_seed():
    params = _params(mlp={"architecture": "mlp", "units": [8], "repeats": 3}, softmax={"architecture": "softmax"})
    runs = resolve_runs(params)
    assert list(runs) == ["mlp", "softmax", "mlp-seed43", "mlp-seed44"]
    assert [runs[name].seed for name in ("mlp", "mlp-seed43", "mlp-seed44")] == [42, 43, 44]
    # The run itself is as it was without `repeats`: its config, and so its results, stay.
    assert runs["mlp"] == resolve_runs(_params(mlp={"architecture": "mlp", "units": [8]}))["mlp"]
    assert runs["mlp-seed43"].model == runs["mlp"].model == {"units": [8]}
    assert replicate_groups(params) == {"mlp": {"seeds": ["mlp", "mlp-seed43", "mlp-seed44"], "folds": []}}
    assert resolve_report(params).replicates == replicate_groups(params)
    assert resolve_report(_params(softmax={"architecture": "softmax"})).to_dict() == {"metric": "accuracy"}


def test_a_runs_own_seed_starts_its_replicates():
    runs = resolve_runs(_params(mlp={"architecture": "mlp", "seed": 7, "repeats": 2}))
    assert {name: run.seed for name, run in runs.items()} == {"mlp": 7, "mlp-seed8": 8}


def test_cv_folds_make_fold_runs_that_read_their_fold():
    params = _params(cnn={"architecture": "cnn_intro", "padding": "same", "cv_folds": 3})
    assert list(resolve_runs(params)) == ["cnn", "cnn-fold1", "cnn-fold2", "cnn-fold3"]
    jobs = train_jobs(params)
    assert (jobs["cnn"]["data"], jobs["cnn"]["data_path"]) == ("data/prepared", "data/prepared")
    assert (jobs["cnn-fold2"]["data"], jobs["cnn-fold2"]["data_path"]) == ("data/folds/3", "data/folds/3/fold2")
    assert jobs["cnn-fold2"]["architecture"] == "cnn_intro"
    assert replicate_groups(params)["cnn"] == {"seeds": ["cnn"], "folds": ["cnn-fold1", "cnn-fold2", "cnn-fold3"]}


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ({"architecture": "mlp", "repeats": 0}, "runs.a.repeats: 0 is invalid"),
        ({"architecture": "mlp", "repeats": 2.0}, "runs.a.repeats: 2.0 is invalid"),
        ({"architecture": "mlp", "cv_folds": 1}, "runs.a.cv_folds: 1 is invalid"),
    ],
)
def test_bad_replicate_counts_are_refused_in_one_line(run, message):
    with pytest.raises(ParamsError, match=message):
        _params(a=run)


def test_a_replicate_may_not_take_a_runs_name():
    with pytest.raises(ParamsError, match=r"runs\.a: its replicate 'a-seed43' has the name of the run 'a-seed43'"):
        _params(a={"architecture": "mlp", "repeats": 2}, **{"a-seed43": {"architecture": "softmax"}})


def test_folds_are_stratified_disjoint_and_cover_the_training_images(tiny_data, tmp_path):
    made = make_folds(tiny_data, 3, seed=0, out_dir=tmp_path / "folds")
    images = [np.concatenate([load_split(tiny_data, split)[1] for split in ("train", "val")])]
    total = len(images[0])  # 90 + 30, 40 of each of 3 classes
    held_out = []
    for k in (1, 2, 3):
        fold = tmp_path / "folds" / f"fold{k}"
        x_train, y_train = load_split(fold, "train")
        x_val, y_val = load_split(fold, "val")
        assert len(y_train) + len(y_val) == total and x_train.shape[1:] == (8, 8, 1)
        assert set(np.bincount(y_val).tolist()) <= {13, 14}  # stratified: a third of each class's 40
        held_out.append(x_val.reshape(len(x_val), -1))
        assert json.loads((fold / "metadata.json").read_text())["fold"]["k"] == k
    # Every image is held out exactly once.
    rows = np.concatenate(held_out)
    assert len(rows) == total and len(np.unique(rows, axis=0)) == total
    assert made["fold1"] == {"train": total - len(held_out[0]), "val": len(held_out[0])}
    # The same seed gives the same folds, file for file.
    make_folds(tiny_data, 3, seed=0, out_dir=tmp_path / "again")
    for path in (tmp_path / "folds").rglob("*.npy"):
        assert path.read_bytes() == (tmp_path / "again" / path.relative_to(tmp_path / "folds")).read_bytes()


def test_folds_refuse_a_class_too_small_for_them(tiny_data, tmp_path):
    with pytest.raises(InputError, match="cv_folds 50: class 'a' has 40 training and validation images"):
        make_folds(tiny_data, 50, seed=0, out_dir=tmp_path / "folds")
    assert not (tmp_path / "folds").exists()


def test_mean_interval_of_replicates():
    found = mean_interval([0.90, 0.92, 0.94])
    # t(0.975, 2) = 4.302653; the standard error is 0.02 / sqrt(3).
    half = 4.302653 * 0.02 / np.sqrt(3)
    assert found == pytest.approx({"n": 3, "mean": 0.92, "sd": 0.02, "low": 0.92 - half, "high": 0.92 + half})
    assert mean_interval([0.5]) == {"n": 1, "mean": 0.5, "sd": 0.0}
    assert mean_interval([0.5, 0.5])["low"] == 0.5
    assert welch_pvalue([0.9, 0.9], [0.9, 0.9]) == 1.0
    assert welch_pvalue([0.90, 0.91, 0.92], [0.80, 0.81, 0.82]) < 0.001


def test_the_report_aggregates_seeds_and_folds_and_tests_a_sweeps_ranking(tmp_path):
    from stages.report import read_runs

    accuracies = {"d-0.1": 0.90, "d-0.1-seed43": 0.91, "d-0.1-seed44": 0.92, "d-0.5": 0.93, "d-0.5-seed43": 0.89}
    accuracies["d-0.5-seed44"] = 0.90
    for run, accuracy in accuracies.items():
        sweep = {"name": "d", "point": {"dropout": float(run[2:5])}} if run in ("d-0.1", "d-0.5") else None
        _write_run(tmp_path, run, accuracy, 0.3, sweep=sweep)
    for k, held_out in ((1, 0.8), (2, 0.9)):
        _write_run(tmp_path, f"c-fold{k}", 0.85, 0.3)
        history = tmp_path / f"c-fold{k}" / RUN_FILES["history"]
        history.write_text(f"epoch,accuracy,loss,val_accuracy,val_loss\n1,0.5,1.0,0.1,1.1\n2,0.6,0.8,{held_out},0.3\n")
    groups = {
        "d-0.1": {"seeds": ["d-0.1", "d-0.1-seed43", "d-0.1-seed44"], "folds": []},
        "d-0.5": {"seeds": ["d-0.5", "d-0.5-seed43", "d-0.5-seed44"], "folds": []},
        "c": {"seeds": ["c"], "folds": ["c-fold1", "c-fold2"]},
    }
    results = read_runs([*accuracies, "c-fold1", "c-fold2"], tmp_path, "accuracy")
    summary = replicate_summary(results, groups, tmp_path)
    assert summary["d-0.1"]["seeds"]["runs"] == groups["d-0.1"]["seeds"]
    assert summary["d-0.1"]["seeds"]["accuracy"] == mean_interval([0.90, 0.91, 0.92])
    assert summary["c"]["folds"]["held_out_accuracy"] == mean_interval([0.8, 0.9])  # epoch 2, the best epoch
    assert "seeds" not in summary["c"]  # the run itself has no result here: nothing to aggregate
    write_json(tmp_path / "replicates.json", summary)  # what the DVC metrics file holds: plain JSON
    text = replicates_markdown(summary, results)
    assert "| d-0.1 | 3 seeds | 0.9100 ± 0.0100 [" in text and "| c | 2 folds |" in text
    # Over seeds d-0.1 leads (0.910 against 0.907), where seed 42 alone put d-0.5 first; not significant.
    assert "Sweep `d` over 3 seeds, by mean test accuracy: `d-0.1` 0.9100 ≈ `d-0.5` 0.9067 (p = " in text
    assert (
        "The first seed alone ranked them `d-0.5` 0.9300, `d-0.1` 0.9000; over the seeds no step of the ranking"
        " is significant." in text
    )
    # A fold whose history lacks the epoch it kept is refused by name, not averaged as NaN.
    history.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n1,0.5,1.0,0.1,1.1\n")
    with pytest.raises(InputError, match=r"c-fold2/training/history\.csv: no epoch 2, the one training\.json kept"):
        replicate_summary(results, groups, tmp_path)
