"""Issue 19, goal 1: what DVC's no-op cost would be under other ways of declaring a run's files.

    python benchmarks/dvc_layouts.py [--runs 200] [--repeats 5] [--out benchmarks/results/dvc_layouts.json]

Synthetic DVC projects of `--runs` runs (a train and an evaluate stage each,
no report or package), every output up to date, timed against a bare pipeline
of as many stages (runner_overhead.py's floor) in the same run:

- files: as dvc.yaml declared them before the live folder: train's model,
  history, summary and each dvclive file, evaluate's eleven files one by one,
  `data/prepared` a directory dependency of both;
- live: as dvc.yaml declared them from 2026-11-23: files, with dvclive's folder
  one uncached directory output of train (its summary in the top-level `metrics:`);
- folders: as dvc.yaml declares them now: train writes the model and
  `reports/<run>/training/`, evaluate `reports/<run>/evaluation/`, each folder
  one uncached directory output; metrics listed in the top-level `metrics:`;
- lean: folders, with the prepared data named by one manifest file instead
  of its directory;
- minimal: lean without the code-checksum inputs. Not a layout to adopt (a
  changed stage's code would then rerun nothing): the ceiling, what DVC costs
  when each stage declares only its config, data and results.

It measures the runners, not the pipeline: the stages' commands never run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from runner_overhead import bare_dvc, recorded_dvc_project, timed  # puts the project on sys.path

from stages.lib.files import write_json, write_text
from stages.lib.layout import EVALUATION_DIR, EVALUATION_FILES, LIVE_DIR, TRAIN_FILES, TRAINING_DIR

LAYOUTS = ("files", "live", "folders", "lean", "minimal")  # and "bare", the floor
# A run's files as stages/lib/layout.py names them, each stage's metrics file last.
TRAINING = [name for key, name in TRAIN_FILES.items() if key != "live_summary"] + [TRAIN_FILES["live_summary"]]
EVALUATION = [name for key, name in EVALUATION_FILES.items() if key != "metrics"] + [EVALUATION_FILES["metrics"]]
TRAINING_BESIDE_LIVE = [name for name in TRAINING if not name.startswith(f"{LIVE_DIR}/")]


def uncached(path: str) -> dict:
    return {path: {"cache": False}}


def run_stages(layout: str, run: str) -> dict:
    """The stages of one run under `layout`."""
    config, reports = f"configs/{run}.json", f"reports/{run}"
    if layout in ("files", "live"):
        data, model = "data/prepared", f"models/{run}/model.keras"
        if layout == "files":
            train_outs = [model, *(uncached(f"{reports}/{f}") for f in TRAINING[:-1])]
            train = {"outs": train_outs, "metrics": [uncached(f"{reports}/{TRAINING[-1]}")]}
        else:
            train = {"outs": [model, *(uncached(f"{reports}/{f}") for f in (*TRAINING_BESIDE_LIVE, LIVE_DIR))]}
        evaluate = {
            "outs": [uncached(f"{reports}/{f}") for f in EVALUATION[:-1]],
            "metrics": [uncached(f"{reports}/{EVALUATION[-1]}")],
        }
    else:
        data = "data/prepared" if layout == "folders" else "data/prepared.json"
        model = f"models/{run}/model.keras"
        train = {"outs": [model, uncached(f"{reports}/{TRAINING_DIR}")]}
        evaluate = {"outs": [uncached(f"{reports}/{EVALUATION_DIR}")]}
    code = {stage: [] if layout == "minimal" else [f"configs/code/{stage}.json"] for stage in ("train", "evaluate")}
    return {
        f"train-{run}": {"cmd": "true", "deps": [config, data, *code["train"]], **train},
        f"evaluate-{run}": {"cmd": "true", "deps": [config, model, data, *code["evaluate"]], **evaluate},
    }


def project(dest: Path, layout: str, runs: int) -> Path:
    """A DVC project of `runs` runs under `layout`, every stage recorded as up to date."""
    for i in range(6):
        write_text(dest / f"data/prepared/{i}.npy", f"{i}\n")
    write_text(dest / "data/prepared.json", "manifest\n")
    for stage in ("train", "evaluate"):
        write_text(dest / f"configs/code/{stage}.json", f"{stage}\n")
    stages = {}
    for i in range(runs):
        run = f"r{i}"
        write_text(dest / f"configs/{run}.json", run)
        write_text(dest / f"models/{run}/model.keras", run)
        folders = ("", "") if layout in ("files", "live") else (f"{TRAINING_DIR}/", f"{EVALUATION_DIR}/")
        for folder, names in zip(folders, (TRAINING, EVALUATION), strict=True):
            for name in names:
                write_text(dest / f"reports/{run}/{folder}{name}", name)
        stages.update(run_stages(layout, run))
    pipeline = {"stages": stages}
    if layout == "live":
        pipeline["metrics"] = [f"reports/r{i}/{TRAINING[-1]}" for i in range(runs)]
    elif layout != "files":  # the folder layouts
        metrics = (f"{TRAINING_DIR}/{TRAINING[-1]}", f"{EVALUATION_DIR}/{EVALUATION[-1]}")
        pipeline["metrics"] = [f"reports/r{i}/{name}" for i in range(runs) for name in metrics]
    return recorded_dvc_project(dest, pipeline)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/dvc_layouts.json")
    args = parser.parse_args(argv)
    result = {
        "benchmark": __doc__.splitlines()[0],
        "runs": args.runs,
        "stages": 2 * args.runs,
        "repeats": args.repeats,
        "layouts": ["bare", *LAYOUTS],  # the table's column order (the JSON's keys are sorted)
    }
    with tempfile.TemporaryDirectory() as scratch:
        projects = {"bare": bare_dvc(Path(scratch, "bare"), 2 * args.runs)}
        projects.update({layout: project(Path(scratch, layout), layout, args.runs) for layout in LAYOUTS})
        for command in (["dvc", "status"], ["dvc", "repro"]):
            seconds = {
                layout: timed(command, path, args.repeats, "Data and pipelines are up to date")["median_s"]
                for layout, path in projects.items()
            }
            ratios = {layout: round(s / seconds["bare"], 2) for layout, s in seconds.items()}
            result[" ".join(command)] = {"median_s": seconds, "ratio": ratios}
            print(" ".join(command), seconds, ratios, flush=True)
    result["machine"] = {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))}
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
