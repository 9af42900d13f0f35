# Parameters, paths and helpers shared by the rules (no rules here: `snakemake --lint`).
#
# params.yaml is loaded by stages.lib.params rather than `configfile:` so that any
# error (duplicate key, unknown key, bad value) stops the run with one line.
# The per-stage and per-run configs are written here, while the workflow is parsed and only
# when their content changes: a changed run is then one newer input file, and
# exactly that run's jobs rerun. Under DVC the `configure` stage writes them.
# Every path comes from stages/lib/layout.py, which dvc.yaml's generator reads too.
from pathlib import Path
import contextlib
import functools
import json
import sys

# The stages package is the project root's, not an installed copy.
sys.path.insert(0, str(Path(workflow.basedir).parent))

from stages.lib.params import ParamsError, source_inputs, uses_imagenet
from stages.lib.runlock import RunnerBusy, claim_outputs
from stages.lib.parse_cache import configure
from stages.lib.stamps import stamp
from stages.lib import cluster, layout, overrides

# params.yaml is the one source of settings, read the same way by both runners:
# values given to Snakemake alone would make its results differ from DVC's.
if config:
    sys.exit(overrides.refusal(config))

# A cluster profile's site settings ship as placeholders: refused here, so a dry run says so too.
if placeholders := cluster.placeholders(cluster.site_settings(workflow.resource_settings)):
    sys.exit(cluster.placeholder_error(placeholders))

# Validate params.yaml, write the configs, and keep dvc.yaml's runs (and image folder) in step
# (each file rewritten only if it changed); done again only when one of their files changed.
try:
    PARAMS, JOBS, RUN_PATTERN = configure("params.yaml", layout.CONFIG_DIR, "dvc.yaml")
except ParamsError as err:
    sys.exit(f"error: {err}")

config.update(PARAMS)

# One runner at a time in this folder (stages/lib/runlock.py): a run with jobs to do holds DVC's
# lock on dvc.yaml's outputs, so `dvc repro` started meanwhile is refused by DVC, and this run
# is refused if DVC is running here. Dry runs and "Nothing to be done" take no lock.
RUNNER_LOCK = contextlib.ExitStack()


onstart:
    # Before anything is submitted: an unreachable controller made sbatch fail and the run hang.
    if getattr(workflow.executor_plugin, "name", None) == "slurm":
        if problem := cluster.controller_problem():
            sys.exit(f"error: {problem}; Snakemake submitted no job (docs/running.md: checking a profile)")
    try:
        RUNNER_LOCK.enter_context(claim_outputs("dvc.yaml"))
    except RunnerBusy as err:
        sys.exit(f"error: {err}; Snakemake started no job")


onsuccess:
    RUNNER_LOCK.close()
    print(closing_summary(), flush=True)


onerror:
    RUNNER_LOCK.close()


RUNS = list(JOBS)  # run -> its train job's architecture, data folder and the folder it reads
# Where a run starts from ImageNet's weights, every train job takes them, as in dvc.yaml.
TRAIN_WEIGHTS = [layout.WEIGHTS] if uses_imagenet(PARAMS) else []


def closing_summary():
    """The run's last lines: where the comparison, the report and the package are, and which
    run the package holds (the best unless params.yaml names one), as its selection.json says."""
    lines = [
        f"{what}: {path}"
        for what, path in (
            ("comparison", f"{layout.REPORT_DIR}/{layout.REPORT_FILES['table_md']}"),
            ("report", f"{layout.REPORT_DIR}/{layout.REPORT_FILES['html']}"),
            ("package", layout.ARCHIVE),
        )
        if Path(path).is_file()
    ]
    try:
        selection = json.loads(Path(layout.PACKAGE_DIR, "selection.json").read_text())
        metrics = json.loads(Path(layout.run_file("metrics", selection["run"])).read_text())
    except (OSError, ValueError, KeyError):
        return "\n".join(lines)
    metric = selection["metric"]
    how = "named in params.yaml" if selection["chosen"] else f"the best by {metric}"
    ties = list(selection.get("indistinguishable") or {})
    named = ", ".join(ties[:3]) + (", ..." if len(ties) > 3 else "")
    tied = f"; McNemar's test cannot tell it from {len(ties)} other run(s): {named}" if ties else ""
    best = f"packaged run: {selection['run']} ({how}, {metric} {metrics[metric]:.4f}{tied})"
    return "\n".join([best, *lines])


# A run's name as params.schema.yaml allows it. Not an alternation of the runs' names: Snakemake
# compiles it into every rule's file patterns: `snakemake -n` of a 500-run grid took 3.6 s, not 3.2 s.
wildcard_constraints:
    run=RUN_PATTERN,
    folds=r"\d+",


def per_run(path):
    """One path per run, in params.yaml order (`path` is a rule output with {run}).
    An input function, not a list: Snakemake 9 hashes a list input once per file it holds
    (rules.py, expand_input), which made a 500-run DAG take seconds more."""
    paths = expand(path, run=RUNS)
    return lambda wildcards: paths


def train_code(wildcards):
    """A train job's code fingerprint: that of its run's architecture (one file per architecture)."""
    return layout.code_config("train", JOBS[wildcards.run]["architecture"])


def stamps_of(folders):
    """An input: the stamps of folder inputs (a path, a list, or an input function), so that a
    change deep inside a folder reruns the jobs that read it (stages/lib/stamps.py says how).
    Each folder is walked once per snakemake process."""

    def stamps(wildcards):
        paths = folders(wildcards) if callable(folders) else folders
        return [folder_stamp(path) for path in ([paths] if isinstance(paths, str) else paths)]

    return stamps


folder_stamp = functools.cache(stamp)


def train_data(wildcards):
    """A train job's data: the prepared folder, or a fold replicate's folds (`cv_folds`)."""
    return JOBS[wildcards.run]["data"]


def train_data_path(wildcards):
    """The folder a train job reads: its data folder, or its fold in the folds' folder."""
    return JOBS[wildcards.run]["data_path"]


def folder_of(kind, name, levels=1):
    """A param: the folder `levels` up from (the first file of) a rule's input or output
    `name`, so that a folder passed to a stage is not a second spelling of its files."""

    def folder(wildcards, input, output):
        files = getattr(input if kind == "input" else output, name)
        first = files if isinstance(files, str) else files[0]
        return str(Path(first).parents[levels - 1])

    return folder


def run_figures(folder):
    """evaluate's folder: `snakemake --report` shows its figures and classification report under
    the run's name (one caption, report/evaluation.rst, that says which file it is)."""
    return report(
        directory(folder),
        patterns=[r"{file,[^/]+\.(png|txt)}"],
        caption="../report/evaluation.rst",
        category="Runs",
        subcategory="{run}",
        labels={"file": "{file}"},
    )


def comparison(name, caption):
    """A file of the report stage, shown in `snakemake --report` under "Comparison"."""
    return report(
        f"{layout.REPORT_DIR}/{layout.REPORT_FILES[name]}",
        caption=f"../report/{caption}.rst",
        category="Comparison",
        labels={"figure": caption.replace("_", " ")},
    )
