"""Train stage: build one run's architecture by name and train it.

    python -m stages.train --config configs/cnn_intro.json --data data/prepared \
        --model models/runs/cnn_intro/model.keras \
        --history reports/runs/cnn_intro/training/history.csv \
        --summary reports/runs/cnn_intro/training/training.json \
        --live reports/runs/cnn_intro/training/live --times logs/train/cnn_intro.times.json \
        --log logs/train/cnn_intro.log

The run config (written by the configure stage) holds the architecture, its
arguments, the training settings and the seed. Early stopping (best weights
kept), optional reduce-on-plateau and augmentation; a killed run resumes
after its last finished epoch. Writes the model, the per-epoch history
(metrics and learning rate), a summary (parameter count, epochs, backend and
devices), and dvclive's folder, updated after every epoch. Wall-clock times
(each epoch's, the total, images per second) and the peak memory go to
--times, beside the log: they differ on every rerun, so they are kept out of
the results that git and DVC track.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from stages.lib.backend import check_keras_backend
from stages.lib.devices import claim_gpu, has_gpu
from stages.lib.errors import PipelineError
from stages.lib.files import atomic_path, read_json, write_json, write_text
from stages.lib.joblog import run_stage
from stages.lib.layout import AUGMENTATION, LIVE_METRICS
from stages.lib.settings import RunSettings, TrainingSettings
from stages.lib.splits import first_of_training_pool, load_split, read_metadata


class TrainingError(PipelineError):
    """The run cannot train as configured here (no GPU for require_gpu, a diverging loss)."""


class Diverged(TrainingError):
    """Training produced a non-finite loss: the run's results would be meaningless."""


def make_deterministic(seed: int) -> None:
    """Seed every generator and ask the backend for deterministic kernels."""
    import keras

    keras.backend.clear_session()  # layer names restart at conv2d, dense, ...: same config, same file
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def make_optimizer(name: str, learning_rate: float):
    import keras

    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return optimizers[name](learning_rate=learning_rate)


def history_csv(history: dict[str, list[float]]) -> str:
    columns = sorted(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *columns])
    for epoch, values in enumerate(zip(*(history[c] for c in columns), strict=True), start=1):
        writer.writerow([epoch, *(repr(float(v)) for v in values)])
    return out.getvalue()


def _renumber_shared_objects(node, numbers=None):
    """Replace memory-address `shared_object_id`s by 1, 2, ... in order of appearance."""
    numbers = {} if numbers is None else numbers
    if isinstance(node, dict):
        return {
            key: numbers.setdefault(value, len(numbers) + 1)
            if key == "shared_object_id"
            else _renumber_shared_objects(value, numbers)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_objects(value, numbers) for value in node]
    return node


def save_model(model, path) -> None:
    """Save a .keras file whose bytes depend only on the model.

    Keras stamps the save time into metadata.json and onto the zip entries,
    and numbers shared objects in config.json by their memory address; the
    times are dropped and the numbers made sequential, so that retraining with
    the same seed gives the same file and DVC's and Snakemake's content checks
    agree.
    """
    with tempfile.TemporaryDirectory() as scratch, atomic_path(path, suffix=".keras") as tmp:
        plain = Path(scratch) / "model.keras"
        model.save(plain)
        with zipfile.ZipFile(plain) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for entry in source.infolist():
                data = source.read(entry)
                if entry.filename == "metadata.json":
                    metadata = json.loads(data)
                    metadata.pop("date_saved", None)
                    data = json.dumps(metadata, sort_keys=True).encode()
                elif entry.filename == "config.json":
                    data = json.dumps(_renumber_shared_objects(json.loads(data))).encode()
                target.writestr(
                    zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0)),
                    data,
                    compress_type=entry.compress_type,
                )


def augmentation(settings: dict, seed: int):
    """Keras preprocessing layers for the run's `augment` settings (active only in training)."""
    import keras
    from keras import layers

    steps = []
    if settings.get("flip"):
        steps.append(layers.RandomFlip(settings["flip"], seed=seed))
    if settings.get("translation"):
        steps.append(layers.RandomTranslation(settings["translation"], settings["translation"], seed=seed))
    if settings.get("rotation"):
        steps.append(layers.RandomRotation(settings["rotation"], seed=seed))
    if settings.get("zoom"):
        steps.append(layers.RandomZoom(settings["zoom"], seed=seed))
    return keras.Sequential(steps, name=AUGMENTATION)


