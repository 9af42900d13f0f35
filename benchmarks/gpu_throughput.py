"""Training throughput and memory on CIFAR-10-sized data, on whatever device Keras sees.

    KERAS_BACKEND=jax python benchmarks/gpu_throughput.py [--architecture cnn_intro cnn_deep] \
        [--batch-size 128 1024] [--images 50000] [--epochs 4] [--rounds 3] \
        [--out benchmarks/results/gpu_throughput.json]

For each architecture and batch size (a case, each in a fresh process, so that
its peak memory and compilation are its own) this measures:

- pipeline: the train stage's core function (stages.train.train, as the train
  jobs run it: numpy arrays from disk, shuffled, fed by Keras's `fit`, with the
  stage's callbacks) on seeded noise of CIFAR-10's shape (32x32x3, 10 classes;
  the speed does not depend on what is learnt), `--rounds` times: images per
  second of each round's median epoch (validation included, the first epoch,
  which compiles, left out), and their median;
- bare (JAX only): the training step Keras's `fit` compiles for the same
  model (`train_step` under `jax.jit`, loss scaling, metrics and donated
  state included) run back to back on one batch already on the device: the
  accelerator's own speed for that model with no data to feed;
- pipeline / bare: how much of that speed the train stage gets. The
  pipeline's epochs include validation (a tenth of the images, forward only)
  and the bare step has none, so a fully fed accelerator shows a little
  under 1; far under 1 means feeding the data, not the accelerator, is the
  limit;
- the accelerator's peak memory after the pipeline's rounds (JAX: the
  device's peak_bytes_in_use; TensorFlow: get_memory_info's peak; None on a
  CPU).

The issue's target, cnn_intro at batch 1024 at 100,000 images per second or
more, is checked in `target`. A GPU machine here has JAX with CUDA and no
TensorFlow: see docs/running.md#gpus for the wheels to carry.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.files import read_json, write_json  # noqa: E402
from stages.lib.provenance import backend_devices, package_versions  # noqa: E402

TARGET = {"architecture": "cnn_intro", "batch_size": 1024, "images_per_second": 100_000}
SHAPE = (32, 32, 3)


def make_data(folder: Path, images: int) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", images), ("val", max(images // 10, 1)), ("test", 10)):
        np.save(folder / f"x_{split}.npy", rng.uniform(0, 1, (n, *SHAPE)).astype(np.float32))
        np.save(folder / f"y_{split}.npy", (np.arange(n) % 10).astype(np.int64))
    write_json(folder / "metadata.json", {"class_names": [str(i) for i in range(10)]})


def peak_memory_bytes() -> int | None:
    """The accelerator's peak memory in use so far in this process (None on a CPU)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        stats = device.memory_stats() if device.platform != "cpu" else None
        return int(stats["peak_bytes_in_use"]) if stats else None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return int(tf.config.experimental.get_memory_info(gpus[0].name)["peak"]) if gpus else None
    return None


