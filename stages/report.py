"""Report stage: compare all runs in a table, figures and an executed notebook.

    python -m stages.report --config configs/report.json --runs softmax mlp cnn_intro \
        --runs-dir reports/runs --data-dir reports/data \
        --notebook workflow/notebooks/report.ipynb --out-dir reports

Reads each run's files in <runs-dir>/<run>/ (what train wrote in training/,
what evaluate wrote in evaluation/) and writes the files of REPORT_FILES into --out-dir: the
comparison table (CSV, and Markdown with the best run in bold), the figures
(training curves of all runs, the metric against parameter count, each sweep's
metric against its swept values), and the notebook executed by papermill with
the run list as parameters, rendered to one HTML file with every figure
embedded and nothing loaded from another host.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.lib.confusion import Confusion, most_confused
from stages.lib.errors import InputError
from stages.lib.figures import pyplot, save_png
from stages.lib.files import atomic_path, read_json, write_json, write_text
from stages.lib.joblog import run_stage
from stages.lib.layout import REPORT_FILES, RUN_FILES
from stages.lib.references import best_reference, load_references
from stages.lib.scores import answer_intervals
from stages.lib.settings import ReportSettings, RunSettings
from stages.lib.uncertainty import (
    ALPHA,
    CONFIDENCE,
    against,
    holm,
    mean_interval,
    paired_tests,
    read_predictions,
    right_answers,
    welch_pvalue,
)

# Only what the same code, parameters and data reproduce: wall times are in logs/ (see train).
TABLE_COLUMNS = [
    "run",
    "architecture",
    "settings",
    "optimizer",
    "learning_rate",
    "batch_size",
    "parameters",
    "epochs_run",
    "best_epoch",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "vs_best",
    "p_vs_best",
    "p_vs_next",
    "differs_from_next",
    "top_3_accuracy",
    "macro_f1",
    "macro_f1_low",
    "macro_f1_high",
    "weighted_f1",
    "loss",
    "published_accuracy",
    "vs_published_points",
    "most_confused",
    "published",
]


PUBLISHED_COLUMNS = ("published_accuracy", "vs_published_points", "published")
INTERVALS = ("accuracy", "macro_f1")  # the metrics shown with their interval (scores.answer_intervals)


def _settings(model: dict) -> str:
    """A run's architecture settings, e.g. 'dropout=0.45 padding=same'."""
    return " ".join(f"{key}={value}" for key, value in model.items()) or "-"


@dataclass(frozen=True)
class RunResults:
    """What the report uses of one run's files, read once (read_runs)."""

    run: str
    metrics: dict  # metrics.json, with the intervals of accuracy and macro F1 (`accuracy_low`, ...)
    config: RunSettings  # provenance.json's run config
    dataset: str  # provenance.json's data.dataset
    summary: dict  # training.json
    confused: list[Confusion]  # its most confused pairs, from confusion_matrix.csv
    confusion: object  # confusion_matrix.csv as a DataFrame: actual classes down, predicted across
    answers: object  # predictions.csv as uncertainty.read_predictions reads it: which test images it got right


def _read_run(runs_dir, run: str, metric: str) -> RunResults:
    import pandas as pd

    folder = Path(runs_dir) / run
    metrics_path, provenance_path = folder / RUN_FILES["metrics"], folder / RUN_FILES["provenance"]
    metrics, provenance = read_json(metrics_path), read_json(provenance_path)
    if not isinstance(metrics, dict) or metric not in metrics:
        raise InputError(f"{metrics_path}: no {metric!r}, the metric that ranks the runs; not a file evaluate wrote")
    answers = read_predictions(folder / RUN_FILES["predictions"])
    for key, (low, high) in answer_intervals(answers["actual"], answers["predicted"]).items():
        metrics = {**metrics, f"{key}_low": low, f"{key}_high": high}
    if not isinstance(provenance, dict) or "config" not in provenance:
        raise InputError(f"{provenance_path}: no run config; not a file evaluate wrote")
    confusion_path = folder / RUN_FILES["confusion"]
    try:
        counts = pd.read_csv(confusion_path, index_col=0)
    except (OSError, ValueError) as err:
        raise InputError(
            f"{confusion_path}: not a confusion matrix evaluate wrote ({err.__class__.__name__})"
        ) from None
    return RunResults(
        run=run,
        metrics=metrics,
        config=RunSettings.from_dict(provenance["config"], f"{provenance_path}: config"),
        dataset=(provenance.get("data") or {}).get("dataset", ""),
        summary=read_json(folder / RUN_FILES["summary"]),
        confused=most_confused(counts),
        confusion=counts,
        answers=answers,
    )


