"""Each stage's core function on tiny inputs."""
import json
import tarfile

import numpy as np
import pytest

from stages.codedeps import code_files
from stages.evaluate import OUTPUTS, evaluate, score
from stages.files import read_json, sha256_file, write_json
from stages.package import package, select_best
from stages.prepare import split_stratified
from stages.report import comparison_table, markdown_table
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


def test_same_seed_gives_identical_weights(trained, tiny_data, tmp_path):
    import keras

    out, _ = trained
    train(run_config(), tiny_data, tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "s.json")
    assert sha256_file(tmp_path / "m.keras") == sha256_file(out / "model.keras")  # the file, byte for byte
    first = keras.models.load_model(out / "model.keras").get_weights()
    second = keras.models.load_model(tmp_path / "m.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert (tmp_path / "h.csv").read_text() == (out / "history.csv").read_text()


def test_score_on_known_probabilities():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = score(np.array([0, 1, 1, 1]), probabilities, ["x", "y"])
    assert metrics["accuracy"] == 0.75
    assert metrics["loss"] == round(float(-np.mean(np.log([0.9, 0.8, 0.4, 0.7]))), 6)
    assert metrics["test_images"] == 4


def test_evaluate_writes_every_output(trained, tiny_data, tmp_path):
    out, _ = trained
    paths = {name: tmp_path / name for name in OUTPUTS}
    metrics = evaluate(run_config(), out / "model.keras", tiny_data, paths)
    assert read_json(paths["metrics"]) == metrics
    assert metrics["provenance"]["config"] == run_config()
    assert "keras" in metrics["provenance"]["versions"]
    confusion = paths["confusion"].read_text().splitlines()
    assert confusion[0] == "actual\\predicted,a,b,c"
    assert sum(int(v) for line in confusion[1:] for v in line.split(",")[1:]) == 30
    report = read_json(paths["report_json"])
    assert report["accuracy"] == pytest.approx(metrics["accuracy"])
    assert paths["heatmap"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["predictions"].read_text().splitlines()[0] == "actual,predicted"
    # Same model, same files: evaluation depends on nothing but its inputs.
    again = {name: tmp_path / "again" / name for name in OUTPUTS}
    evaluate(run_config(), out / "model.keras", tiny_data, again)
    assert all(paths[n].read_bytes() == again[n].read_bytes() for n in OUTPUTS)


def _write_run(folder, run, accuracy, loss):
    write_json(folder / f"{run}.metrics.json", {"run": run, "accuracy": accuracy, "loss": loss, "macro_f1": accuracy,
                                                "weighted_f1": accuracy})
    write_json(folder / f"{run}.training.json", {"run": run, "architecture": "mlp", "parameters": 10,
                                                 "epochs_run": 2, "training_seconds": 1.0, "images_per_second": 5.0})
    return folder / f"{run}.metrics.json", folder / f"{run}.training.json"


def test_comparison_table_sorts_by_metric(tmp_path):
    files = [_write_run(tmp_path, run, acc, 0.1) for run, acc in (("a", 0.5), ("b", 0.9), ("c", 0.7))]
    table = comparison_table(["a", "b", "c"], [m for m, _ in files], [s for _, s in files], "accuracy")
    assert table["run"].tolist() == ["b", "c", "a"]
    assert "**b** (best)" in markdown_table(table, "accuracy")


def test_best_run_breaks_ties_by_loss_then_order(tmp_path):
    files = [_write_run(tmp_path, run, acc, loss)[0] for run, acc, loss in
             (("a", 0.9, 0.3), ("b", 0.9, 0.2), ("c", 0.8, 0.1), ("d", 0.9, 0.2))]
    best, ranking = select_best(["a", "b", "c", "d"], files, "accuracy")
    assert best == "b"
    assert [r["run"] for r in ranking] == ["b", "d", "a", "c"]


def test_package_has_manifest_and_reproducible_archive(trained, tiny_data, tmp_path):
    out, _ = trained
    metrics = _write_run(tmp_path, "only", 0.8, 0.2)[0]
    args = (["only"], [metrics], [out / "model.keras"], tiny_data / "metadata.json", "accuracy")
    package(*args, tmp_path / "pkg", tmp_path / "pkg.tar.gz")
    manifest = dict(line.split("  ")[::-1] for line in (tmp_path / "pkg" / "SHA256SUMS").read_text().splitlines())
    assert set(manifest) == {"model.keras", "metrics.json", "class_names.json", "preprocessing.json", "selection.json"}
    assert all(sha256_file(tmp_path / "pkg" / name) == digest for name, digest in manifest.items())
    assert json.loads((tmp_path / "pkg" / "class_names.json").read_text()) == ["a", "b", "c"]
    with tarfile.open(tmp_path / "pkg.tar.gz") as tar:
        assert sorted(tar.getnames()) == sorted(f"pkg/{name}" for name in [*manifest, "SHA256SUMS"])
    # The same inputs give the same archive, byte for byte (fixed timestamps and owners).
    package(*args, tmp_path / "again" / "pkg", tmp_path / "again" / "pkg.tar.gz")
    assert sha256_file(tmp_path / "again" / "pkg.tar.gz") == sha256_file(tmp_path / "pkg.tar.gz")


def test_code_files_follow_imports():
    assert code_files("train") == ["stages/architectures.py", "stages/files.py", "stages/layers.py",
                                   "stages/prepared.py", "stages/provenance.py", "stages/shapes.py",
                                   "stages/train.py"]
    assert code_files("package") == ["stages/files.py", "stages/package.py"]


def test_architectures_course_parameter_counts():
    from stages.architectures import build

    assert build("softmax", (28, 28, 1), 10).count_params() == 7850  # logistic regression on MNIST
    # Conv16: 448, Conv32: 4,640, Dense64 on 6x6x32: 73,792, Dense10: 650 (CIFAR-10 shapes).
    assert build("cnn_intro", (32, 32, 3), 10).count_params() == 79530
    with pytest.raises(ValueError, match="input 8x8 is too small"):
        build("cnn_intro", (8, 8, 1), 10)
