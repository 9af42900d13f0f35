"""What the runners themselves cost, against their floor: no-op reruns and status as the run grid grows.

    python benchmarks/runner_overhead.py [--repeats 5] [--grids 200 500] [--dag-runs 2000] \
        [--out benchmarks/results/runner_overhead.json]

No-op rerun: `snakemake --cores 2` and `dvc repro` when everything is up to
date, on a copy of this project with its results (the default grid; the copy
is brought up to date first, which retrains where the results are stale) and
on generated grids of each of `--grids` runs, with `snakemake -n` and `dvc status`
there too. A generated grid is a sweep of the softmax run over learning rates;
one run is trained and evaluated for real and its files copied to the others
(with fresh modification times, so that Snakemake takes them as up to date;
`dvc commit` records them): training 500 models would measure training, not
the runners.

The floor: for each grid, a bare DVC pipeline of as many stages and a bare
Snakemake workflow of as many jobs, each of one input and one output, up to
date, timed the same way in the same run; `ratio` is ours over the floor.

Snakemake's no-op is also timed with its parse-time work done again (params.yaml validated,
configs and dvc.yaml written), as after any change to params.yaml or the code.

DAG construction: `snakemake -n` and `dvc status` once on a grid of
`--dag-runs` runs where nothing has run yet.

Every figure is the median wall time of `--repeats` runs after one warm-up run
(which writes Snakemake's per-run configs and DVC's hash cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.files import write_json, write_text  # noqa: E402
from stages.lib.layout import EVALUATION  # noqa: E402
from stages.lib.params import load_params, resolve_runs  # noqa: E402
from stages.lib.parse_cache import RECORD as PARSE_RECORD  # noqa: E402
from stages.lib.provenance import package_versions  # noqa: E402
from tests.conftest import make_project, run, tiny  # noqa: E402

NOT_COPIED = (".venv", ".tools", ".pytest_cache", "cache", "dvc_plots", "__pycache__")


def grid(runs: int):
    """params.yaml edit: the softmax run plus a learning-rate sweep, `runs` runs in all."""

    def edit(params):
        tiny(params)
        params["train"]["epochs"] = 1
        params["runs"] = {"softmax": params["runs"]["softmax"]}
        rates = [round(0.001 + 0.0001 * i, 6) for i in range(runs - 1)]
        # A grid list holds at most 100 values (params.schema.yaml): one sweep per hundred.
        sweeps = {
            f"lr{i // 100}": {"run": {"architecture": "softmax"}, "grid": {"learning_rate": rates[i : i + 100]}}
            for i in range(0, len(rates), 100)
        }
        params["sweeps"] = sweeps or None

    return edit


def timed(args, project, repeats: int, expect: str) -> dict:
    """Median wall time of `args` in `project` over `repeats` runs, after a warm-up run."""
    seconds = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        result = run(args, project)
        if i:
            seconds.append(time.perf_counter() - start)
        if expect and expect not in result.stdout + result.stderr:
            raise SystemExit(
                f"{' '.join(args)} in {project}: expected {expect!r}, got:\n{result.stdout[-2000:]}"
                f"{result.stderr[-2000:]}"
            )
    return {"median_s": round(statistics.median(seconds), 3), "runs_s": [round(s, 3) for s in seconds]}


def noop(project: Path, repeats: int) -> dict:
    return {
        "snakemake": timed(["snakemake", "--cores", "2"], project, repeats, "Nothing to be done"),
        "dvc_repro": timed(["dvc", "repro"], project, repeats, "Data and pipelines are up to date"),
    }


def copy_of_this_project(dest: Path) -> Path:
    """This working tree with its results and both runners' records, brought up to date if it is not."""
    shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
    # `dvc commit` rewrites DVC's cached outputs (the models: newer files, the same bytes), which
    # Snakemake lets pass only for jobs it ran itself (it compares their inputs' checksums): twice.
    for _ in range(2):
        run(["snakemake", "--cores", "2"], dest)  # nothing to do where the results are current
        run(["dvc", "commit", "-f", "-q"], dest)
    return dest


def generated_and_done(dest: Path, runs: int) -> Path:
    """A `runs`-run grid whose results are all recorded as up to date (see the module docstring)."""
    project = make_project(dest, grid(runs))
    run(["snakemake", "--cores", "2", EVALUATION.replace("{run}", "softmax")], project)
    names = [p.stem for p in sorted((project / "configs").glob("*.json")) if p.stem not in ("package", "softmax")]
    # Fresh modification times, models before reports: each output newer than its inputs.
    for kind in ("models", "reports"):
        for name in names:
            shutil.copytree(
                project / kind / "runs" / "softmax", project / kind / "runs" / name, copy_function=shutil.copyfile
            )
    result = run(["snakemake", "--cores", "2"], project)  # report and package, for real
    if re.search(r"^(train|evaluate)\s+\d+$", result.stdout + result.stderr, re.M):
        raise SystemExit(f"{project}: Snakemake did not take the copied results as up to date")
    run(["dvc", "commit", "-f", "-q"], project)
    # dvc commit rewrites every cached file; Snakemake has no checksums of the copies' inputs to see
    # that nothing changed, so bring the modification times back in order.
    run(["snakemake", "--cores", "1", "--touch"], project)
    return project