def read_runs(runs, runs_dir, metric: str) -> list[RunResults]:
    """Each run's results from <runs_dir>/<run>/, in `runs` order; InputError for a file evaluate
    or train did not write."""
    return [_read_run(runs_dir, run, metric) for run in runs]


def comparison_table(results: list[RunResults], metric: str, references=()):
    """One row per run, best first by `metric`, then lowest loss, then params.yaml order
    (the order in which package.select_best picks the packaged run); a DataFrame. Each run
    stands next to the best published accuracy of its dataset and architecture in
    `references` (stages.lib.references), with the difference in percentage points, and names
    the pair of classes it mixes up most."""
    import pandas as pd

    rows = []
    for result in results:
        training = result.config.training
        reference = best_reference(list(references), result.dataset, result.config.architecture)
        accuracy = result.metrics["accuracy"]
        rows.append(
            {
                **result.summary,
                **result.metrics,
                "run": result.run,
                "settings": _settings(result.config.model),
                "optimizer": training.optimizer,
                "learning_rate": training.learning_rate,
                "batch_size": training.batch_size,
                "most_confused": str(result.confused[0]) if result.confused else "-",
                "published_accuracy": reference.accuracy if reference else None,
                "vs_published_points": round(100 * (accuracy - reference.accuracy), 2) if reference else None,
                "published": reference.label if reference else "-",
            }
        )
    table = pd.DataFrame(rows)
    table = table.sort_values([metric, "loss"], ascending=[False, True], kind="stable").reset_index(drop=True)
    right = right_answers({result.run: result.answers for result in results})
    runs = table["run"].tolist()
    tests = against(right, runs[0])
    table["p_vs_best"] = [tests[run]["p_holm"] if run in tests else None for run in runs]
    table["vs_best"] = [_verdict(tests.get(run)) for run in runs]
    # Each run against the one ranked just below it: whether the order of the table is evidence.
    below = paired_tests(right, list(itertools.pairwise(runs)))
    table["p_vs_next"] = [test["p_holm"] for test in below] + [None]
    table["differs_from_next"] = [test["differs"] for test in below] + [None]
    return table[[c for c in TABLE_COLUMNS if c in table.columns]]


def _verdict(test: dict | None) -> str:
    """'best', 'indistinguishable' from it, or significantly 'worse' (or 'better': ranked by
    another metric, yet right on more images)."""
    if test is None:
        return "best"
    if not test["differs"]:
        return "indistinguishable"
    return "better" if test["only_second_right"] > test["only_first_right"] else "worse"


def tiers(table) -> str:
    """The table's order as far as it is evidence: runs not distinguishable from the next one
    joined by '≈', tiers that differ separated by '>'."""
    text = f"`{table.loc[0, 'run']}`"
    for i in range(1, len(table)):
        text += (" > " if table.loc[i - 1, "differs_from_next"] else " ≈ ") + f"`{table.loc[i, 'run']}`"
    return text


def significance(table) -> str:
    """In words: which runs of the table differ from the best one, and which do not."""
    best, rest = table.loc[0, "run"], table.iloc[1:]
    if rest.empty:
        return "One run: nothing to compare it with.\n"

    def listed(rows) -> str:
        return ", ".join(f"`{row.run}` (p = {row.p_vs_best:.2g})" for row in rows.itertuples()) or "none"

    same = rest[rest["vs_best"] == "indistinguishable"]
    return (
        f"Each run against the best, `{best}`, on the same test images: an exact McNemar test on the images "
        f"only one of the two got right, with Holm's correction over the {len(rest)} comparisons "
        f"(p: adjusted; differs: p < {ALPHA:.2g}).\n\n"
        f"- Significantly worse than `{best}`: {listed(rest[rest['vs_best'] == 'worse'])}.\n"
        + (
            f"- Significantly better on the test images, though ranked lower: {listed(better)}.\n"
            if not (better := rest[rest["vs_best"] == "better"]).empty
            else ""
        )
        + f"- Not distinguishable from `{best}`: {listed(same)}"
        + (
            ": their order in the table, and the choice of the best among them, is not evidence.\n"
            if not same.empty
            else f"; `{best}` is significantly better than every other run.\n"
        )
        + "\nEach run against the one ranked just below it (`p_vs_next`, Holm over those "
        f"{len(rest)} comparisons): {tiers(table)}. '>' marks a significant difference, '≈' an order "
        "that the test images cannot confirm.\n"
    )


