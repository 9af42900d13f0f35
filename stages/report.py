"""Report stage: compare all runs in a table and an executed notebook.

    python -m stages.report --runs softmax mlp cnn_intro --metric accuracy \
        --metrics reports/runs/{softmax,mlp,cnn_intro}/metrics.json \
        --summaries reports/runs/{softmax,mlp,cnn_intro}/training.json \
        --histories reports/runs/{softmax,mlp,cnn_intro}/history.csv \
        --confusions reports/runs/{softmax,mlp,cnn_intro}/confusion_matrix.csv \
        --notebook workflow/notebooks/report.ipynb \
        --table-csv reports/comparison.csv --table-md reports/comparison.md \
        --executed reports/report.ipynb --html reports/report.html

Per-run files are given in the order of --runs. The notebook is executed by
papermill with the run list as parameters and rendered to one HTML file with
its figures embedded and no script loaded from another host.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from stages.files import atomic_path, read_json, write_text

TABLE_COLUMNS = ["run", "architecture", "parameters", "epochs_run", "training_seconds",
                 "images_per_second", "accuracy", "macro_f1", "weighted_f1", "loss"]


def comparison_table(runs, metrics_paths, summary_paths, metric: str) -> pd.DataFrame:
    """One row per run, best first by `metric` (ties keep the params.yaml order)."""
    rows = []
    for run, metrics_path, summary_path in zip(runs, metrics_paths, summary_paths, strict=True):
        rows.append({**read_json(summary_path), **read_json(metrics_path), "run": run})
    table = pd.DataFrame(rows)[TABLE_COLUMNS]
    return table.sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)


def markdown_table(table: pd.DataFrame, metric: str) -> str:
    shown = table.copy()
    shown["run"] = ["**" + r + "** (best)" if i == 0 else r for i, r in enumerate(shown["run"])]
    header = f"# Comparison of {len(table)} runs, sorted by test {metric}\n\n"
    return header + shown.to_markdown(index=False, floatfmt=".4f") + "\n"


def _write_kernelspec(folder: str) -> str:
    """A kernelspec for this interpreter, so papermill runs the notebook in this environment."""
    spec = Path(folder) / "kernels" / "pipeline-report"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pipeline report", "language": "python",
    }))
    return spec.name


def execute_notebook(template, executed, html, parameters: dict) -> None:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    with tempfile.TemporaryDirectory(prefix="report-kernel-") as kernels, \
            atomic_path(executed, suffix=".ipynb") as tmp:
        os.environ["JUPYTER_PATH"] = kernels
        papermill.execute_notebook(str(template), str(tmp), parameters=parameters,
                                   kernel_name=_write_kernelspec(kernels), cwd=os.getcwd(),
                                   progress_bar=False)
        notebook = nbformat.read(tmp, as_version=4)
    # No MathJax or RequireJS from a CDN: the page must render offline.
    exporter = HTMLExporter(mathjax_url="", require_js_url="", exclude_input=True)
    body, _ = exporter.from_notebook_node(notebook)
    write_text(html, body)


def report(runs, metrics, summaries, histories, confusions, metric, notebook, outputs: dict) -> pd.DataFrame:
    table = comparison_table(runs, metrics, summaries, metric)
    write_text(outputs["table_csv"], table.to_csv(index=False, lineterminator="\n"))
    write_text(outputs["table_md"], markdown_table(table, metric))
    execute_notebook(notebook, outputs["executed"], outputs["html"], {
        "runs": list(runs), "metric": metric, "comparison_csv": str(outputs["table_csv"]),
        "histories": dict(zip(runs, map(str, histories))),
        "confusions": dict(zip(runs, map(str, confusions))),
    })
    print(f"best run by {metric}: {table.iloc[0]['run']} ({table.iloc[0][metric]:.4f})")
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--metric", required=True)
    for name in ("metrics", "summaries", "histories", "confusions"):
        parser.add_argument(f"--{name}", nargs="+", required=True, help="one file per run")
    parser.add_argument("--notebook", required=True, help="notebook template")
    for name in ("table_csv", "table_md", "executed", "html"):
        parser.add_argument(f"--{name.replace('_', '-')}", required=True)
    args = parser.parse_args(argv)
    if not all(len(getattr(args, n)) == len(args.runs) for n in ("metrics", "summaries", "histories", "confusions")):
        print("error: give one --metrics/--summaries/--histories/--confusions file per run", file=sys.stderr)
        return 2
    outputs = {k: getattr(args, k) for k in ("table_csv", "table_md", "executed", "html")}
    try:
        report(args.runs, args.metrics, args.summaries, args.histories, args.confusions,
               args.metric, args.notebook, outputs)
    except (KeyError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
