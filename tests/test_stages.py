"""Each stage's core function on tiny inputs."""

import re

import numpy as np
import pandas as pd
import pytest

from stages.evaluate import evaluate
from stages.lib.errors import InputError
from stages.lib.files import read_json, sha256_file, write_json
from stages.lib.layout import EVALUATION_FILES, REPORT_FILES, RUN_FILES
from stages.lib.references import Reference
from stages.lib.scores import answer_intervals, score
from stages.lib.uncertainty import proportion_interval
from stages.package import select_best
from stages.prepare import split_stratified
from stages.report import comparison_table, markdown_table, read_runs, report, significance, sweep_results
from stages.train import train
from tests.conftest import run_config


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    summary = train(run_config(), tiny_data, out / "model.keras", out / "history.csv", out / "training.json")
    return out, summary


def test_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(4), 50)
    train, val, test = split_stratified(labels, 0.2, 0.2, seed=3)
    assert len(train) + len(val) + len(test) == 200
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert np.bincount(labels[test]).tolist() == [10, 10, 10, 10]
    assert np.bincount(labels[val]).tolist() == [10, 10, 10, 10]
    again = split_stratified(labels, 0.2, 0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    assert not np.array_equal(test, split_stratified(labels, 0.2, 0.2, seed=4)[2])


def test_train_writes_model_history_and_summary(trained):
    import keras

    out, summary = trained
    model = keras.models.load_model(out / "model.keras")
    assert summary["parameters"] == model.count_params()
    assert summary["epochs_run"] == 3 and 1 <= summary["best_epoch"] <= 3
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0].split(",") == ["epoch", "accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"]
    assert len(lines) == 4
    assert summary["training_seconds"] > 0 and summary["backend"] == "tensorflow"
    # The file holds only what reruns reproduce: the wall times are returned (and go to --times).
    written = read_json(out / "training.json")
    assert "training_seconds" not in written and "epoch_seconds" not in written
    assert written == {key: summary[key] for key in written}
    # The model is written last: on disk, it means its history and summary are whole (the runners
    # see train's reports as one folder, which dvclive fills from the first epoch on).
    written_at = [(out / name).stat().st_mtime_ns for name in ("history.csv", "training.json", "model.keras")]
    assert written_at == sorted(written_at)


def test_same_seed_gives_identical_weights(trained, tiny_data, tmp_path):
    import keras

    out, _ = trained
    train(run_config(), tiny_data, tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "s.json")
    assert sha256_file(tmp_path / "m.keras") == sha256_file(out / "model.keras")  # the file, byte for byte
    first = keras.models.load_model(out / "model.keras").get_weights()
    second = keras.models.load_model(tmp_path / "m.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert (tmp_path / "h.csv").read_text() == (out / "history.csv").read_text()


def test_train_first_trains_on_that_many_images(tiny_data, tmp_path, capsys):
    """A run with `train_first` trains on that many images: the first 40 of tiny_data's 120
    training and validation images (its index_*.npy). Which images, and what validation keeps,
    is tested on real IDX files in test_datasets."""
    out = tmp_path / "first"
    config = run_config(training={"train_first": 40, "epochs": 1})
    train(config, tiny_data, out / "model.keras", out / "history.csv", out / "training.json")
    assert re.search(r"run tiny_cnn_intro: cnn_intro, [\d,]+ parameters, 40 training images\n", capsys.readouterr().out)


def test_many_steps_per_call_train_the_same_weights_as_one(tiny_data):
    """compile_model runs STEPS_PER_EXECUTION batches per call for speed; the updates, and so
    the weights, are those of one batch per call (here 7 batches an epoch: a partial call)."""
    from stages.lib.architectures import build
    from stages.lib.splits import load_split
    from stages.train import STEPS_PER_EXECUTION, compile_model, make_deterministic

    x, y = load_split(tiny_data, "train", mmap=False)
    weights = []
    for steps in (1, STEPS_PER_EXECUTION):
        make_deterministic(7)
        model = build("cnn_dropout", x.shape[1:], int(y.max()) + 1, dropout=0.5, padding="same")
        compile_model(model, run_config().training, 0.01)
        if steps == 1:  # the same compilation, one batch per call
            model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], steps_per_execution=1)
        model.fit(x, y, batch_size=max(1, len(x) // 7), epochs=2, verbose=0)
        weights.append(model.get_weights())
    assert STEPS_PER_EXECUTION > 1
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))