def replicate_summary(results: list[RunResults], groups: dict, runs_dir) -> dict:
    """Per run with replicates (ReportSettings.replicates): for its seeds, and for its folds,
    the number, mean, standard deviation and interval of the mean (uncertainty.mean_interval) of
    test accuracy and macro F1, and for folds of the accuracy on the held-out fold (the validation
    accuracy of the epoch kept); what reports/replicates.json holds."""
    import pandas as pd

    by_run = {result.run: result for result in results}
    summary = {}
    for run, group in (groups or {}).items():
        summary[run] = {}
        for kind in ("seeds", "folds"):
            members = [by_run[name] for name in group[kind] if name in by_run]
            if len(members) < (2 if kind == "seeds" else 1):
                continue
            found = {
                metric: mean_interval([member.metrics[metric] for member in members])
                for metric in ("accuracy", "macro_f1")
            }
            if kind == "folds":
                held_out = []
                for member in members:
                    path = Path(runs_dir) / member.run / RUN_FILES["history"]
                    kept = pd.read_csv(path).query(f"epoch == {int(member.summary['best_epoch'])}")
                    if kept.empty:  # a NaN here would be a mean that looks like a result
                        raise InputError(f"{path}: no epoch {member.summary['best_epoch']}, the one training.json kept")
                    held_out.append(float(kept["val_accuracy"].iloc[0]))
                found["held_out_accuracy"] = mean_interval(held_out)
            summary[run][kind] = {"runs": [member.run for member in members], **found}
    return {run: kinds for run, kinds in summary.items() if kinds}


def replicates_markdown(summary: dict, results: list[RunResults]) -> str:
    """The replicates in a table and, for each sweep whose runs have seed replicates, its ranking
    by mean over the seeds, tested step by step (Welch's t-test, Holm)."""
    if not summary:
        return "No run has replicates (`repeats`, `cv_folds` in params.yaml).\n"

    def shown(found: dict) -> str:
        interval = f" [{found['low']:.4f}, {found['high']:.4f}]" if "low" in found else ""
        return f"{found['mean']:.4f} ± {found['sd']:.4f}{interval}"

    lines = [
        f"| run | replicates | test accuracy: mean ± sd [{CONFIDENCE:.0%} CI of the mean] | macro F1 | "
        "held-out fold accuracy |",
        "|---|---|---|---|---|",
    ]
    for run, kinds in summary.items():
        for kind, found in kinds.items():
            held = shown(found["held_out_accuracy"]) if "held_out_accuracy" in found else "-"
            what = f"{found['accuracy']['n']} {'seeds' if kind == 'seeds' else 'folds'}"
            lines.append(f"| {run} | {what} | {shown(found['accuracy'])} | {shown(found['macro_f1'])} | {held} |")
    text = "\n".join(lines) + "\n"
    sweeps: dict[str, list[str]] = {}
    for result in results:
        if result.config.sweep and "seeds" in summary.get(result.run, {}):
            sweeps.setdefault(result.config.sweep["name"], []).append(result.run)
    by_run = {result.run: result for result in results}
    for sweep, runs in sweeps.items():
        if len(runs) < 2:
            continue
        values = {run: [by_run[name].metrics["accuracy"] for name in summary[run]["seeds"]["runs"]] for run in runs}
        mean = {run: summary[run]["seeds"]["accuracy"]["mean"] for run in runs}
        ranked = sorted(runs, key=lambda run: -mean[run])
        single = sorted(runs, key=lambda run: -by_run[run].metrics["accuracy"])
        adjusted = holm([welch_pvalue(values[a], values[b]) for a, b in itertools.pairwise(ranked)])
        order = f"`{ranked[0]}` {mean[ranked[0]]:.4f}"
        for run, p in zip(ranked[1:], adjusted, strict=True):
            order += f" {'>' if p < ALPHA else '≈'} `{run}` {mean[run]:.4f} (p = {p:.2g})"
        seeds = min(summary[run]["seeds"]["accuracy"]["n"] for run in runs)
        holds = sum(p < ALPHA for p in adjusted)
        text += (
            f"\nSweep `{sweep}` over {seeds} seeds, by mean test accuracy: {order} (each against the next: Welch's "
            "t-test, Holm's correction; '>' significant, '≈' not). The first seed alone ranked them "
            + ", ".join(f"`{run}` {by_run[run].metrics['accuracy']:.4f}" for run in single)
            + (
                "; over the seeds no step of the ranking is significant.\n"
                if not holds
                else f"; over the seeds {holds} of its {len(adjusted)} steps are significant.\n"
            )
        )
    return text