class LiveLog:
    """dvclive's folder for one run, written after every epoch: a TSV per metric
    (plots/metrics/<name>.tsv: step, value) and the summary metrics.json (the last
    epoch's values and its step), by dvclive's own writers.

    Not through `dvclive.Live`: in a git repository without commits it stops training
    with an error, in one without DVC it runs `dvc init`, and its Keras callback imports
    TensorFlow (no JAX or PyTorch backend). The folder is started afresh and a resumed
    run's saved epochs are logged again first, so it holds the same bytes as an
    uninterrupted run's; no timestamps.
    """

    def __init__(self, folder, rows: list[dict]):
        from dvclive.plots import Metric
        from dvclive.serialize import dump_json

        self.dump_json = dump_json
        self.folder = Path(folder)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.metrics = {key: Metric(name, str(self.folder / "plots")) for key, name in LIVE_METRICS.items()}
        self.summary: dict = {}
        for row in rows:
            self.log(row)

    def log(self, row: dict) -> None:
        step = self.summary.get("step", -1) + 1
        for key, metric in self.metrics.items():
            metric.step = step
            metric.dump(row[key])
            # Nested as dvclive.Live fills its summary: {"train": {"loss": ...}}.
            *parents, last = metric.summary_keys
            node = self.summary
            for parent in parents:
                node = node.setdefault(parent, {})
            node[last] = row[key]
        self.summary["step"] = step
        self.dump_json(self.summary, self.folder / "metrics.json")


def divergence_guard(run: str):
    """A callback that stops training after the first epoch whose loss or val_loss is NaN or
    infinite, naming the run and the epoch. It runs before the checkpoint, so no diverged
    epoch is saved or logged."""
    import keras

    class Callback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            bad = [
                f"{key} {float(value)}"
                for key, value in (logs or {}).items()
                if key in ("loss", "val_loss") and not math.isfinite(float(value))
            ]
            if bad:
                rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                raise Diverged(
                    f"run {run} diverged in epoch {epoch + 1}: {', '.join(bad)} at learning rate "
                    f"{rate:g}; lower the learning rate and run it again"
                )

    return Callback()


def epoch_line(epoch: int, epochs: int, row: dict) -> str:
    """One console and log line per epoch: its metrics (4 significant digits) and wall time."""
    shown = [f"{key} {value:.4g}" for key, value in row.items() if key not in ("phase", "seconds")]
    return f"Epoch {epoch}/{epochs}: {', '.join(shown)} ({row['seconds']:.0f} s)"