def test_score_on_known_probabilities():
    probabilities = np.array([[0.9, 0.1, 0.0, 0.0], [0.2, 0.5, 0.3, 0.0], [0.6, 0.1, 0.3, 0.0], [0.3, 0.7, 0.0, 0.0]])
    metrics = score(np.array([0, 1, 2, 1]), probabilities, ["w", "x", "y", "z"])
    assert metrics["accuracy"] == 0.75
    assert metrics["loss"] == round(float(-np.mean(np.log([0.9, 0.5, 0.3, 0.7]))), 6)
    assert metrics["top_3_accuracy"] == 1.0 and "top_5_accuracy" not in metrics  # only k < classes
    assert metrics["test_images"] == 4
    # Classes w and y have one test image, z none: too few to score (an F1 of 0 or 1 by luck).
    assert metrics["per_class"]["y"] == {"support": 1, "scored": False, "why": "1 test image, fewer than 2"}
    assert metrics["per_class"]["z"] == {"support": 0, "scored": False, "why": "0 test images, fewer than 2"}
    assert {key: metrics["per_class"]["x"][key] for key in ("precision", "recall", "f1", "support")} == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 2,
    }
    # The averages are over the scored classes: x alone.
    assert metrics["macro_recall"] == metrics["macro_f1"] == metrics["weighted_f1"] == 1.0


def test_every_metric_has_an_interval_that_holds_it_and_reproduces():
    rng = np.random.default_rng(3)
    y = np.arange(300) % 3
    probabilities = rng.dirichlet(np.ones(3), 300)
    probabilities[np.arange(300), y] += rng.random(300)  # right about three times in four
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    metrics = score(y, probabilities, ["a", "b", "c"])
    intervals = metrics["intervals"]
    assert set(intervals) == {
        "method",
        "accuracy",
        "loss",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
    }
    for name, (low, high) in ((k, v) for k, v in intervals.items() if k != "method"):
        assert low < metrics[name] < high, name
    for scores in metrics["per_class"].values():
        for key in ("precision", "recall", "f1"):
            assert scores[f"{key}_interval"][0] < scores[key] < scores[f"{key}_interval"][1]
    # Wilson's interval of accuracy, by its formula with z = 1.959964.
    right, n, z = round(metrics["accuracy"] * 300), 300, 1.959964
    p = right / n
    centre, half = (p + z * z / (2 * n)), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert intervals["accuracy"] == pytest.approx(
        [(centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)], abs=1e-6
    )
    assert score(y, probabilities, ["a", "b", "c"]) == metrics  # the bootstrap is seeded
    # The report's intervals, from the predicted classes alone, are the same.
    names = np.array(["a", "b", "c"])
    found = answer_intervals(names[y], names[probabilities.argmax(axis=1)])
    assert found == {key: intervals[key] for key in ("accuracy", "macro_f1")}


def test_tied_outputs_get_chance_top_k_not_full_marks():
    # A model at chance level: every output equal. Ties are shared, not counted for the true class.
    metrics = score(np.arange(100) % 10, np.full((100, 10), 0.1), [str(c) for c in range(10)])
    assert metrics["top_3_accuracy"] == 0.3 and metrics["top_5_accuracy"] == 0.5
    # The true class tied with one other at third place: half a hit for top-3, a full one for top-5.
    probabilities = np.array([[0.4, 0.3, 0.1, 0.1, 0.05, 0.05]] * 2)
    found = score(np.array([2, 2]), probabilities, list("abcdef"))
    assert found["top_3_accuracy"] == 0.5 and found["top_5_accuracy"] == 1.0