def _interval(low: float, high: float) -> str:
    return f"[{low:.4f}, {high:.4f}]"


HEADLINE = ("accuracy", "macro_f1", "loss")


def confusion_cells(results: list[RunResults]) -> str:
    """Every run's confusion matrix as one long CSV (run, actual, predicted, count): what `dvc
    plots` draws, 100 rows a run on ten classes where the test predictions would be thousands."""
    import pandas as pd

    cells = pd.concat(
        result.confusion.rename_axis(index="actual", columns="predicted")
        .stack()
        .rename("count")
        .reset_index()
        .assign(run=result.run)
        for result in results
    )
    return cells[["run", "actual", "predicted", "count"]].to_csv(index=False, lineterminator="\n")


def headline_metrics(results: list[RunResults]) -> dict:
    """{run: {accuracy, macro_f1, loss}}: `dvc exp show` names these columns "mlp.accuracy", short
    enough for a terminal (the keys of a run's own metrics.json recur in every run, so DVC prefixes
    them with the file's path)."""
    return {result.run: {key: result.metrics[key] for key in HEADLINE} for result in results}


def markdown_table(table, metric: str) -> str:
    import pandas as pd

    shown = table.copy()
    shown["run"] = ["**" + r + "** (best)" if i == 0 else r for i, r in enumerate(shown["run"])]
    for name in INTERVALS:
        pairs = zip(shown[f"{name}_low"], shown[f"{name}_high"], strict=True)
        shown[f"{name}_low"] = [_interval(*pair) for pair in pairs]
        shown = shown.drop(columns=f"{name}_high").rename(columns={f"{name}_low": f"{name} {CONFIDENCE:.0%} CI"})
    for column in ("p_vs_best", "p_vs_next"):
        shown[column] = ["-" if pd.isna(p) else f"{p:.2g}" for p in shown[column]]
    shown = shown.drop(columns="differs_from_next")
    published = (
        "`published_accuracy`: the best published test accuracy of the run's dataset and architecture "
        "(stages/data/published_results.csv, named in `published`); `vs_published_points`: the run's "
        "accuracy minus it, in percentage points."
    )
    if table["published_accuracy"].isna().all():  # e.g. digits: empty columns would look like missing results
        shown = shown.drop(columns=list(PUBLISHED_COLUMNS))
        published = "No published result for these runs' dataset and architectures (stages/data/published_results.csv)."
    header = f"# Comparison of {len(table)} runs, sorted by test {metric}\n\n"
    note = (
        f"\n`{CONFIDENCE:.0%} CI`: the metric's interval (accuracy: Wilson; macro F1: bootstrap over the test "
        "images). `vs_best`, `p_vs_best`: the run against the best one; `p_vs_next`: against the run below "
        f"it (as below). {published} `most_confused`: the pair of classes the run mixes up most "
        "(actual -> predicted: test images, share of the actual class).\n"
    )
    return (
        header
        + shown.to_markdown(index=False, floatfmt=".4g")
        + "\n"
        + note
        + "\n## Which differences are significant\n\n"
        + significance(table)
    )


