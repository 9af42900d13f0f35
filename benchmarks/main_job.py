"""Where the README's main job spends its time: fitting, predicting, imports and start-up, the runner, the rest.

    python benchmarks/main_job.py [--repeats 3] [--out benchmarks/results/main_job.json]

Runs the main job (`snakemake --forceall`) on a copy of this project, --repeats
times, with one job at a time (`--cores 1`) so that its parts add up to its
wall time, and splits that time into:

- fit: `model.fit` in the train jobs (training_seconds of logs/train/<run>.times.json);
- predict: each run's model predicting the test split once, as evaluate does,
  timed here on the freshly loaded model (tracing included);
- imports and start-up: per job, a Python process importing the stage's module
  and, for the stages that use it (train, evaluate, package), Keras;
- runner: the wall time of `snakemake` less the sum of its jobs', each job's
  command (from `snakemake --dry-run --forceall`) run and timed here in turn
  (a `benchmark:` file per job would be an output DVC does not write, and
  Snakemake would rerun what DVC ran);
- the rest: the jobs' time less the three above: reading and writing files,
  figures, the report's notebook and HTML, the package and its ONNX export.

Also times one run of the job as the README runs it (`--cores 2`).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.codedeps import code_files  # noqa: E402
from stages.lib.files import read_json, write_json  # noqa: E402
from stages.lib.layout import CODE_STAGES  # noqa: E402
from stages.lib.params import load_params, resolve_runs  # noqa: E402
from stages.lib.provenance import package_versions  # noqa: E402

# The environment and caches, and the Fashion-MNIST study's data (the main job reads none of them).
NOT_COPIED = (".venv", ".tools", ".pytest_cache", "cache", "dvc_plots", "__pycache__", ".snakemake", "logs")
NOT_COPIED += ("fashion-mnist",)
KERAS_STAGES = {stage for stage in CODE_STAGES if "stages/lib/layers.py" in code_files(stage)}  # load models


def wall(args, cwd, env=None) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def startup_seconds(stage: str, repeats: int) -> float:
    """Median wall time of a Python process that imports what a `stage` job imports before its work."""
    code = f"import stages.{stage}" + ("; import keras" if stage in KERAS_STAGES else "")
    return statistics.median(wall([sys.executable, "-c", code], ROOT) for _ in range(repeats))


def predict_seconds(project: Path) -> float:
    """Each run's model predicting the test split once, as evaluate does (in this process)."""
    from stages.lib.layers import load_model
    from stages.lib.scores import predict_probabilities
    from stages.lib.splits import load_split

    x_test, _ = load_split(project / "data" / "prepared", "test", mmap=False)
    total = 0.0
    for model_path in sorted((project / "models" / "runs").glob("*/model.keras")):
        model = load_model(model_path)
        start = time.perf_counter()
        predict_probabilities(model, x_test)
        total += time.perf_counter() - start
    return total


def job_seconds(project: Path) -> dict[str, float]:
    """Stage -> the summed wall seconds of its jobs, each job's shell command run in the order of
    Snakemake's dry run (which lists jobs in an order that runs)."""
    dry_run = subprocess.run(
        ["snakemake", "--dry-run", "--forceall", "--nocolor"], cwd=project, check=True, capture_output=True, text=True
    ).stdout
    seconds: dict[str, float] = {}
    stage = None
    for line in dry_run.splitlines():
        if match := re.match(r"(?:local)?rule (\w+):$", line):
            stage = match[1]
        elif line.startswith("Shell command: ") and stage != "all":
            seconds[stage] = seconds.get(stage, 0.0) + wall(
                ["bash", "-c", line.removeprefix("Shell command: ")], project
            )
    return seconds


def one_run(project: Path, startup: dict[str, float], jobs_per_stage: dict[str, int]) -> dict:
    total = wall(["snakemake", "--cores", "1", "--forceall"], project)
    jobs = job_seconds(project)
    fit = sum(read_json(p)["training_seconds"] for p in (project / "logs" / "train").glob("*.times.json"))
    predict = predict_seconds(project)
    imports = sum(startup[stage] * jobs_per_stage[stage] for stage in jobs)
    parts = {
        "fit": fit,
        "predict": predict,
        "imports_and_startup": imports,
        "runner": total - sum(jobs.values()),
        "rest": sum(jobs.values()) - fit - predict - imports,
    }
    return {"total_s": total, "jobs_s": jobs, "parts_s": parts}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/main_job.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(ROOT, project, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
        runs = len(resolve_runs(load_params(project / "params.yaml")))
        jobs_per_stage = {stage: runs if stage in ("train", "evaluate") else 1 for stage in CODE_STAGES}
        startup = {stage: startup_seconds(stage, 3) for stage in jobs_per_stage}
        readme = wall(["snakemake", "--cores", "2", "--forceall"], project)
        measured = []
        for i in range(args.repeats):
            print(f"main job, one job at a time: run {i + 1} of {args.repeats}", flush=True)
            measured.append(one_run(project, startup, jobs_per_stage))
    total = statistics.median(m["total_s"] for m in measured)
    parts = {key: round(statistics.median(m["parts_s"][key] for m in measured), 2) for key in measured[0]["parts_s"]}
    result = {
        "benchmark": "the main job's wall time, split (snakemake --cores 1 --forceall; median seconds)",
        "repeats": args.repeats,
        "runs": runs,
        "total_s": round(total, 2),
        "parts_s": parts,
        "shares": {key: round(value / total, 3) for key, value in parts.items()},
        "jobs_s": {k: round(statistics.median(m["jobs_s"][k] for m in measured), 2) for k in measured[0]["jobs_s"]},
        "startup_s_per_job": {k: round(v, 2) for k, v in startup.items()},
        "readme_command_s": round(readme, 2),
        "machine": {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))},
        "versions": package_versions(),
    }
    write_json(args.out, result)
    print(result["parts_s"], result["shares"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