def bare_images_per_second(model, x: np.ndarray, y: np.ndarray, batch_size: int, steps: int, rounds: int):
    """Median images per second over `rounds` of `steps` back-to-back calls of the training step that
    Keras's `fit` compiles for `model` (`train_step` under `jax.jit`, its state donated, as fit does),
    on one batch kept on the device: the accelerator's speed with no data to feed. JAX only (None
    on another backend)."""
    import keras

    if keras.backend.backend() != "jax":
        return None
    import jax

    xb, yb = jax.device_put(x[:batch_size]), jax.device_put(y[:batch_size])
    model.train_on_batch(xb, yb)  # builds the optimizer and the metrics
    step = jax.jit(model.train_step, donate_argnums=0)
    state = tuple(
        [v.value for v in variables]
        for variables in (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
    )
    figures = []
    for _ in range(rounds + 1):  # the first round compiles
        started = time.perf_counter()
        for _ in range(steps):
            logs, state = step(state, (xb, yb))
        jax.block_until_ready(logs)  # JAX dispatches asynchronously: wait for the last step
        figures.append(steps * batch_size / (time.perf_counter() - started))
    return statistics.median(figures[1:])


def measure(architecture: str, batch_size: int, images: int, epochs: int, rounds: int, mixed_precision: bool) -> dict:
    """One case, in this process: the pipeline's rounds, then the bare step of a fresh model built and
    compiled as the train stage builds and compiles it."""
    import keras

    from stages.lib.architectures import build
    from stages.lib.settings import RunSettings
    from stages.train import compile_model, train

    config = RunSettings.from_dict(
        {
            "run": "benchmark",
            "architecture": architecture,
            "model": {},  # each architecture's defaults, as a run that sets none
            "seed": 0,
            "training": {
                "epochs": epochs,
                "batch_size": batch_size,
                "optimizer": "adam",
                "learning_rate": 1e-3,
                "patience": epochs,
                "mixed_precision": mixed_precision,
            },
        }
    )
    per_round = []
    with tempfile.TemporaryDirectory(prefix="gpu-benchmark-") as scratch:
        folder = Path(scratch)
        make_data(folder, images)
        for index in range(rounds):
            summary = train(config, folder, folder / f"m{index}.keras", folder / "h.csv", folder / "s.json")
            per_round.append(summary["images_per_second"])  # the median epoch's, the first left out
            print(f"{architecture}, batch {batch_size}, round {index + 1}: {per_round[-1]:,.0f} images/s", flush=True)
        x, y = (np.load(folder / f"{kind}_train.npy", allow_pickle=False) for kind in "xy")
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")  # as train() does
    model = build(architecture, SHAPE, 10, **config.model)
    compile_model(model, config.training, config.training.learning_rate)
    peak = peak_memory_bytes()  # the pipeline's: before the bare step's buffers
    bare = bare_images_per_second(model, x, y, batch_size, steps=max(images // batch_size, 10), rounds=rounds)
    pipeline = statistics.median(per_round)
    bare = None if bare is None else round(bare, 1)
    return {
        "architecture": architecture,
        "batch_size": batch_size,
        "parameters": summary["parameters"],
        "pipeline_images_per_second_per_round": per_round,
        "pipeline_images_per_second": pipeline,
        "bare_images_per_second": bare,
        "pipeline_to_bare": None if bare is None else round(pipeline / bare, 3),
        "peak_accelerator_memory_bytes": peak,
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", nargs="+", default=["cnn_intro", "cnn_deep"])
    parser.add_argument("--batch-size", nargs="+", type=int, default=[128, 1024])
    parser.add_argument("--images", type=int, default=50_000, help="training images (validation: a tenth)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/gpu_throughput.json")
    parser.add_argument("--one-case", action="store_true", help=argparse.SUPPRESS)  # a child: one case, its dict
    args = parser.parse_args(argv)
    if min(args.batch_size) < 1 or args.images < max(args.batch_size) or args.epochs < 2 or args.rounds < 1:
        parser.error("give batch sizes >= 1, --images >= the largest batch size, --epochs >= 2, --rounds >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    options = ["--images", str(args.images), "--epochs", str(args.epochs), "--rounds", str(args.rounds)]
    options += ["--mixed-precision"] if args.mixed_precision else []
    if args.one_case:
        case = measure(
            args.architecture[0], args.batch_size[0], args.images, args.epochs, args.rounds, args.mixed_precision
        )
        write_json(args.out, {**case, "machine": backend_devices()})
        return 0
    cases = []
    with tempfile.TemporaryDirectory(prefix="gpu-cases-") as scratch:
        for architecture in args.architecture:
            for batch_size in args.batch_size:
                out = Path(scratch) / f"{architecture}-{batch_size}.json"
                command = [sys.executable, __file__, "--one-case", "--architecture", architecture]
                command += ["--batch-size", str(batch_size), "--out", str(out), *options]
                if subprocess.run(command, cwd=ROOT).returncode != 0:
                    print(
                        f"error: the case {architecture} at batch {batch_size} failed (its output is above)",
                        file=sys.stderr,
                    )
                    return 1
                cases.append(read_json(out))
    devices = cases[0].pop("machine")
    for case in cases[1:]:
        case.pop("machine")
    target = next(
        (c for c in cases if (c["architecture"], c["batch_size"]) == (TARGET["architecture"], TARGET["batch_size"])),
        None,
    )
    result = {
        "benchmark": "train stage throughput on CIFAR-10-sized data, pipeline against the bare training step",
        "image_shape": list(SHAPE),
        "images": args.images,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "mixed_precision": args.mixed_precision,
        "cases": cases,
        "target": {
            **TARGET,
            "met": None if target is None else target["pipeline_images_per_second"] >= TARGET["images_per_second"],
        },
        "machine": {"platform": platform.platform(), "processor": platform.processor(), **devices},
        "versions": package_versions(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    for case in cases:
        print(
            json.dumps(
                {
                    k: case[k]
                    for k in (
                        "architecture",
                        "batch_size",
                        "pipeline_images_per_second",
                        "bare_images_per_second",
                        "pipeline_to_bare",
                        "peak_accelerator_memory_bytes",
                    )
                }
            )
        )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