def dag(project: Path, repeats: int) -> dict:
    return {
        "snakemake_dry_run": timed(["snakemake", "-n"], project, repeats, ""),
        "dvc_status": timed(["dvc", "status"], project, repeats, ""),
    }


def bare_dvc(dest: Path, stages: int) -> Path:
    """DVC's floor: `stages` stages of one dependency and one output each, all up to date."""
    (dest / "in").mkdir(parents=True)
    (dest / "out").mkdir()
    pipeline = {}
    for i in range(stages):
        (dest / "in" / f"{i}.txt").write_text(f"{i}\n")
        (dest / "out" / f"{i}.txt").write_text(f"{i}\n")
        pipeline[f"s{i}"] = {"cmd": f"cp in/{i}.txt out/{i}.txt", "deps": [f"in/{i}.txt"], "outs": [f"out/{i}.txt"]}
    return recorded_dvc_project(dest, {"stages": pipeline})


def recorded_dvc_project(dest: Path, pipeline: dict) -> Path:
    """`dest`, whose files are written, as a git and DVC project of `pipeline`, every stage recorded as run."""
    write_text(dest / "dvc.yaml", yaml.safe_dump(pipeline, sort_keys=False))
    for args in (["git", "init", "-q"], ["dvc", "init", "-q"], ["dvc", "commit", "-f", "-q"]):
        run(args, dest)
    return dest


def bare_snakemake(dest: Path, jobs: int) -> Path:
    """Snakemake's floor: `jobs` jobs of one input and one output each, all up to date."""
    (dest / "in").mkdir(parents=True)
    for i in range(jobs):
        (dest / "in" / f"{i}.txt").write_text(f"{i}\n")
    (dest / "out").mkdir()
    for i in range(jobs):  # written after every input: up to date
        (dest / "out" / f"{i}.txt").write_text(f"{i}\n")
    write_text(
        dest / "Snakefile",
        f"rule all:\n    input: expand('out/{{i}}.txt', i=range({jobs}))\n\n"
        "rule copy:\n    input: 'in/{i}.txt'\n    output: 'out/{i}.txt'\n    shell: 'cp {input} {output}'\n",
    )
    return dest


def against_floor(project: Path, scratch: Path, runs: int, repeats: int) -> dict:
    """No-op reruns and status of a `runs`-run grid, and of bare pipelines of as many stages and jobs."""
    ours = {**noop(project, repeats), **dag(project, repeats)}
    # The no-op of the first Snakemake command after a change to params.yaml or the code: the
    # Snakefile's parse-time work done again, as it is without the record of stages.lib.parse_cache.
    redone = f"rm -f {PARSE_RECORD} && snakemake --cores 2"
    ours["snakemake_parse_redone"] = timed(["sh", "-c", redone], project, repeats, "Nothing to be done")
    stages, jobs = 2 * runs + 5, 2 * runs + 4  # configure, download, prepare, train and evaluate per run, ...
    dvc_floor = bare_dvc(scratch / f"bare-dvc-{runs}", stages)
    snakemake_floor = bare_snakemake(scratch / f"bare-snakemake-{runs}", jobs)
    floor = {
        "dvc_repro": timed(["dvc", "repro"], dvc_floor, repeats, "Data and pipelines are up to date"),
        "dvc_status": timed(["dvc", "status"], dvc_floor, repeats, ""),
        "snakemake": timed(["snakemake", "--cores", "2"], snakemake_floor, repeats, "Nothing to be done"),
        "snakemake_dry_run": timed(["snakemake", "-n"], snakemake_floor, repeats, ""),
    }
    return {
        "dvc_stages": stages,
        "snakemake_jobs": jobs,
        "project": ours,
        "bare": floor,
        "ratio": {key: round(ours[key]["median_s"] / floor[key]["median_s"], 2) for key in floor},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--grids", type=int, nargs="+", default=[200, 500], help="run counts against the floor")
    parser.add_argument("--dag-runs", type=int, default=2000, help="run count of the DAG-only grid")
    parser.add_argument("--out", default="benchmarks/results/runner_overhead.json")
    args = parser.parse_args(argv)
    result = {
        "benchmark": "runner overhead: no-op reruns and status against bare pipelines (median wall seconds)",
        "repeats": args.repeats,
        "noop": {},
        "grids": {},
        "machine": {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))},
        "versions": package_versions(),
    }
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        default_runs = len(resolve_runs(load_params(ROOT / "params.yaml")))
        print(f"no-op rerun, default grid ({default_runs} runs)", flush=True)
        result["noop"][f"default grid, {default_runs} runs"] = noop(
            copy_of_this_project(scratch / "default"), args.repeats
        )
        for runs in args.grids:
            print(f"{runs}-run grid against bare pipelines", flush=True)
            project = generated_and_done(scratch / f"grid{runs}", runs)
            result["grids"][str(runs)] = against_floor(project, scratch, runs, args.repeats)
            shutil.rmtree(project)
        print(f"DAG of a {args.dag_runs}-run grid", flush=True)
        result["dag"] = {str(args.dag_runs): dag(make_project(scratch / "dag", grid(args.dag_runs)), 1)}
    write_json(args.out, result)
    print(json.dumps({runs: grid["ratio"] for runs, grid in result["grids"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