def test_top_k_counts_the_true_class_among_the_k_most_probable():
    probabilities = np.array([[0.4, 0.3, 0.2, 0.1]] * 4)
    metrics = score(np.array([0, 1, 2, 3]), probabilities, ["a", "b", "c", "d"])
    assert metrics["accuracy"] == 0.25 and metrics["top_3_accuracy"] == 0.75


def test_evaluate_writes_every_output(trained, tiny_data, tmp_path):
    out, _ = trained
    folder = tmp_path / "evaluation"
    metrics = evaluate(run_config(), out / "model.keras", tiny_data, folder)
    paths = {key: folder / name for key, name in EVALUATION_FILES.items()}
    assert sorted(p.name for p in folder.iterdir()) == sorted(EVALUATION_FILES.values())
    assert read_json(paths["metrics"]) == metrics
    # What `dvc metrics` lists: the headline numbers, nothing else (no strings, no per-class).
    assert set(metrics) == {"accuracy", "loss", "macro_f1", "weighted_f1"}  # 3 classes: no top-k
    assert all(isinstance(v, float) for v in metrics.values())
    provenance, scores = read_json(paths["provenance"]), read_json(paths["scores"])
    assert provenance["config"] == run_config().to_dict()
    assert "keras" in provenance["versions"]
    assert set(scores["per_class"]) == {"a", "b", "c"} and scores["test_images"] == 30
    assert {"macro_precision", "macro_recall", "weighted_precision", "weighted_recall"} <= set(scores)
    confusion = paths["confusion"].read_text().splitlines()
    assert confusion[0] == "actual\\predicted,a,b,c"
    counts = np.array([[int(v) for v in line.split(",")[1:]] for line in confusion[1:]])
    assert counts.sum() == 30 and np.trace(counts) == round(metrics["accuracy"] * 30)
    fractions = np.array(
        [[float(v) for v in line.split(",")[1:]] for line in paths["confusion_normalized"].read_text().splitlines()[1:]]
    )
    assert np.allclose(fractions, counts / counts.sum(axis=1, keepdims=True), atol=1e-4)
    report = read_json(paths["report_json"])
    assert report["accuracy"] == pytest.approx(metrics["accuracy"])
    assert "macro avg" in paths["report_text"].read_text()
    assert (
        "\nMost confused (actual -> predicted: images, share of the actual class):\n"
        in paths["report_text"].read_text()
    )
    for key in ("heatmap", "misclassified", "filters"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", key
    predictions = paths["predictions"].read_text().splitlines()
    assert predictions[0] == "image,actual,predicted,p_a,p_b,p_c" and len(predictions) == 31
    row = predictions[1].split(",")
    assert abs(sum(map(float, row[3:])) - 1) < 1e-4
    assert row[2] == "abc"[int(np.argmax([float(v) for v in row[3:]]))]
    # Same model, same files: evaluation depends on nothing but its inputs.
    evaluate(run_config(), out / "model.keras", tiny_data, tmp_path / "again")
    assert all(p.read_bytes() == (tmp_path / "again" / p.name).read_bytes() for p in paths.values())


def test_a_failed_evaluate_leaves_the_earlier_folder_and_no_partial_one(trained, tiny_data, tmp_path, monkeypatch):
    """Its folder is the one output the runners see: a half-written one would look done to Snakemake."""
    import stages.evaluate

    out, _ = trained
    folder = tmp_path / "evaluation"
    evaluate(run_config(), out / "model.keras", tiny_data, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def fails(*args):
        raise RuntimeError("killed while drawing the filters")

    monkeypatch.setattr(stages.evaluate, "plot_filters", fails)
    for target in (folder, tmp_path / "fresh"):
        with pytest.raises(RuntimeError):
            evaluate(run_config(), out / "model.keras", tiny_data, target)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation"]


def _write_run(folder, run, accuracy, loss, sweep=None, parameters=10, dataset="digits"):
    """A run's metrics.json, provenance.json, confusion matrix and training.json as evaluate and train write them."""
    config = {
        "run": run,
        "architecture": "mlp",
        "model": {"dropout": 0.2},
        "seed": 1,
        "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 16, "epochs": 3, "patience": 2},
        **({"sweep": sweep} if sweep else {}),
    }
    write_json(
        folder / run / RUN_FILES["metrics"],
        {"accuracy": accuracy, "loss": loss, "macro_f1": accuracy, "weighted_f1": accuracy},
    )
    # 100 test images, the first 100 * accuracy of them right (so runs share the images they get right).
    right = round(100 * accuracy)
    actual = ["Shirt", "Coat"] * 50
    predicted = [a if i < right else ("Coat" if a == "Shirt" else "Shirt") for i, a in enumerate(actual)]
    (folder / run / RUN_FILES["predictions"]).write_text(
        "image,actual,predicted\n" + "".join(f"{i},{a},{p}\n" for i, (a, p) in enumerate(zip(actual, predicted)))
    )
    write_json(folder / run / RUN_FILES["provenance"], {"config": config, "data": {"dataset": dataset}})
    (folder / run / RUN_FILES["confusion"]).write_text("actual\\predicted,Shirt,Coat\nShirt,9,1\nCoat,3,7\n")
    # Per class as evaluate writes it: Shirt scored, Coat with too few test images to be.
    write_json(
        folder / run / RUN_FILES["scores"],
        {"per_class": {"Shirt": {"f1": accuracy, "support": 50}, "Coat": {"support": 1, "scored": False}}},
    )
    write_json(
        folder / run / RUN_FILES["summary"],
        {"run": run, "architecture": "mlp", "parameters": parameters, "epochs_run": 2, "best_epoch": 2},
    )
    (folder / run / RUN_FILES["history"]).write_text(
        f"epoch,accuracy,loss,val_accuracy,val_loss\n1,0.5,1.0,0.4,1.1\n2,0.6,0.8,{accuracy},{loss}\n"
    )
    return folder / run / RUN_FILES["metrics"]


def test_comparison_table_ranks_as_package_picks(tmp_path):
    runs = [("a", 0.9, 0.3), ("b", 0.9, 0.2), ("c", 0.8, 0.1), ("d", 0.9, 0.2), ("e", 0.95, 0.9)]
    paths = [_write_run(tmp_path, run, acc, loss) for run, acc, loss in runs]
    table = comparison_table(read_runs([r for r, _, _ in runs], tmp_path, "accuracy"), "accuracy")
    # Best metric first, then lowest loss, then params.yaml order: the order select_best uses.
    assert table["run"].tolist() == ["e", "b", "d", "a", "c"]
    best, ranking = select_best([r for r, _, _ in runs], paths, "accuracy")
    assert [r["run"] for r in ranking] == table["run"].tolist() and best == "e"
    assert table.loc[0, "settings"] == "dropout=0.2" and table.loc[0, "optimizer"] == "adam"
    assert "**e** (best)" in markdown_table(table, "accuracy")
    assert table.loc[0, "most_confused"] == "Coat -> Shirt: 3 (30.0%)"
    assert table["published_accuracy"].isna().all() and (table["published"] == "-").all()
    # comparison.md leaves out the three published columns when every one of them is empty, and says why.
    text = markdown_table(table, "accuracy")
    assert "published_accuracy |" not in text and "| published" not in text
    assert "No published result for these runs' dataset and architectures" in text
    # Intervals from the predictions: e got 95 of 100 test images right.
    low, high = proportion_interval(95, 100)
    assert [table.loc[0, "accuracy_low"], table.loc[0, "accuracy_high"]] == [low, high]
    assert table.loc[0, "macro_f1_low"] < table.loc[0, "macro_f1"] < table.loc[0, "macro_f1_high"]
    assert f"| [{low:.4f}, {high:.4f}]  | best " in markdown_table(table, "accuracy")


def test_the_comparison_says_which_runs_differ_from_the_best(tmp_path):
    # On 100 shared images: b is wrong on 2 images more than a (McNemar p = 0.5), c on 40 more (p < 1e-11).
    for run, accuracy in (("a", 0.9), ("b", 0.88), ("c", 0.5)):
        _write_run(tmp_path, run, accuracy, 0.3)
    table = comparison_table(read_runs(["c", "b", "a"], tmp_path, "accuracy"), "accuracy").set_index("run")
    assert table["vs_best"].to_dict() == {"a": "best", "b": "indistinguishable", "c": "worse"}
    # Exact McNemar: 2 discordant images, both for a: p = 2 * 0.5**2 = 0.5; Holm multiplies the larger
    # of the 2 p-values by 1 (and the smaller, c's, by 2).
    assert table.loc["b", "p_vs_best"] == 0.5 and pd.isna(table.loc["a", "p_vs_best"])
    text = significance(table.reset_index())
    assert "Significantly worse than `a`: `c` (p = " in text
    assert "Not distinguishable from `a`: `b` (p = 0.5): their order in the table" in text
    # Neighbours: a and b cannot be told apart, b and c can.
    assert table["differs_from_next"].tolist()[:2] == [False, True]
    assert "`a` ≈ `b` > `c`." in text


def test_runs_tested_on_different_images_are_not_compared(tmp_path):
    for run in ("a", "b"):
        _write_run(tmp_path, run, 0.9, 0.3)
    predictions = tmp_path / "b" / RUN_FILES["predictions"]
    predictions.write_text(predictions.read_text().replace("\n0,Shirt", "\n0,Coat"))
    with pytest.raises(InputError, match="runs 'a' and 'b' were tested on different images"):
        comparison_table(read_runs(["a", "b"], tmp_path, "accuracy"), "accuracy")


def test_comparison_table_puts_each_run_next_to_its_published_result(tmp_path):
    _write_run(tmp_path, "mlp-fashion", 0.9123, 0.3, dataset="fashion_mnist")
    _write_run(tmp_path, "mlp-digits", 0.97, 0.1)
    references = [
        Reference("fashion_mnist", "mlp", "MLP 256-128-100", 0.9, "test set", "zalando", "https://x.org/a"),
        Reference("fashion_mnist", "mlp", "a weaker MLP", 0.85, "test set", "elsewhere", "https://x.org/b"),
    ]
    results = read_runs(["mlp-fashion", "mlp-digits"], tmp_path, "accuracy")
    table = comparison_table(results, "accuracy", references).set_index("run")
    assert table.loc["mlp-fashion", "published_accuracy"] == 0.9
    assert table.loc["mlp-fashion", "vs_published_points"] == 1.23
    assert table.loc["mlp-fashion", "published"] == "90.0%: MLP 256-128-100, test set (zalando: https://x.org/a)"
    assert pd.isna(table.loc["mlp-digits", "published_accuracy"]) and table.loc["mlp-digits", "published"] == "-"


def test_sweep_results_follow_the_run_configs(tmp_path):
    _write_run(tmp_path, "plain", 0.5, 1.0)
    for rate, acc in ((0.1, 0.7), (0.5, 0.8)):
        _write_run(tmp_path, f"dropout-{rate}", acc, 0.5, sweep={"name": "dropout", "point": {"dropout": rate}})
    _write_run(tmp_path, "act-relu", 0.6, 0.5, sweep={"name": "act", "point": {"activation": "relu"}})
    sweeps = sweep_results(
        read_runs(["plain", "dropout-0.1", "dropout-0.5", "act-relu"], tmp_path, "accuracy"), "accuracy"
    )
    assert sweeps == {
        "dropout": [({"dropout": 0.1}, 0.7), ({"dropout": 0.5}, 0.8)],
        "act": [({"activation": "relu"}, 0.6)],
    }


@pytest.mark.slow
def test_report_writes_table_figures_and_offline_html(tmp_path):
    runs_dir, data_dir = tmp_path / "runs", tmp_path / "data"
    for run, acc, sweep in (
        ("a", 0.7, None),
        ("s-1", 0.8, {"name": "s", "point": {"optimizer": "sgd"}}),
        ("s-2", 0.9, {"name": "s", "point": {"optimizer": "adam"}}),
    ):
        _write_run(runs_dir, run, acc, 0.5, sweep=sweep, dataset="fashion_mnist" if run == "s-2" else "digits")
        for key in ("heatmap", "misclassified", "filters"):
            (runs_dir / run / RUN_FILES[key]).write_bytes(TINY_PNG)
        (runs_dir / run / RUN_FILES["report_text"]).write_text("macro avg 1.0\n")
    data_dir.mkdir()
    (data_dir / "samples.png").write_bytes(TINY_PNG)
    (data_dir / "class_balance.csv").write_text("class,train,val,test\na,1,1,1\n")
    table = report(
        ["a", "s-1", "s-2"], runs_dir, data_dir, "accuracy", "workflow/notebooks/report.ipynb", tmp_path / "out"
    )
    assert table["run"].tolist() == ["s-2", "s-1", "a"]
    # Every run's confusion matrix, a row per cell, for `dvc plots`.
    cells = (tmp_path / "out" / REPORT_FILES["confusions"]).read_text().splitlines()
    assert cells[0] == "run,actual,predicted,count" and len(cells) == 1 + 3 * 4
    assert "s-2,Shirt,Shirt,9" in cells and "a,Coat,Shirt,3" in cells
    # The headline numbers under each run's name: `dvc exp show` heads them "s-2.accuracy".
    assert read_json(tmp_path / "out" / REPORT_FILES["headline"]) == {
        run: {"accuracy": acc, "macro_f1": acc, "loss": 0.5} for run, acc in (("a", 0.7), ("s-1", 0.8), ("s-2", 0.9))
    }
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.*")) == sorted(
        REPORT_FILES.values()
    )
    html = (tmp_path / "out" / REPORT_FILES["html"]).read_text()
    # 3 figures + samples + 3 runs x 3 figures, each embedded in the page
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) == 13
    assert "s-2" in html and "macro avg" in html
    # s-2 (an mlp on Fashion-MNIST) stands against its published figure; every run names its pairs.
    assert "Against published results" in html and "MLP 784-256-128-100" in html
    # And the significance of the differences, in words.
    assert "Which differences are significant" in html and "distinguishable from <code>s-2</code>" in html
    assert "The classes mixed up most" in html and html.count("Shirt: 3 (30.0%)") >= 3
    # F1 per class across runs; a class too rare to score says so instead of showing an F1 of 0.
    per_class = html[html.index('id="T_per-class"') :]
    assert per_class.count(">n/a<") == 3 and ">0.900<" in per_class
    # Run headings carry the settings as text, not a Python dict.
    assert "{&#x27;" not in html and "{'" not in html and "(dropout=0.2)" in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)
    # No execution times, kernel timestamps or random ids: a rerun writes the same bytes, so
    # neither dvc.lock nor git sees a change when nothing did.
    first = {name: (tmp_path / "out" / name).read_bytes() for name in REPORT_FILES.values()}
    report(["a", "s-1", "s-2"], runs_dir, data_dir, "accuracy", "workflow/notebooks/report.ipynb", tmp_path / "out")
    for name in REPORT_FILES.values():
        assert (tmp_path / "out" / name).read_bytes() == first[name], name


# A 1x1 PNG: the report embeds the per-run figures it is given.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


def test_json_with_nan_or_infinity_is_neither_read_nor_written(tmp_path):
    """The stages' one JSON reader and writer: a NaN result is refused by name, never passed on."""
    from stages.lib.files import read_json, write_json

    for text, reason in (
        ('{"loss": NaN}', "non-finite number NaN"),
        ('{"loss": -Infinity}', "non-finite number -Infinity"),
        ('{"loss": ', "not valid JSON (line 1, column 10: Expecting value)"),
    ):
        (tmp_path / "m.json").write_text(text)
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'm.json'}: {reason}")):
            read_json(tmp_path / "m.json")
    with pytest.raises(ValueError, match=re.escape("refusing to write a non-finite number: runs.mlp.loss = nan")):
        write_json(tmp_path / "out.json", {"runs": {"mlp": {"loss": float("nan"), "accuracy": 0.9}}})
    assert not (tmp_path / "out.json").exists()
