"""Compare the test metrics of two versions: a Markdown table for a pull-request comment.

    python -m stages.compare main HEAD                 # two git revisions
    python -m stages.compare old/reports reports       # two report folders
    python -m stages.compare HEAD reports --metrics accuracy loss

A side is a folder (holding runs/<run>/evaluation/metrics.json) if one exists
at that path, else a git revision of the repository in the current directory
(its reports/runs/*/evaluation/metrics.json; a version from before evaluation/
has runs/<run>/metrics.json, read as well). Each run is a row with the metric of both sides
and the change; runs only in the second side are marked added, runs only in
the first removed. The last column is the verdict a reviewer needs beside `dvc metrics diff`:
whether the run's answers on the same test images (its predictions.csv) changed more than
chance would (exact McNemar test, Holm's correction, and the interval of the change in
accuracy), or why that was not tested (other test images, no predictions).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

from stages.lib.errors import InputError, PipelineError
from stages.lib.layout import EVALUATION_FILES, REPORT_DIR, REPORT_FILES, RUN_FILES, RUNS_DIR
from stages.lib.uncertainty import (
    ALPHA,
    CONFIDENCE,
    difference_interval,
    holm,
    mcnemar_pvalue,
    read_answers,
    same_images,
)

# A run's metrics.json in its folder: where evaluate writes it, then where it did before its
# evaluation/ folder (commits before 2026-11-24), so that older versions still compare.
METRICS_PATHS = (RUN_FILES["metrics"], EVALUATION_FILES["metrics"])
PREDICTIONS_PATHS = (RUN_FILES["predictions"], EVALUATION_FILES["predictions"])
TABLE = REPORT_FILES["table_csv"]

DEFAULT_METRICS = ("accuracy", "macro_f1", "loss")


class CompareError(PipelineError):
    """A side is neither a report folder nor a git revision, or holds no metrics."""


def _git(*args: str) -> str:
    # errors="replace": a file that is not UTF-8 then fails as "not valid JSON", by name.
    result = subprocess.run(["git", *args], capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise CompareError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "git failed")
    return result.stdout


def _listed_runs(table: str) -> list[str]:
    """The run column of a comparison.csv: the runs of that version, best first."""
    return [line.split(",")[0] for line in table.splitlines()[1:] if line]


def _refuse_constant(name: str):
    raise ValueError(f"holds {name}")  # json reads NaN and Infinity, which are not JSON


def _parse(text: str, where: str, metrics) -> dict:
    """A metrics.json (`where`: its path, or <rev>:<path>) whose `metrics` are finite numbers where present."""
    try:
        found = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as err:  # JSONDecodeError, NaN/Infinity
        raise CompareError(f"{where}: not valid JSON ({err})") from None
    if not isinstance(found, dict):
        raise CompareError(f"{where}: a JSON {type(found).__name__}, not an object of metrics")
    for name in metrics:
        value = found.get(name)
        # 1e999 parses as infinity; a string or true would be shown as missing.
        if name in found and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
        ):
            raise CompareError(f"{where}: {name} is {value!r}, not a finite number")
        if name in found and not _in_range(name, value):
            raise CompareError(f"{where}: {name} is {value!r}, outside the range such a metric has")
    return found


def _in_range(name: str, value: float) -> bool:
    """A loss is not negative; accuracies, F1, precision and recall are fractions."""
    if "loss" in name:
        return value >= 0
    if any(word in name for word in ("accuracy", "f1", "precision", "recall")):
        return 0 <= value <= 1
    return True


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CompareError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as err:
        raise CompareError(f"{path}: unreadable ({err.strerror})") from None


def _by_run(paths, names) -> dict[str, str]:
    """Run name -> the path of its file, the first of `names` it has, of `paths` relative to the runs' folder."""
    found = {}
    for path in sorted(paths):
        run, _, inside = path.partition("/")
        if inside in names and (run not in found or names.index(inside) < names.index(found[run].partition("/")[2])):
            found[run] = path
    return found


