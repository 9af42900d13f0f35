"""Training throughput: the pipeline's train stage against a bare Keras script.

    python benchmarks/train_throughput.py [--images 10000] [--epochs 6] [--rounds 2] \
        [--out benchmarks/results/train_throughput.json]

Both train the Carpentries intro CNN (Conv16-Pool-Conv32-Pool-Dense64-Dense)
on the same MNIST-shaped images (28x28x1, 10 classes, seeded noise: the
speed does not depend on what is learnt) with the same batch size, in this one
process, alternating bare and pipeline rounds so that drift hits both. The
figure is images per second of the median epoch, the first epoch of each
round left out (it also traces and compiles). The pipeline adds its
callbacks (early stopping, the per-epoch atomic checkpoint, the epoch log)
and deterministic ops; the target is at least 0.95 of the bare script.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stages.lib.files import write_json
from stages.lib.provenance import backend_devices, package_versions
from stages.lib.settings import RunSettings
from stages.train import train

BATCH = 128


def make_data(folder: Path, images: int) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", images), ("val", images // 10), ("test", 10)):
        np.save(folder / f"x_{split}.npy", rng.uniform(0, 1, (n, 28, 28, 1)).astype(np.float32))
        np.save(folder / f"y_{split}.npy", (np.arange(n) % 10).astype(np.int64))
    write_json(folder / "metadata.json", {"class_names": [str(i) for i in range(10)]})


def bare_keras(folder: Path, epochs: int) -> tuple[list[float], int]:
    """What a researcher would write by hand: build, compile, fit, time each epoch."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    x, y = np.load(folder / "x_train.npy", allow_pickle=False), np.load(folder / "y_train.npy", allow_pickle=False)
    xv, yv = np.load(folder / "x_val.npy", allow_pickle=False), np.load(folder / "y_val.npy", allow_pickle=False)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.started)

    model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=BATCH, callbacks=[Timer()], verbose=0)
    return times, model.count_params()


def pipeline(folder: Path, epochs: int) -> tuple[list[float], int]:
    """The train stage's core function, as `python -m stages.train` runs it."""
    out = folder / "pipeline"
    config = RunSettings.from_dict(
        {
            "run": "bench",
            "architecture": "cnn_intro",
            "model": {},
            "seed": 1,
            "training": {
                "epochs": epochs,
                "batch_size": BATCH,
                "optimizer": "adam",
                "learning_rate": 0.001,
                "patience": epochs,
            },
        }
    )
    summary = train(config, folder, out / "model.keras", out / "history.csv", out / "training.json")
    return summary["epoch_seconds"], summary["parameters"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/train_throughput.json")
    args = parser.parse_args(argv)
    epochs = {"bare": [], "pipeline": []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_data(folder, args.images)
        for round_ in range(args.rounds):
            for name, runner in (("bare", bare_keras), ("pipeline", pipeline)):
                times, parameters = runner(folder, args.epochs)
                epochs[name] += times[1:]
                print(
                    f"round {round_ + 1} {name}: {parameters:,} parameters, epochs "
                    + ", ".join(f"{t:.2f}" for t in times)
                    + " s",
                    flush=True,
                )
    rate = {name: args.images / statistics.median(times) for name, times in epochs.items()}
    result = {
        "benchmark": "training throughput, train stage vs bare Keras, same process",
        "model": "cnn_intro (28x28x1, 10 classes)",
        "images": args.images,
        "batch_size": BATCH,
        "epochs_per_round": args.epochs,
        "rounds": args.rounds,
        "images_per_second_median": {name: round(value, 1) for name, value in rate.items()},
        "epoch_seconds": {name: [round(t, 3) for t in times] for name, times in epochs.items()},
        "ratio_pipeline_to_bare": round(rate["pipeline"] / rate["bare"], 3),
        "target_ratio": 0.95,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), **backend_devices()},
        "versions": package_versions(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("images_per_second_median", "ratio_pipeline_to_bare")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
