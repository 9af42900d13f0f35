"""Training throughput and memory of one architecture on CIFAR-10-sized data, on whatever device Keras sees.

    python benchmarks/gpu_throughput.py [--architecture cnn_deep] [--images 20000] [--epochs 4] \
        [--batch-size 128] [--rounds 3] [--out benchmarks/results/gpu_throughput.json]
    KERAS_BACKEND=jax python benchmarks/gpu_throughput.py     # where TensorFlow is not installed

Runs the pipeline's train stage (stages.train.train, as the train jobs run it)
on seeded noise of CIFAR-10's shape (32x32x3, 10 classes; the speed does not
depend on what is learnt) `--rounds` times, and writes the images per second
of each round's median epoch (the first epoch, which compiles, left out), their
median over the rounds, the devices, and the accelerator's peak memory
(JAX: the device's peak_bytes_in_use; TensorFlow: get_memory_info's peak).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stages.lib.files import write_json
from stages.lib.provenance import backend_devices, package_versions
from stages.lib.settings import RunSettings
from stages.train import train


def make_data(folder: Path, images: int) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", images), ("val", images // 10), ("test", 10)):
        np.save(folder / f"x_{split}.npy", rng.uniform(0, 1, (n, 32, 32, 3)).astype(np.float32))
        np.save(folder / f"y_{split}.npy", (np.arange(n) % 10).astype(np.int64))
    write_json(folder / "metadata.json", {"class_names": [str(i) for i in range(10)]})


def peak_memory_bytes() -> int | None:
    """The accelerator's peak memory in use so far (None on a CPU)."""
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="cnn_deep")
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/gpu_throughput.json")
    args = parser.parse_args(argv)
    config = RunSettings.from_dict(
        {
            "run": "benchmark",
            "architecture": args.architecture,
            "model": {"padding": "same"},
            "seed": 0,
            "training": {
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "optimizer": "adam",
                "learning_rate": 1e-3,
                "patience": args.epochs,
                "mixed_precision": args.mixed_precision,
            },
        }
    )
    rounds = []
    with tempfile.TemporaryDirectory(prefix="gpu-benchmark-") as scratch:
        folder = Path(scratch)
        make_data(folder, args.images)
        for index in range(args.rounds):
            summary = train(config, folder, folder / f"m{index}.keras", folder / "h.csv", folder / "s.json")
            steady = summary["epoch_seconds"][1:] or summary["epoch_seconds"]
            rounds.append(round(args.images / statistics.median(steady), 1))
            print(f"round {index + 1}: {rounds[-1]:,.0f} images/s", flush=True)
    result = {
        "benchmark": "train stage throughput on CIFAR-10-sized data",
        "architecture": args.architecture,
        "parameters": summary["parameters"],
        "images": args.images,
        "image_shape": [32, 32, 3],
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "mixed_precision": args.mixed_precision,
        "images_per_second_per_round": rounds,
        "images_per_second_median": statistics.median(rounds),
        "peak_accelerator_memory_bytes": peak_memory_bytes(),
        **backend_devices(),
        "versions": package_versions(),
    }
    write_json(args.out, result)
    print(
        f"{args.architecture}: median {result['images_per_second_median']:,.0f} images/s over {args.rounds} "
        f"rounds on {', '.join(result['devices'])}; written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