def _side(side: str):
    """A side's files: (paths of its runs' files relative to its runs folder, a reader of one
    such path returning (text, name for errors), the text of its comparison.csv or None)."""
    folder = Path(side)
    if folder.is_dir():
        runs = folder / "runs" if (folder / "runs").is_dir() else folder
        paths = [str(p.relative_to(runs)) for p in runs.glob("*/**/*") if p.is_file()]
        table = runs.parent / TABLE
        return (
            paths,
            lambda path: (_read_text(runs / path), str(runs / path)),
            _read_text(table) if table.is_file() else None,
        )
    try:
        _git("rev-parse", "--verify", "--quiet", f"{side}^{{commit}}")
    except CompareError:
        raise CompareError(f"{side!r} is neither a folder nor a git revision") from None
    # Paths from the current folder (a study's, say), as ls-tree lists them; "./" makes git show
    # read them from there too, not from the repository's root.
    listing = _git("ls-tree", "-r", "--name-only", side, "--", RUNS_DIR).splitlines()
    paths = [path.removeprefix(f"{RUNS_DIR}/") for path in listing]
    try:
        table = _git("show", f"{side}:./{REPORT_DIR}/{TABLE}")
    except CompareError:
        table = None
    return paths, lambda path: (_git("show", f"{side}:./{RUNS_DIR}/{path}"), f"{side}:{RUNS_DIR}/{path}"), table


def load_metrics(side: str, metrics=()) -> dict[str, dict]:
    """Run name -> its metrics.json, from a report folder or a git revision.

    Where the side has a comparison.csv, only its runs count (best first): a
    run removed from params.yaml may leave its folder behind. The `metrics`
    must be finite numbers where a metrics.json has them.
    """
    paths, read, table = _side(side)
    files = _by_run(paths, METRICS_PATHS)
    listed = _listed_runs(table) if table is not None else None
    # Only the listed runs are read: a stale run's folder is not this version's result. A listed run
    # without its metrics would otherwise show as removed (or added) instead of missing.
    lost = [run for run in listed or () if run not in files]
    if lost:
        raise CompareError(f"{side!r}: {TABLE} lists the run {lost[0]!r}, which has no {RUN_FILES['metrics']}")
    found = {run: _parse(*read(files[run]), metrics) for run in (files if listed is None else listed)}
    if not found:
        raise CompareError(f"{side!r} holds no runs/<run>/{RUN_FILES['metrics']}")
    return found


def load_answers(side: str, runs) -> dict[str, object]:
    """Run name -> its predictions.csv as uncertainty.read_answers reads it, for the `runs` that
    have one on this side."""
    paths, read, _ = _side(side)
    files = _by_run(paths, PREDICTIONS_PATHS)
    try:
        return {run: read_answers(*read(files[run])) for run in runs if run in files}
    except InputError as err:
        raise CompareError(str(err)) from None


def _value(metrics: dict | None, name: str) -> float | None:
    value = (metrics or {}).get(name)
    return float(value) if isinstance(value, (int, float)) else None


def _delta(old: float | None, new: float | None) -> str:
    if old is None or new is None:
        return ""
    change = new - old
    return "0" if abs(change) < 5e-5 else f"{change:+.4f}"


