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
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from main_job import NOT_COPIED, wall  # noqa: E402  (benchmarks/, this script's folder)

from stages.lib.files import write_json  # noqa: E402
from stages.lib.params import load_params, resolve_runs  # noqa: E402

JOBS = {"main job (README)": ".", "smoke study": "studies/smoke"}


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
                seconds.append(wall(["snakemake", "--cores", "2", "--forceall"], project / folder))
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
