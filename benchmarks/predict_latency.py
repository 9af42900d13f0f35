"""How fast the commands a person types answer: predict on one image, and every command's --help.

    python benchmarks/predict_latency.py [--repeats 5] [--out benchmarks/results/predict_latency.json]

`python -m stages.predict models/package.tar.gz IMAGE` on one image of
examples/drawn-digits, with the package's ONNX export in onnxruntime (the
default) and with the Keras model (`--engine keras`); then `python -m
stages.<name> --help` for every command. Median wall seconds of --repeats
fresh processes each (targets: predict 3 s, --help 1 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.files import write_json  # noqa: E402
from stages.lib.provenance import package_versions  # noqa: E402

PACKAGE = "models/package.tar.gz"
IMAGE = "examples/drawn-digits/0.png"


def median_wall(args, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return round(statistics.median(seconds), 3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/predict_latency.json")
    args = parser.parse_args(argv)
    predict = [sys.executable, "-m", "stages.predict", PACKAGE, IMAGE, "--invert"]
    commands = sorted(p.stem for p in (ROOT / "stages").glob("*.py") if p.stem != "__init__")
    result = {
        "benchmark": "predict on one image and --help of every command (median wall seconds of fresh processes)",
        "repeats": args.repeats,
        "predict_one_image_s": {
            "onnxruntime": median_wall(predict, args.repeats),
            "keras": median_wall([*predict, "--engine", "keras"], args.repeats),
        },
        "help_s": {
            name: median_wall([sys.executable, "-m", f"stages.{name}", "--help"], args.repeats) for name in commands
        },
        "targets_s": {"predict": 3.0, "help": 1.0},
        "machine": {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))},
        "versions": package_versions(),
    }
    write_json(args.out, result)
    print(result["predict_one_image_s"], max(result["help_s"].values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