def known_metrics(*sides: dict[str, dict]) -> set[str]:
    """The numeric keys of the metrics.json of any run of the `sides`."""
    return {
        name
        for side in sides
        for run in side.values()
        for name, value in run.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def verdicts(old: dict, new: dict) -> dict[str, str]:
    """For each run with predictions on both sides (load_answers), whether its answers on the same
    test images changed more than chance would: McNemar's exact test between the two versions,
    Holm's correction over the runs whose predictions changed, and the interval of the change in
    accuracy. Runs tested on other images are not tested."""
    found, tested = {}, {}
    for run in (run for run in new if run in old):
        before, after = old[run], new[run]
        if not same_images(before, after):
            found[run] = "not tested: the test images differ"
        elif before["predicted"].equals(after["predicted"]):
            found[run] = "same predictions"
        else:
            tested[run] = (before["right"].to_numpy(), after["right"].to_numpy())
    adjusted = holm([mcnemar_pvalue(*pair) for pair in tested.values()])
    for (run, pair), p in zip(tested.items(), adjusted, strict=True):
        low, high = difference_interval(*pair)
        changed = "changed significantly" if p < ALPHA else "within noise"
        found[run] = f"{changed} (p = {p:.2g}; Δ accuracy {CONFIDENCE:.0%} CI [{low:+.4f}, {high:+.4f}])"
    return found


def compare(
    old: dict[str, dict], new: dict[str, dict], metrics=DEFAULT_METRICS, labels=("A", "B"), verdict=None
) -> str:
    """A Markdown table of each metric of each run on both sides, and its change; with
    `verdict` (run -> text, see verdicts), a column saying whether the change is more than noise."""
    # A misspelt metric would be a column of dashes that looks like a result.
    known = known_metrics(old, new)
    unknown = [metric for metric in metrics if metric not in known]
    if unknown:
        raise CompareError(
            f"no run on either side has the metric {unknown[0]!r}; known metrics: {', '.join(sorted(known))}"
        )
    columns = ["run"]
    for metric in metrics:
        columns += [metric, f"Δ {metric}"]
    if verdict is not None:
        columns.append("predictions A → B")
    lines = [
        f"Test metrics, {labels[0]} → {labels[1]}:",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    counts = {"changed": 0, "added": 0, "removed": 0, "unchanged": 0}
    for run in [*new, *(r for r in old if r not in new)]:
        before, after = old.get(run), new.get(run)
        status = "added" if before is None else "removed" if after is None else None
        cells = [f"{run} ({status})" if status else run]
        moved = False
        for metric in metrics:
            a, b = _value(before, metric), _value(after, metric)
            if a is None or b is None:
                shown = a if b is None else b
                cells.append("–" if shown is None else f"{shown:.4f}")
            else:
                cells.append(f"{a:.4f} → {b:.4f}" if abs(b - a) >= 5e-5 else f"{b:.4f}")
                moved |= abs(b - a) >= 5e-5
            cells.append(_delta(a, b))
        counts[status or ("changed" if moved else "unchanged")] += 1
        if verdict is not None:
            cells.append(verdict.get(run, "not tested: no predictions.csv on both sides" if not status else ""))
        lines.append("| " + " | ".join(cells) + " |")
    summary = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    note = (
        [
            "",
            "Predictions A → B: each run's answers on the same test images, A against B: an exact McNemar "
            f"test on the images only one version got right, Holm's correction over the runs whose predictions "
            f"changed (p: adjusted; significant: p < {ALPHA:.2g}), and the {CONFIDENCE:.0%} interval of the "
            "change in accuracy (paired bootstrap).",
        ]
        if verdict is not None
        else []
    )
    return "\n".join([*lines, "", f"Runs: {summary}.", *note]) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="report folder or git revision (A)")
    parser.add_argument("new", help="report folder or git revision (B)")
    parser.add_argument(
        "--metrics",
        nargs="+",
        help=f"metrics.json keys to show (default: those of {' '.join(DEFAULT_METRICS)} that the runs have)",
    )
    args = parser.parse_args(argv)
    try:
        old, new = (load_metrics(side, args.metrics or DEFAULT_METRICS) for side in (args.old, args.new))
        # Named metrics must exist; of the defaults, those of older versions may be missing.
        metrics = args.metrics or [m for m in DEFAULT_METRICS if m in known_metrics(old, new)] or DEFAULT_METRICS
        answers = [load_answers(side, runs) for side, runs in ((args.old, old), (args.new, new))]
        # Versions from before predictions.csv have nothing to test: no column then.
        verdict = verdicts(*answers) if all(answers) else None
        table = compare(old, new, metrics, (args.old, args.new), verdict)
    except CompareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