class Checkpoint:
    """Resume a killed run: after every epoch the model (with its optimizer state) and the
    per-epoch log (metrics, learning rate, wall time) are written atomically beside the
    model file; a rerun with the same config continues after the last saved epoch.
    Keras' BackupAndRestore writes its backup in place, and a kill during that write
    leaves a file that stops the rerun, so this does the same with atomic writes."""

    def __init__(self, model_path, config: dict):
        self.model_file = Path(f"{model_path}.backup.keras")
        self.log_file = Path(f"{model_path}.progress.json")
        self.config = config
        saved = read_json(self.log_file) if self.log_file.exists() else None
        # A backup made for other settings is worthless: start again.
        self.resumable = bool(saved and saved["config"] == config and self.model_file.exists())
        self.rows = saved["rows"] if self.resumable else []

    def callback(self, phase: int, live: LiveLog | None):
        import keras

        checkpoint = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                checkpoint.rows.append(
                    {
                        **{k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"},
                        "learning_rate": rate,
                        "phase": phase,
                        "seconds": time.perf_counter() - self.started,
                    }
                )
                # Model first: killed in between, the rerun repeats this epoch.
                with atomic_path(checkpoint.model_file, suffix=".keras") as tmp:
                    self.model.save(tmp)
                write_json(checkpoint.log_file, {"config": checkpoint.config, "rows": checkpoint.rows})
                if live:
                    live.log(checkpoint.rows[-1])
                print(epoch_line(epoch + 1, self.params["epochs"], checkpoint.rows[-1]), flush=True)

        return Callback()

    def remove(self) -> None:
        self.model_file.unlink(missing_ok=True)
        self.log_file.unlink(missing_ok=True)


def train(
    config: RunSettings, data_dir, model_path, history_path, summary_path, live_dir=None, times_path=None
) -> dict:
    """Train the run described by `config`; write model, history, summary (and dvclive's folder
    and the times where given); return the summary with the times.

    A killed run resumes from its last completed epoch when started again with the
    same config (see Checkpoint; its files beside the model are removed at the end).
    """
    check_keras_backend(training=True)
    import keras

    make_deterministic(config.seed)
    devices = check_devices(config)
    keras.mixed_precision.set_global_policy("mixed_float16" if config.training.mixed_precision else "float32")
    if config.training.train_first:
        train_data, val_data = first_of_training_pool(data_dir, config.training.train_first)
    else:
        train_data, val_data = (load_split(data_dir, split, mmap=False) for split in ("train", "val"))
    num_classes = len(read_metadata(data_dir)["class_names"])

    checkpoint = Checkpoint(model_path, config.to_dict())
    model = resume_or_build(config, checkpoint, train_data[0].shape[1:], num_classes)
    print(
        f"run {config.run}: {config.architecture}, {model.count_params():,} parameters, "
        f"{len(train_data[0])} training images"
        + (f"; resuming after epoch {len(checkpoint.rows)}" if checkpoint.resumable else ""),
        flush=True,
    )
    live = LiveLog(live_dir, checkpoint.rows) if live_dir else None
    started = time.perf_counter()
    stop = fit_phases(model, config, checkpoint, live, train_data, val_data)
    seconds = time.perf_counter() - started

    summary, times = write_results(
        config,
        model,
        checkpoint.rows,
        stop,
        devices,
        seconds,
        len(train_data[0]),
        history_path,
        summary_path,
        times_path,
    )
    # The model last: the runners see train's reports as one folder, which exists from the first
    # epoch (dvclive's files), so a model on disk must mean every file beside it is written.
    save_model(model, model_path)
    checkpoint.remove()
    keras.mixed_precision.set_global_policy("float32")
    print(
        f"run {config.run}: {len(checkpoint.rows)} epochs in {seconds:.1f} s, "
        f"{times['images_per_second']:,.0f} images/s (median epoch), peak memory {times['peak_memory_mb']:,.0f} MB",
        flush=True,
    )
    return {**summary, **times}


def check_devices(config: RunSettings) -> dict:
    """The backend and its devices (printed); refuse a run that requires a GPU where none is seen."""
    from stages.lib.provenance import backend_devices

    devices = backend_devices()
    print(f"run {config.run}: {devices['backend']} backend, devices {', '.join(devices['devices'])}", flush=True)
    if config.training.require_gpu and not has_gpu(devices["devices"]):
        raise TrainingError(
            f"run {config.run} sets require_gpu but the {devices['backend']} backend sees no GPU "
            f"(devices: {', '.join(devices['devices'])}; CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})"
        )
    return devices


STEPS_PER_EXECUTION = 32


def compile_model(model, training: TrainingSettings, learning_rate: float) -> None:
    import keras

    model.compile(
        optimizer=make_optimizer(training.optimizer, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # Under JAX the step is always compiled (XLA is JAX's compiler): without it JAX runs the step
        # op by op, 1.5 to 2.3 times slower on a CPU (cnn_intro, softmax at batch 1024), worse on a GPU.
        jit_compile=training.jit_compile or keras.backend.backend() == "jax",
        # Up to 32 batches per call into the backend, not one: the same updates in the same
        # order (the weights come out identical), without Python's overhead between small
        # batches. Every callback here acts at the end of an epoch, which this leaves alone.
        steps_per_execution=STEPS_PER_EXECUTION,
    )


def resume_or_build(config: RunSettings, checkpoint: Checkpoint, input_shape, num_classes: int):
    """The checkpoint's model (compiled, with the optimizer's state), or the architecture built afresh
    (behind the augmentation layers, if any) and compiled."""
    import keras

    from stages.lib.architectures import build

    if checkpoint.resumable:
        from stages.lib.layers import load_model

        return load_model(checkpoint.model_file)
    model = build(config.architecture, input_shape, num_classes, **config.model)
    if config.training.augment:
        model = keras.Sequential(
            [keras.Input(input_shape), augmentation(config.training.augment, config.seed), model], name=model.name
        )
    compile_model(model, config.training, config.training.learning_rate)
    return model


def fit_phases(model, config: RunSettings, checkpoint: Checkpoint, live, train_data, val_data):
    """Phase 1: as built (transfer's backbone frozen). Phase 2 (fine_tune_epochs): what the
    architecture's fine-tuning trains (stages.lib.architectures.fine_tune; transfer: its top blocks),
    at fine_tune_learning_rate. A run resumed in phase 2 skips phase 1.
    Returns the last phase's early-stopping callback (its best epoch's weights are kept)."""
    import keras

    from stages.lib.architectures import fine_tune

    training = config.training

    def fit(phase: int, epochs: int):
        """Train until `epochs` (counted from the first epoch of the run) or early stopping."""
        stop = keras.callbacks.EarlyStopping(
            monitor=training.monitor, patience=training.patience, restore_best_weights=True
        )
        plateau = (
            [
                keras.callbacks.ReduceLROnPlateau(
                    monitor=training.monitor, patience=training.reduce_lr_patience, factor=training.reduce_lr_factor
                )
            ]
            if training.reduce_lr_patience
            else []
        )
        # The guard first: a diverged epoch stops training before anything saves or logs it.
        callbacks = [divergence_guard(config.run), stop, *plateau, checkpoint.callback(phase, live)]
        model.fit(
            *train_data,
            validation_data=val_data,
            epochs=epochs,
            batch_size=training.batch_size,
            callbacks=callbacks,
            initial_epoch=len(checkpoint.rows),
            verbose=0,  # Keras' two lines an epoch: Checkpoint prints one instead
        )
        return stop

    in_phase_2 = any(row.get("phase") == 2 for row in checkpoint.rows)
    if not in_phase_2:
        stop = fit(1, training.epochs)
    if training.fine_tune_epochs:
        if not in_phase_2:
            fine_tune(config.architecture, model, **config.model)
            compile_model(model, training, training.fine_tune_learning_rate)
            trained = sum(math.prod(weight.shape) for weight in model.trainable_weights)
            print(f"fine-tuning {trained:,} of {model.count_params():,} parameters", flush=True)
        first_phase = sum(row.get("phase") == 1 for row in checkpoint.rows)
        stop = fit(2, first_phase + training.fine_tune_epochs)
    return stop


def write_results(
    config: RunSettings,
    model,
    rows: list[dict],
    stop,
    devices: dict,
    seconds: float,
    train_images: int,
    history_path,
    summary_path,
    times_path,
) -> tuple[dict, dict]:
    """Write the per-epoch history, the summary and (untracked) the times; return summary and times."""
    # The phase column only where there are two.
    skip = {"seconds"} | (set() if config.training.fine_tune_epochs else {"phase"})
    history = {key: [row[key] for row in rows] for key in rows[0] if key not in skip}
    write_text(history_path, history_csv(history))
    summary = {
        "run": config.run,
        "architecture": config.architecture,
        "parameters": int(model.count_params()),
        "epochs_run": len(rows),
        "best_epoch": int(stop.best_epoch) + 1,  # its weights are the ones saved
        **devices,
    }
    timed = [row["seconds"] for row in rows]
    steady = timed[1:] or timed  # the first epoch also traces and compiles
    times = {
        "training_seconds": round(seconds, 3),
        "epoch_seconds": [round(t, 3) for t in timed],
        "images_per_second": round(train_images / float(np.median(steady)), 1),  # median epoch
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # Linux: KiB
    }
    write_json(summary_path, summary)
    if times_path:
        write_json(times_path, {"run": config.run, **times})
    return summary, times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="run config JSON from the configure stage")
    parser.add_argument("--data", required=True, help="prepared data folder")
    parser.add_argument("--model", required=True, help="output .keras file")
    parser.add_argument("--history", required=True, help="output per-epoch CSV")
    parser.add_argument("--summary", required=True, help="output JSON: parameters, epochs, backend")
    parser.add_argument("--live", help="dvclive's folder: per-epoch metrics, updated while training")
    parser.add_argument("--times", help="output JSON, not a tracked result: wall time per epoch, images/s")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)

    def body():
        gpu = claim_gpu()  # before Keras starts: the job sees only its GPU
        if gpu is not None:
            print(f"training on GPU {gpu} (CUDA_VISIBLE_DEVICES)", flush=True)
        train(
            RunSettings.from_json(args.config), args.data, args.model, args.history, args.summary, args.live, args.times
        )

    # configs/<run>.json: the console lines of the job start with the run's name.
    resume = "run it again to resume after the last finished epoch"  # the Checkpoint of each epoch
    return run_stage(body, args.log, prefix=Path(args.config).stem, interrupted=resume)


if __name__ == "__main__":
    sys.exit(main())
