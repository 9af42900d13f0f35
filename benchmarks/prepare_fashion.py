"""Time and peak memory of the prepare stage on the real Fashion-MNIST (Debian's package).

    python benchmarks/prepare_fashion.py [--repeats 3] [--mirror /usr/share/datasets/fashion-mnist] \
        [--out benchmarks/results/prepare_fashion.json]

Downloads once from the Debian mirror (`apt install dataset-fashion-mnist`),
then runs `python -m stages.prepare` (70,000 28x28 images: parse the IDX
files, split off validation by class, scale to float32, write the .npy files,
the sample grid and the class-balance table) `--repeats` times as the pipeline
runs it, in its own process: wall time and peak resident memory (the child's
ru_maxrss) of each, and their medians.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.files import write_json  # noqa: E402
from stages.lib.provenance import package_versions  # noqa: E402


def stage(args: list[str], cwd: Path) -> tuple[float, float]:
    """Run `python -m stages.<...>`; return its wall seconds and peak resident MiB."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", *args], cwd=cwd, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mirror", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default="benchmarks/results/prepare_fashion.json")
    args = parser.parse_args(argv)
    if not Path(args.mirror).is_dir():
        raise SystemExit(f"{args.mirror}: not found; install Debian's dataset-fashion-mnist")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        write_json(scratch / "download.json", {"dataset": "fashion_mnist", "mirror": args.mirror, "folder": None})
        write_json(
            scratch / "prepare.json",
            {
                "seed": 42,
                "val_fraction": 0.15,
                "test_fraction": 0.15,
                "image_size": None,
                "color_mode": None,
                "skip_unreadable": False,
                "train_subsample": None,
            },
        )
        download_s, _ = stage(["stages.download", "--config", "download.json", "--out", "raw"], scratch)
        seconds, peaks = [], []
        for i in range(args.repeats):
            shutil.rmtree(scratch / "prepared", ignore_errors=True)
            wall, peak = stage(
                [
                    "stages.prepare",
                    "--config",
                    "prepare.json",
                    "--raw",
                    "raw",
                    "--out",
                    "prepared",
                    "--samples",
                    "samples.png",
                    "--balance",
                    "balance.csv",
                ],
                scratch,
            )
            seconds.append(wall)
            peaks.append(peak)
            print(f"prepare {i + 1}: {wall:.2f} s, peak {peak:.0f} MiB", flush=True)
        output_mib = sum(p.stat().st_size for p in (scratch / "prepared").iterdir()) / 2**20
    result = {
        "benchmark": "prepare stage on Fashion-MNIST from the Debian mirror (70,000 images)",
        "download_s": round(download_s, 2),
        "repeats": args.repeats,
        "prepare_s": {"median": round(statistics.median(seconds), 2), "runs": [round(s, 2) for s in seconds]},
        "peak_rss_mib": {"median": round(statistics.median(peaks)), "runs": [round(p) for p in peaks]},
        "prepared_mib": round(output_mib, 1),
        "machine": {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))},
        "versions": package_versions(),
    }
    write_json(args.out, result)
    print(f"prepare: median {result['prepare_s']['median']} s, peak {result['peak_rss_mib']['median']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
