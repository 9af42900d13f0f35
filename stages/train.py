"""Train stage: build one run's architecture by name and train it with early stopping.

    python -m stages.train --config configs/cnn_intro.json --data data/prepared \
        --model models/runs/cnn_intro/model.keras \
        --history reports/runs/cnn_intro/history.csv \
        --summary reports/runs/cnn_intro/training.json

The run config (written by the configure stage) holds the architecture, its
arguments, the training settings and the seed. Writes the model, the
per-epoch history, and a summary with the parameter count and training time.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from stages.files import atomic_path, read_json, write_json, write_text
from stages.prepared import load_split


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

    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                  "rmsprop": keras.optimizers.RMSprop}
    return optimizers[name](learning_rate=learning_rate)


def history_csv(history: dict[str, list[float]]) -> str:
    columns = sorted(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *columns])
    for epoch, values in enumerate(zip(*(history[c] for c in columns)), start=1):
        writer.writerow([epoch, *(repr(float(v)) for v in values)])
    return out.getvalue()


def _renumber_shared_objects(node, numbers=None):
    """Replace memory-address `shared_object_id`s by 1, 2, ... in order of appearance."""
    numbers = {} if numbers is None else numbers
    if isinstance(node, dict):
        return {key: numbers.setdefault(value, len(numbers) + 1) if key == "shared_object_id"
                else _renumber_shared_objects(value, numbers) for key, value in node.items()}
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
                target.writestr(zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0)), data,
                                compress_type=entry.compress_type)


def train(config: dict, data_dir, model_path, history_path, summary_path) -> dict:
    """Train the run described by `config`; write model, history and summary; return the summary."""
    import keras

    from stages.architectures import build
    from stages.provenance import backend_devices

    make_deterministic(config["seed"])
    settings = config["training"]
    x_train, y_train = load_split(data_dir, "train", mmap=False)
    x_val, y_val = load_split(data_dir, "val", mmap=False)
    num_classes = len(read_json(f"{data_dir}/metadata.json")["class_names"])

    model = build(config["architecture"], x_train.shape[1:], num_classes, **config["model"])
    model.compile(
        optimizer=make_optimizer(settings["optimizer"], settings["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=settings["patience"], restore_best_weights=True
    )
    print(f"run {config['run']}: {config['architecture']}, {model.count_params():,} parameters, "
          f"{len(x_train)} training images", flush=True)
    started = time.perf_counter()
    fit = model.fit(
        x_train, y_train,
        validation_data=(x_val, y_val),
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        callbacks=[stop],
        verbose=2,  # one line per epoch: readable in a log file
    )
    seconds = time.perf_counter() - started
    epochs_run = len(fit.history["loss"])

    save_model(model, model_path)
    write_text(history_path, history_csv(fit.history))
    summary = {
        "run": config["run"],
        "architecture": config["architecture"],
        "parameters": int(model.count_params()),
        "epochs_run": epochs_run,
        "best_epoch": int(stop.best_epoch) + 1,  # its weights are the ones saved
        "training_seconds": round(seconds, 3),
        "images_per_second": round(epochs_run * len(x_train) / seconds, 1),
        **backend_devices(),
    }
    write_json(summary_path, summary)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="run config JSON from the configure stage")
    parser.add_argument("--data", required=True, help="prepared data folder")
    parser.add_argument("--model", required=True, help="output .keras file")
    parser.add_argument("--history", required=True, help="output per-epoch CSV")
    parser.add_argument("--summary", required=True, help="output JSON: parameters, time")
    args = parser.parse_args(argv)
    try:
        train(read_json(args.config), args.data, args.model, args.history, args.summary)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
