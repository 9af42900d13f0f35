"""Run every CPU benchmark and write reports/bench.json and reports/bench.md.

    python benchmarks/run_all.py [--only runner_overhead predict_latency ...] [--summary-only]

Each benchmark writes its own figures to benchmarks/results/<name>.json; this
collects them into one file and a short Markdown summary that docs/development.md
quotes. `--summary-only` rebuilds the summary from the existing results.
Needs the test extras (`bash setup.sh --test`: the overhead benchmark builds
projects as the tests do) and, for prepare, Debian's dataset-fashion-mnist.
About 45 minutes on 2 cores. The GPU benchmark (gpu_throughput.py) runs on a
GPU machine and is summarised here when its result file exists.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.files import read_json, write_json, write_text  # noqa: E402

BENCHMARKS = [
    "runner_overhead",
    "dvc_layouts",
    "folder_inputs",
    "predict_latency",
    "main_job",
    "readme_jobs",
    "prepare_fashion",
    "train_throughput",
]
RESULTS = ROOT / "benchmarks" / "results"


def summary(results: dict) -> str:
    lines = ["# Benchmarks", "", "Medians of repeated runs; `python benchmarks/run_all.py` re-measures.", ""]
    if overhead := results.get("runner_overhead"):
        lines += _overhead(overhead)
    if layouts := results.get("dvc_layouts"):
        lines += _layouts(layouts)
    if folder := results.get("folder_inputs"):
        lines += [
            f"## Seeing a change inside a folder of {folder['images']:,} images, per runner call",
            "",
            f"Snakemake's stamp: {folder['snakemake_stamp_unchanged_s']:.2f} s when nothing changed,"
            f" {folder['snakemake_stamp_after_an_edit_s']:.2f} s after an edit; hashing every file instead:"
            f" {folder['hash_every_file_s']:.2f} s (the stamp takes x{folder['stamp_over_hashing']} of it)."
            f" DVC's `dvc status` of a stage that reads the folder: {folder['dvc_status_s']:.2f} s"
            f" ({folder['dvc_status_one_file_folder_s']:.2f} s for a folder of one file).",
            "",
        ]
    if latency := results.get("predict_latency"):
        predict, helps = latency["predict_one_image_s"], latency["help_s"]
        slowest = max(helps, key=helps.get)
        lines += [
            "## Commands a person types",
            "",
            f"`python -m stages.predict models/package.tar.gz IMAGE` on one image: {predict['onnxruntime']:.2f} s "
            f"with onnxruntime (the package's model.onnx), {predict['keras']:.2f} s with `--engine keras` "
            f"(target 3 s). `--help`: at most {helps[slowest]:.2f} s (`stages.{slowest}`; target 1 s).",
            "",
        ]
    if readme := results.get("readme_jobs"):
        lines += [
            "## The README's main job and the smoke study, as a user runs them",
            "",
            f"`snakemake --cores 2 --forceall`, {readme['repeats']} runs each (the environment installed).",
            "",
            "| job | runs | median | each run |",
            "|---|---|---|---|",
            *(
                f"| {name} (`{job['folder']}`) | {job['runs']} | {job['median_s']} s | "
                + ", ".join(f"{s} s" for s in job["seconds"])
                + " |"
                for name, job in readme["jobs"].items()
            ),
            "",
        ]
    if job := results.get("main_job"):
        names = {
            "fit": "fitting (`model.fit`)",
            "predict": "predicting the test splits",
            "imports_and_startup": "imports and start-up",
            "runner": "Snakemake itself",
            "rest": "the rest: files, figures, report, package",
        }
        lines += [
            f"## Where the main job's time goes ({job['runs']} runs, one job at a time)",
            "",
            "| part | seconds | share |",
            "|---|---|---|",
            *(f"| {names[k]} | {v:.1f} | {job['shares'][k]:.0%} |" for k, v in job["parts_s"].items()),
            f"| total (`snakemake --cores 1 --forceall`) | {job['total_s']:.1f} | 100% |",
            "",
            "Snakemake itself is the total less the sum of the jobs timed one by one, a difference of two"
            f" medians of {job['total_s']:.0f} s: too small a share to resolve that way; its no-op on this"
            " grid (above) is the firmer figure.",
            "",
            f"As the README runs it (`--cores 2`): {job['readme_command_s']:.1f} s.",
            "",
        ]
    if prepare := results.get("prepare_fashion"):
        lines += [
            "## Prepare, Fashion-MNIST from the Debian mirror",
            "",
            f"{prepare['prepare_s']['median']} s and {prepare['peak_rss_mib']['median']} MiB peak resident "
            f"memory (median of {prepare['repeats']}; {prepare['prepared_mib']} MiB of prepared arrays written).",
            "",
        ]
    if train := results.get("train_throughput"):
        rate = train["images_per_second_median"]
        lines += [
            "## Training throughput, train stage against a bare Keras script",
            "",
            f"{train['model']}, {train['images']:,} images, batch {train['batch_size']}, "
            f"{', '.join(train['machine']['devices'])}: pipeline {rate['pipeline']:,.0f} img/s, bare "
            f"{rate['bare']:,.0f} img/s, ratio {train['ratio_pipeline_to_bare']} (target >= {train['target_ratio']}).",
            "",
        ]
    if gpu := results.get("gpu_throughput"):
        lines += _gpu(gpu)
    machine = next(iter(results.values()))["machine"]["platform"] if results else "?"
    lines += [f"Machine: {machine}."]
    return "\n".join(lines) + "\n"


def _gpu(gpu: dict) -> list[str]:
    machine, target = gpu["machine"], gpu["target"]

    def memory(case):
        peak = case["peak_accelerator_memory_bytes"]
        return "-" if peak is None else f"{peak / 2**30:.2f} GiB"

    def ratio(case):
        return "-" if case["pipeline_to_bare"] is None else f"{case['pipeline_to_bare']:.2f}"

    def bare(case):
        return "-" if case["bare_images_per_second"] is None else f"{case['bare_images_per_second']:,.0f}"

    met = {True: "met", False: "not met", None: "not measured"}[target["met"]]
    return [
        "## Training throughput on the accelerator (CIFAR-10-sized data, 32x32x3)",
        "",
        f"{machine['backend']} on {', '.join(machine['devices'])} ({machine['platform']}); {gpu['images']:,} images,"
        f" {gpu['epochs']} epochs, median of {gpu['rounds']} rounds. Pipeline: the train stage; bare: the same"
        " model's compiled step on one batch kept on the device.",
        "",
        "| architecture | batch | pipeline img/s | bare img/s | pipeline / bare | peak accelerator memory |",
        "|---|---|---|---|---|---|",
        *(
            f"| {c['architecture']} | {c['batch_size']} | {c['pipeline_images_per_second']:,.0f} | {bare(c)} "
            f"| {ratio(c)} | {memory(c)} |"
            for c in gpu["cases"]
        ),
        "",
        f"Target: {target['architecture']} at batch {target['batch_size']}, {target['images_per_second']:,} img/s"
        f" or more through the pipeline: {met}.",
        "",
    ]


def _layouts(layouts: dict) -> list[str]:
    names = layouts["layouts"]  # the floor first, then as benchmarks/dvc_layouts.py builds them
    lines = [
        f"## DVC's no-op cost by how a run's files are declared ({layouts['runs']} synthetic runs)",
        "",
        f"| command | {' | '.join(names)} |",
        "|---|" + "---|" * len(names),
    ]
    for command in ("dvc status", "dvc repro"):
        seconds, ratio = layouts[command]["median_s"], layouts[command]["ratio"]
        lines.append(f"| `{command}` | " + " | ".join(f"{seconds[n]:.2f} s = x{ratio[n]}" for n in names) + " |")
    return [*lines, ""]


def _overhead(overhead: dict) -> list[str]:
    lines = [
        f"## Runner overhead ({overhead['machine']['cpus']} CPUs, {overhead['repeats']} runs each)",
        "",
        "| what | Snakemake | DVC |",
        "|---|---|---|",
    ]
    for grid, figures in overhead["noop"].items():
        smk, dvc = figures["snakemake"]["median_s"], figures["dvc_repro"]["median_s"]
        lines.append(f"| no-op rerun, {grid} | {smk:.2f} s | {dvc:.2f} s |")
    for runs, grid in overhead["grids"].items():
        ours, bare, ratio = grid["project"], grid["bare"], grid["ratio"]
        for what, smk, dvc in (
            ("no-op rerun", "snakemake", "dvc_repro"),
            ("status", "snakemake_dry_run", "dvc_status"),
        ):
            lines.append(
                f"| {what}, {runs} runs: ours / bare ({grid['snakemake_jobs']} jobs, {grid['dvc_stages']} stages) "
                f"| {ours[smk]['median_s']:.2f} / {bare[smk]['median_s']:.2f} s = x{ratio[smk]} "
                f"| {ours[dvc]['median_s']:.2f} / {bare[dvc]['median_s']:.2f} s = x{ratio[dvc]} |"
            )
        if redone := ours.get("snakemake_parse_redone"):
            lines.append(
                f"| no-op rerun, {runs} runs, the Snakefile's parse-time work done again (first command after a "
                f"change) | {redone['median_s']:.2f} / {bare['snakemake']['median_s']:.2f} s "
                f"= x{redone['median_s'] / bare['snakemake']['median_s']:.2f} | |"
            )
    for runs, figures in overhead.get("dag", {}).items():
        lines.append(
            f"| DAG of {runs} runs, nothing run yet (`snakemake -n`, `dvc status`) "
            f"| {figures['snakemake_dry_run']['median_s']:.2f} s | {figures['dvc_status']['median_s']:.2f} s |"
        )
    return [*lines, ""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS)
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.summary_only:
        for name in args.only:
            print(f"== {name}", flush=True)
            subprocess.run([sys.executable, f"benchmarks/{name}.py"], cwd=ROOT, check=True)
    results = {path.stem: read_json(path) for path in sorted(RESULTS.glob("*.json"))}
    write_json(ROOT / "reports" / "bench.json", results)
    write_text(ROOT / "reports" / "bench.md", summary(results))
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