def sweep_results(results: list[RunResults], metric: str) -> dict[str, list[tuple[dict, float]]]:
    """Sweep name -> [(swept values, metric)] in run order, from the runs' configs."""
    sweeps: dict[str, list] = {}
    for result in results:
        sweep = result.config.sweep
        if sweep:
            sweeps.setdefault(sweep["name"], []).append((sweep["point"], result.metrics[metric]))
    return sweeps


def plot_curves(runs, runs_dir, path) -> None:
    """Training (dashed) and validation (solid) loss and accuracy per epoch, all runs overlaid."""
    import pandas as pd

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for i, run in enumerate(runs):
        history = pd.read_csv(Path(runs_dir) / run / RUN_FILES["history"])
        colour = f"C{i % 10}"
        for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
            ax.plot(history["epoch"], history[f"val_{key}"], color=colour, label=run)
            ax.plot(history["epoch"], history[key], color=colour, linestyle="--", alpha=0.5)
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        ax.set(xlabel="epoch", ylabel=key, title=f"{key}: validation (solid), training (dashed)")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    save_png(fig, path, bbox_inches="tight")


def plot_parameters(table, metric: str, path) -> None:
    """The test metric against the parameter count (log scale), one point per run. A run alone at
    its size is labelled above its point; runs of the same size (a sweep, its replicates) get a
    column of labels to the right, best on top, each joined to its point, so that none overlaps."""
    from matplotlib.transforms import offset_copy

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    ax.scatter(table["parameters"], table[metric], color="C0", zorder=3)
    for parameters, group in table.sort_values(metric, ascending=False).groupby("parameters"):
        if len(group) == 1:
            row = group.iloc[0]
            ax.annotate(
                row["run"],
                (parameters, row[metric]),
                xytext=(0, 7),
                textcoords="offset points",
                fontsize=8,
                ha="center",
            )
            continue
        centre = group[metric].mean()
        for j, (_, row) in enumerate(group.iterrows()):
            place = offset_copy(ax.transData, fig=fig, x=40, y=11 * ((len(group) - 1) / 2 - j), units="points")
            ax.annotate(
                row["run"],
                (parameters, row[metric]),
                xytext=(parameters, centre),
                textcoords=place,
                fontsize=8,
                va="center",
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6},
            )
    ax.set_xscale("log")
    ax.margins(x=0.2, y=0.2)
    ax.set(xlabel="trainable and fixed parameters", ylabel=f"test {metric}", title=f"test {metric} against model size")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, bbox_inches="tight")


def plot_sweeps(sweeps: dict, metric: str, path) -> None:
    """One panel per sweep: a curve over a numeric swept value, bars otherwise."""
    plt = pyplot()
    fig, axes = plt.subplots(1, max(len(sweeps), 1), figsize=(5 * max(len(sweeps), 1), 3.8), squeeze=False)
    if not sweeps:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no sweeps in params.yaml", ha="center", va="center")
    for ax, (name, points) in zip(axes.flat, sweeps.items(), strict=False):
        keys = list(points[0][0])
        values = [point[keys[0]] for point, _ in points]
        scores = [score for _, score in points]
        numeric = len(keys) == 1 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            order = np.argsort(values, kind="stable")
            ax.plot(np.asarray(values)[order], np.asarray(scores)[order], marker="o")
            ax.set_xlabel(keys[0])
        else:
            labels = [" ".join(str(v) for v in point.values()) for point, _ in points]
            ax.bar(range(len(points)), scores, color="C1")
            ax.set_xticks(range(len(points)), labels, rotation=30, ha="right")
            ax.set_xlabel(", ".join(keys))
            ax.set_ylim(min(scores) - 0.1 * (max(scores) - min(scores) + 0.01), None)
        ax.set(ylabel=f"test {metric}", title=f"sweep {name}")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, bbox_inches="tight")


def _write_kernelspec(folder: str) -> str:
    """A kernelspec for this interpreter, so papermill runs the notebook in this environment."""
    spec = Path(folder) / "kernels" / "pipeline-report"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                # Errors only: a local kernel's warning that TCP is unencrypted is noise on the console.
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--log-level=ERROR"],
                "display_name": "pipeline report",
                "language": "python",
            }
        )
    )
    return spec.name


def _without_run_records(notebook) -> None:
    """Drop what papermill and the kernel record about the execution itself (start and end
    times, durations, temporary paths, the random id of the injected cell): the executed
    notebook depends on its inputs only."""
    notebook.metadata.pop("papermill", None)
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number}"
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)


