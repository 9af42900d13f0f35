"""Training options: reduce-on-plateau, augmentation, mixed precision, and resuming a killed run."""

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stages.lib.files import read_json, write_json
from stages.lib.layers import load_model
from stages.train import train
from tests.conftest import BIN, make_tiny_data, run_config


def train_command(config, data, out: Path, *extra) -> list[str]:
    """`python -m stages.train` for `config` (written to out/run.json), with model.keras,
    history.csv and training.json in `out`, then the `extra` arguments."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "run.json", config.to_dict())
    outputs = {"--model": "model.keras", "--history": "history.csv", "--summary": "training.json"}
    return [
        str(BIN / "python"),
        "-m",
        "stages.train",
        "--config",
        str(out / "run.json"),
        "--data",
        str(data),
        *(item for flag, name in outputs.items() for item in (flag, str(out / name))),
        *map(str, extra),
    ]


def history(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_reduce_on_plateau_cuts_the_learning_rate_and_history_records_it(tiny_data, tmp_path):
    config = run_config(
        "mlp",
        training={
            "epochs": 12,
            "patience": 20,
            "reduce_lr_patience": 1,
            "reduce_lr_factor": 0.5,
            "learning_rate": 0.05,
        },
        units=[8],
    )
    summary = train(config, tiny_data, tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "s.json")
    rates = [float(row["learning_rate"]) for row in history(tmp_path / "h.csv")]
    assert len(rates) == summary["epochs_run"] == 12 and rates[0] == pytest.approx(0.05)
    assert min(rates) < 0.05 and all(b <= a for a, b in itertools.pairwise(rates))
    assert len(summary["epoch_seconds"]) == 12 and summary["images_per_second"] > 0
    assert not (tmp_path / "m.keras.backup.keras").exists() and not (tmp_path / "m.keras.progress.json").exists()


def test_augmentation_trains_but_leaves_inference_alone(tiny_data, tmp_path):
    augment = {"flip": "horizontal", "translation": 0.1, "rotation": 0.05, "zoom": 0.1}
    config = run_config(training={"augment": augment})
    train(config, tiny_data, tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "s.json")
    model = load_model(tmp_path / "m.keras")
    assert model.layers[0].name == "augmentation" and len(model.layers[0].layers) == 4
    x = np.load(tiny_data / "x_test.npy")
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_monitor_val_accuracy_and_mixed_precision(tiny_data, tmp_path):
    config = run_config("mlp", training={"monitor": "val_accuracy", "mixed_precision": True}, units=[8])
    summary = train(config, tiny_data, tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "s.json")
    model = load_model(tmp_path / "m.keras")
    assert model.layers[1].dtype_policy.name == "mixed_float16"
    accuracies = [float(row["val_accuracy"]) for row in history(tmp_path / "h.csv")]
    assert summary["best_epoch"] == int(np.argmax(accuracies)) + 1


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_epoch(tmp_path):
    data = make_tiny_data(tmp_path / "data", sizes=(("train", 2000), ("val", 200), ("test", 30)))
    config = run_config("mlp", training={"epochs": 12, "patience": 12, "batch_size": 8}, units=[64])
    out = tmp_path / "out"
    command = train_command(config, data, out, "--live", out / "live")
    live_loss = out / "live" / "plots" / "metrics" / "eval" / "loss.tsv"
    progress = out / "model.keras.progress.json"
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if progress.exists() and len(read_json(progress)["rows"]) >= 3:
            first.send_signal(signal.SIGKILL)  # no chance to clean up, as when a node dies
            break
        time.sleep(0.05)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "training ended before it could be killed"
    assert not (out / "model.keras").exists() and (out / "model.keras.backup.keras").is_file()
    done_before = len(read_json(progress)["rows"])
    # dvclive's files follow the training epoch by epoch: the killed run had logged its epochs.
    assert len(live_loss.read_text().splitlines()) - 1 >= done_before - 1

    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"resuming after epoch {done_before}" in second.stdout
    epochs = [int(row["epoch"]) for row in history(out / "history.csv")]
    assert epochs == list(range(1, 13))  # every epoch, once, though two processes ran them
    # The resumed run continued dvclive's log: each epoch once, as steps 0..11, the history's values.
    rows = [line.split("\t") for line in live_loss.read_text().splitlines()]
    assert rows[0] == ["step", "loss"]
    assert [(int(step), float(value)) for step, value in rows[1:]] == [
        (epoch - 1, float(row["val_loss"])) for epoch, row in zip(epochs, history(out / "history.csv"))
    ]
    assert read_json(out / "live" / "metrics.json")["step"] == 11
    assert "Epoch 1/12" not in second.stdout  # the second process did not start over
    assert json.loads((out / "training.json").read_text())["epochs_run"] == 12
    assert load_model(out / "model.keras").count_params() > 0
    assert not (out / "model.keras.backup.keras").exists() and not progress.exists()


def test_changed_settings_do_not_resume_an_old_backup(tiny_data, tmp_path):
    config = run_config("mlp", units=[8])
    stale = run_config("mlp", units=[16])
    write_json(tmp_path / "m.keras.progress.json", {"config": stale.to_dict(), "rows": [{"loss": 1.0}] * 2})
    (tmp_path / "m.keras.backup.keras").write_text("from another config")
    summary = train(config, tiny_data, tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "s.json")
    assert summary["epochs_run"] == 3 and [r["epoch"] for r in history(tmp_path / "h.csv")] == ["1", "2", "3"]


@pytest.mark.slow
def test_training_runs_under_the_jax_backend(tiny_data, tmp_path):
    pytest.importorskip("jax")
    config = run_config("morph", filters=2, kernel_size=3, padding="same")
    result = subprocess.run(
        train_command(config, tiny_data, tmp_path),
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = read_json(tmp_path / "training.json")
    assert summary["backend"] == "jax" and summary["epochs_run"] == 3
    assert np.isfinite([float(row["loss"]) for row in history(tmp_path / "history.csv")]).all()


def compiled_step(jit_compile: bool) -> bool:
    """Whether `compile_model` compiles an MLP's training step under this process's backend."""
    from stages.lib.architectures import build
    from stages.train import compile_model

    config = run_config("mlp", training={"jit_compile": jit_compile}, units=[4])
    model = build("mlp", (8, 8, 1), 3, units=[4])
    compile_model(model, config.training, 0.01)
    return model.jit_compile


def test_the_training_step_is_compiled_under_jax_whatever_jit_compile_says():
    """Uncompiled, JAX runs the step op by op (1.5 to 2.3 times slower on a CPU). The backend is
    fixed per process, so JAX's case runs in a child process."""
    pytest.importorskip("jax")
    done = subprocess.run(
        [sys.executable, "-c", "from tests.test_training import compiled_step; print(compiled_step(False))"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True"]


def test_jit_compile_keeps_its_meaning_under_tensorflow():
    """TensorFlow's uncompiled step is still a graph: `jit_compile: false` stays uncompiled there."""
    import keras

    assert keras.backend.backend() == "tensorflow"
    assert compiled_step(False) is False


@pytest.mark.slow
def test_transfer_trains_its_head_then_fine_tunes_the_top_blocks(tmp_path, monkeypatch):
    """From ImageNet's weights (the weights stage's file where the project keeps it): phase 1
    leaves the backbone as ported; phase 2 (fine_tune_epochs) trains its top blocks (13-16 and the
    last convolution, by default), and nothing else of it: not the lower blocks, and no batch norm,
    whose ImageNet statistics stay as they were."""
    from stages.lib.architectures import build
    from stages.lib.architectures.transfer import block_of
    from stages.lib.mobilenet_v2 import IMAGENET_SHA256
    from stages.lib.torch_weights import read_state_dict
    from stages.train import make_deterministic
    from tests.test_imagenet import imagenet_weights

    monkeypatch.chdir(tmp_path)
    state = read_state_dict(imagenet_weights(tmp_path / "data/weights"))

    rng = np.random.default_rng(0)
    data = tmp_path / "prepared"
    data.mkdir()
    for split, n in (("train", 24), ("val", 8), ("test", 8)):
        np.save(data / f"x_{split}.npy", rng.uniform(0, 1, (n, 32, 32, 3)).astype(np.float32))
        np.save(data / f"y_{split}.npy", (np.arange(n) % 2).astype(np.int64))
    write_json(data / "metadata.json", {"class_names": ["a", "b"]})

    def weights(model):
        """The backbone's layers that hold weights: name -> (batch norm?, weights)."""
        layers = [layer for layer in model.get_layer("backbone").layers if layer.weights]
        return {layer.name: ("BatchNormalization" in type(layer).__name__, layer.get_weights()) for layer in layers}

    def backbone_after(fine_tune_epochs):
        config = run_config(
            "transfer",
            training={"epochs": 2, "patience": 5, "batch_size": 8, "fine_tune_epochs": fine_tune_epochs},
            weights="imagenet",
            weights_sha256=IMAGENET_SHA256,
            input_size=32,
        )
        out = tmp_path / f"ft{fine_tune_epochs}"
        summary = train(config, data, out / "m.keras", out / "h.csv", out / "s.json")
        return summary, history(out / "h.csv"), weights(load_model(out / "m.keras"))

    def changed(before, after):
        return sorted(name for name in before if not all(map(np.array_equal, before[name][1], after[name][1])))

    make_deterministic(1)
    initial = weights(build("transfer", (32, 32, 3), 2, input_size=32))
    # ImageNet's first convolution, (out, in, h, w) in torch, (h, w, in, out) in Keras.
    assert np.array_equal(initial["Conv1"][1][0], state["features.0.0.weight"].transpose(2, 3, 1, 0))
    summary, rows, frozen = backbone_after(0)
    assert summary["epochs_run"] == 2 and "phase" not in rows[0]
    assert changed(initial, frozen) == [], "the frozen backbone changed"
    summary, rows, tuned = backbone_after(1)
    assert [row["phase"] for row in rows] == ["1.0", "1.0", "2.0"]
    assert float(rows[2]["learning_rate"]) == pytest.approx(1e-5)
    top = sorted(name for name, (batch_norm, _) in initial.items() if block_of(name) >= 13 and not batch_norm)
    assert len(top) == 13  # 4 blocks of expansion, depthwise and projection convolutions, and Conv_1
    assert changed(initial, tuned) == top


def test_a_diverging_run_stops_in_one_line_naming_the_run_and_the_epoch(tiny_data, tmp_path):
    """A NaN loss is an error, not a result: nothing is written for the run but its log."""
    config = run_config("mlp", {"optimizer": "sgd", "learning_rate": 1e30}, units=[32])
    model = tmp_path / "model.keras"
    result = subprocess.run(
        train_command(config, tiny_data, tmp_path, "--live", tmp_path / "live", "--log", tmp_path / "train.log"),
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-3000:]
    assert (
        "error: run tiny_mlp diverged in epoch 1: loss nan, val_loss nan at learning rate 1e+30; "
        "lower the learning rate and run it again"
    ) in errors[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not model.exists() and not (tmp_path / "history.csv").exists() and not (tmp_path / "training.json").exists()
    assert not list((tmp_path / "live").rglob("*.tsv"))  # no diverged epoch logged


def test_evaluate_refuses_a_model_that_gives_nan(tiny_data, tmp_path):
    """A model with NaN weights (a diverged run saved by other means) gets no metrics.json."""
    import keras

    from stages.evaluate import evaluate
    from stages.lib.architectures import build

    model = build("softmax", (8, 8, 1), 3)
    model.set_weights([np.full(w.shape, np.nan, dtype=np.float32) for w in model.get_weights()])
    model.save(tmp_path / "model.keras")
    with pytest.raises(
        ValueError,
        match=r"run tiny_softmax: .*model.keras gives non-finite probabilities for 30 of 30 "
        r"test images \(did training diverge\?\); nothing is written",
    ):
        evaluate(run_config("softmax"), tmp_path / "model.keras", tiny_data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    keras.backend.clear_session()
