"""Run every CPU benchmark and write reports/bench.json and reports/bench.md.

    python benchmarks/run_all.py [--only runner_overhead prepare_fashion train_throughput] [--summary-only]

Each benchmark writes its own figures to benchmarks/results/<name>.json; this
collects them into one file and a short Markdown summary that docs/development.md
quotes. `--summary-only` rebuilds the summary from the existing results.
Needs the test extras (`bash setup.sh --test`: the overhead benchmark builds
projects as the tests do) and, for prepare, Debian's dataset-fashion-mnist.
About 15 minutes on 2 cores. The GPU benchmark (gpu_throughput.py) runs on a
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

BENCHMARKS = ["runner_overhead", "prepare_fashion", "train_throughput"]
RESULTS = ROOT / "benchmarks" / "results"


def summary(results: dict) -> str:
    lines = ["# Benchmarks", "", "Medians of repeated runs; `python benchmarks/run_all.py` re-measures.", ""]
    if overhead := results.get("runner_overhead"):
        lines += [
            f"## Runner overhead ({overhead['machine']['cpus']} CPUs, {overhead['repeats']} runs each)",
            "",
            "| what | Snakemake | DVC |",
            "|---|---|---|",
        ]
        for grid, figures in overhead["noop"].items():
            lines.append(
                f"| no-op rerun, {grid} | {figures['snakemake']['median_s']:.2f} s "
                f"| {figures['dvc_repro']['median_s']:.2f} s |"
            )
        for runs, figures in sorted(overhead["dag"].items(), key=lambda item: int(item[0])):
            lines.append(
                f"| DAG, {runs} runs (`snakemake -n`, `dvc status`) "
                f"| {figures['snakemake_dry_run']['median_s']:.2f} s | {figures['dvc_status']['median_s']:.2f} s |"
            )
        sizes = sorted(overhead["dag"], key=int)
        if len(sizes) > 1:
            small, large = overhead["dag"][sizes[0]], overhead["dag"][sizes[-1]]
            lines += [
                "",
                f"From {sizes[0]} to {sizes[-1]} runs ({int(sizes[-1]) / int(sizes[0]):.0f}x): "
                f"`snakemake -n` x{large['snakemake_dry_run']['median_s'] / small['snakemake_dry_run']['median_s']:.1f}, "  # noqa: E501
                f"`dvc status` x{large['dvc_status']['median_s'] / small['dvc_status']['median_s']:.1f}.",
            ]
        lines.append("")
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
        lines += [
            "## GPU throughput",
            "",
            f"{gpu.get('architecture')}: {gpu.get('images_per_second_median')} img/s "
            f"on {', '.join(gpu['machine']['devices'])}.",
            "",
        ]
    machine = next(iter(results.values()))["machine"]["platform"] if results else "?"
    lines += [f"Machine: {machine}."]
    return "\n".join(lines) + "\n"


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
