"""The wall time of the README's main job and of the smoke study, as a user runs them.

    python benchmarks/readme_jobs.py [--repeats 3] [--out benchmarks/results/readme_jobs.json]

Each is `snakemake --cores 2 --forceall` (every job, two at a time, as the README's
`snakemake --cores all` does on 2 cores) in a copy of this project, --repeats times; the
median and every run's time are written. The environment is installed already (the README's
first command also runs `bash setup.sh`, whose time depends on uv's cache, not on the
pipeline). benchmarks/main_job.py splits the main job's time into its parts.
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
from stages.lib.params import load_params, resolve_runs  # noqa: E402

# The environment and caches, and the Fashion-MNIST study's data (neither job reads them).
NOT_COPIED = (".venv", ".tools", ".pytest_cache", "cache", "dvc_plots", "__pycache__", ".snakemake", "logs")
NOT_COPIED += ("fashion-mnist",)
JOBS = {"main job (README)": ".", "smoke study": "studies/smoke"}


def timed_run(folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["snakemake", "--cores", "2", "--forceall"], cwd=folder, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/readme_jobs.json")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(ROOT, project, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
        for name, folder in JOBS.items():
            seconds = []
            for i in range(args.repeats):
                seconds.append(timed_run(project / folder))
                print(f"{name}: run {i + 1} of {args.repeats}: {seconds[-1]:.1f} s", flush=True)
            runs = len(resolve_runs(load_params(project / folder / "params.yaml")))
            results[name] = {
                "folder": folder,
                "runs": runs,
                "median_s": round(statistics.median(seconds), 1),
                "seconds": [round(s, 1) for s in seconds],
            }
    write_json(
        Path(args.out),
        {
            "benchmark": "snakemake --cores 2 --forceall, wall seconds (the environment installed)",
            "repeats": args.repeats,
            "jobs": results,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