KERNEL_STARTS = 3  # tries at starting the notebook's kernel (see execute_notebook)


def execute_notebook(template, executed, html, parameters: dict) -> None:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    with tempfile.TemporaryDirectory(prefix="report-kernel-") as kernels, atomic_path(executed, suffix=".ipynb") as tmp:
        os.environ["JUPYTER_PATH"] = kernels
        kernel = _write_kernelspec(kernels)
        for attempt in range(1, KERNEL_STARTS + 1):
            try:
                papermill.execute_notebook(
                    str(template),
                    str(tmp),
                    parameters=parameters,
                    kernel_name=kernel,
                    cwd=os.getcwd(),
                    progress_bar=False,
                )
                break
            except RuntimeError as err:
                # Two reports starting kernels at once (`dvc queue start --jobs 2`) can pick the same
                # free TCP ports, jupyter_client's known race: the loser's kernel dies at start. No
                # cell has run then, so starting again is safe.
                if "Kernel died before replying" not in str(err) or attempt == KERNEL_STARTS:
                    raise
                print(f"report: the notebook's kernel died at start ({err}); starting it again", flush=True)
                time.sleep(attempt)
        notebook = nbformat.read(tmp, as_version=4)
        _without_run_records(notebook)
        nbformat.write(notebook, tmp)
    # No MathJax or RequireJS from a CDN: the page must render offline.
    exporter = HTMLExporter(mathjax_url="", require_js_url="", exclude_input=True)
    body, _ = exporter.from_notebook_node(notebook)
    write_text(html, body)


def report(runs, runs_dir, data_dir, metric: str, notebook, out_dir, replicates=None):
    """Write the files of REPORT_FILES into `out_dir`; return the comparison table. `replicates`:
    ReportSettings.replicates, the runs that replicate others."""
    paths = {key: Path(out_dir) / name for key, name in REPORT_FILES.items()}
    results = read_runs(runs, runs_dir, metric)
    table = comparison_table(results, metric, load_references())
    summary = replicate_summary(results, replicates, runs_dir)
    replicates_text = replicates_markdown(summary, results)
    write_text(paths["table_csv"], table.to_csv(index=False, lineterminator="\n"))
    write_text(paths["table_md"], markdown_table(table, metric) + "\n## Replicates\n\n" + replicates_text)
    write_json(paths["replicates"], summary)
    write_json(paths["headline"], headline_metrics(results))
    write_text(paths["confusions"], confusion_cells(results))
    plot_curves(runs, runs_dir, paths["curves"])
    plot_parameters(table, metric, paths["parameters"])
    plot_sweeps(sweep_results(results, metric), metric, paths["sweeps"])
    execute_notebook(
        notebook,
        paths["executed"],
        paths["html"],
        {
            "runs": list(runs),
            "metric": metric,
            "runs_dir": str(runs_dir),
            "run_files": RUN_FILES,
            "data_dir": str(data_dir),
            "figures": {key: str(paths[key]) for key in ("curves", "parameters", "sweeps")},
            "comparison_csv": str(paths["table_csv"]),
            "significance": significance(table),
            "replicates": replicates_text,
            "confused": {result.run: [str(pair) for pair in result.confused] for result in results},
        },
    )
    print(f"report: {paths['html']}; best run by {metric}: {table.iloc[0]['run']} ({table.iloc[0][metric]:.4f})")
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--config", required=True, help="report config (configs/report.json): the metric")
    parser.add_argument("--runs-dir", required=True, help="folder with one folder of results per run")
    parser.add_argument("--data-dir", required=True, help="prepare's report files (samples.png, class_balance.csv)")
    parser.add_argument("--notebook", required=True, help="notebook template")
    parser.add_argument("--out-dir", required=True, help="folder for the files of REPORT_FILES")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)
    return run_stage(
        lambda: report(
            args.runs,
            args.runs_dir,
            args.data_dir,
            (settings := ReportSettings.from_json(args.config)).metric,
            args.notebook,
            args.out_dir,
            settings.replicates,
        ),
        args.log,
    )


if __name__ == "__main__":
    sys.exit(main())
