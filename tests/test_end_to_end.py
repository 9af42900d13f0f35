"""The whole DAG on digits, under Snakemake and under DVC, in throw-away projects.

Snakemake builds one project once (the fixture `built`); `recorded` is a copy of it
whose results `dvc commit` recorded and git committed. Tests only read those two: a
test that changes a project (DVC rebuilds it from scratch, a runner reruns after a
change of one run's parameters, a sweep grows, the split changes) works on a copy
of its own, and the two commits that DVC diffs are a fixture too. So each test sees
the state its fixtures make, whichever tests ran before it.
"""

import json
import re
import shutil

import pytest

from stages.lib.layout import EVALUATION_FILES, REPORT_FILES, RUN_FILES, run_file
from tests.browser import render
from tests.conftest import copy_project, make_project, run, set_params, tiny
from tests.test_codedeps import reworded
from tests.test_datasets import FASHION_MIRROR, require_fashion_mirror

pytestmark = pytest.mark.slow  # the pipeline under both runners, Chromium, the real Fashion-MNIST

RUNS = ["softmax", "mlp", "cnn_intro", "dropout-0.3"]  # three runs and a one-point sweep
PER_RUN = list(RUN_FILES.values())  # in a run's folder
TOP = [
    *(f"reports/{name}" for name in REPORT_FILES.values()),
    "models/package.tar.gz",
    "models/package/model.keras",
    "models/package/SHA256SUMS",
    "reports/data/samples.png",
    "reports/data/class_balance.csv",
]
# JavaScript for the Snakemake report: click the element that shows `text`, or a result's "eye" button.
CLICK = "[...document.querySelectorAll('*')].filter(e => !e.children.length && e.innerText && e.innerText.trim() == {!r}).pop().click()"  # noqa: E501 - JavaScript, kept on one line
SHOW = "[...document.querySelectorAll('tr')].find(r => r.cells[0] && r.innerText.includes({!r})).querySelector('a[iconname=eye]').click()"  # noqa: E501 - JavaScript, kept on one line
ALL_IMAGES_LOADED = (
    "document.images.length > 0 && Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
)


def three_runs_and_a_sweep(params):
    tiny(params)
    params["runs"] = {name: params["runs"][name] for name in RUNS[:3]}
    params["sweeps"] = {
        "dropout": {"run": {"architecture": "cnn_dropout", "padding": "same"}, "grid": {"dropout": [0.3]}}
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The project after `snakemake --cores 2`; what Snakemake printed is in snakemake.log beside it."""
    project = make_project(tmp_path_factory.mktemp("e2e") / "project", three_runs_and_a_sweep)
    result = run(["snakemake", "--cores", "2"], project)
    (project.parent / "snakemake.log").write_text(result.stdout + result.stderr)
    return project


@pytest.fixture(scope="module")
def recorded(built):
    """A copy of `built` whose results `dvc commit` recorded, all committed to git."""
    project = copy_project(built, built.parent / "recorded")
    run(["dvc", "commit", "--force", "--quiet"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "results A"], project)
    return project


@pytest.fixture
def project(recorded, tmp_path):
    """The test's own copy of `recorded`, to change."""
    return copy_project(recorded, tmp_path / "project")


@pytest.fixture(scope="module")
def softmax_changed(recorded):
    """A copy of `recorded` in which softmax's learning rate changed and `dvc repro` reran, committed:
    HEAD~1 and HEAD differ in that one parameter. Returns the project and what `dvc repro` printed."""
    project = copy_project(recorded, recorded.parent / "softmax-changed")
    set_params(project, lambda p: p["runs"]["softmax"].update(learning_rate=0.05))
    result = run(["dvc", "repro"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "results B"], project)
    return project, result


def planned_jobs(project) -> dict[str, int]:
    """Job counts of what `snakemake` would run now (its dry run's job table)."""
    out = run(["snakemake", "--dry-run", "--nocolor"], project).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def dvc_ran(result) -> set[str]:
    """The stages a `dvc repro` ran (it logs them on stderr)."""
    return set(re.findall(r"Running stage '([^']+)'", result.stdout + result.stderr))


def results(project) -> dict[str, bytes]:
    """Every metrics file and model: what must not depend on how the jobs were scheduled."""
    files = [*project.glob("reports/runs/**/*"), *project.glob("models/runs/*/*")]
    # Wall-clock times are in logs/ only: every result is a function of params and data. Snakemake
    # marks each directory() output (dvclive's folder) with an empty file that git and DVC ignore.
    return {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in files
        if p.is_file() and p.name not in (".snakemake_timestamp", ".gitignore")  # the runners' bookkeeping
    }


def overlapping_train_jobs(log: str) -> int:
    """The most train jobs that ran at once, read from a Snakemake log."""
    running, most, rule = set(), 0, None
    for line in log.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):", line):
            rule = match[1]
        elif (match := re.match(r"^\s+jobid: (\d+)", line)) and rule == "train":
            running.add(match[1])
            most = max(most, len(running))
        elif match := re.match(r"^Finished jobid: (\d+)", line):
            running.discard(match[1])
    return most


def test_snakemake_runs_the_whole_pipeline(built):
    project = built
    assert "13 of 13 steps (100%) done" in (project.parent / "snakemake.log").read_text()
    missing = [
        f"reports/runs/{r}/{n}" for r in RUNS for n in PER_RUN if not (project / "reports/runs" / r / n).exists()
    ]
    missing += [path for path in TOP if not (project / path).exists()]
    assert missing == []
    # Each job wrote its own files only: exactly the declared outputs, no leftovers.
    for name in RUNS:
        assert [p.name for p in (project / "models/runs" / name).iterdir()] == ["model.keras"]
        assert json.loads((project / run_file("provenance", name)).read_text())["config"]["run"] == name
    assert not list(project.rglob(".*.tmp*"))
    assert planned_jobs(project) == {}, "a second snakemake must have nothing to do"
    html = (project / "reports" / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 2  # curves and confusion matrices, embedded
    assert not re.search(r"<script[^>]+src=[\"']https?://", html), "the report loads a script from the web"


# What a reader scanning report.html at 1,400 pixels needs, measured by the browser: nothing wider
# than the window, every contents link landing on a heading, the comparison table in full view,
# a grid of every run's confusion matrix side by side, and F1 per class with a row per run.
LAYOUT = """JSON.stringify({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    table: document.querySelector('#T_comparison').getBoundingClientRect().right,
    links: [...document.querySelectorAll('#contents a')].map(a => a.getAttribute('href')),
    missing: [...document.querySelectorAll('#contents a')].filter(a => !document.getElementById(
        decodeURIComponent(a.getAttribute('href').slice(1)))).map(a => a.getAttribute('href')),
    grid: [...document.querySelectorAll('.grid img')].map(i => [i.getBoundingClientRect().top, i.naturalWidth]),
    perClass: [...document.querySelectorAll('#T_per-class tbody tr')].map(r => r.cells[0].innerText),
    headings: [...document.querySelectorAll('h3')].map(h => h.parentElement.innerText),
})"""


def test_the_report_reads_at_1400_pixels(built, tmp_path):
    """issue 39: report.html at 1,400 pixels: contents, the comparison table within the width,
    confusion matrices side by side, F1 per class across runs, run headings in words."""
    page = built / "reports" / "report.html"
    shown = render(page, tmp_path / "report-1400.png", ("", ALL_IMAGES_LOADED), width=1400, measure=LAYOUT)
    assert shown["settled"], shown["condition"]
    layout = json.loads(shown["measured"])
    assert layout["overflow"] <= 0 and layout["table"] <= 1400, layout
    assert "#Comparison" in layout["links"] and {f"#{r}" for r in RUNS} <= set(layout["links"])
    assert layout["missing"] == [], layout["missing"]
    # Every run's matrix, loaded, several to a row.
    assert len(layout["grid"]) == len(RUNS) and all(width > 0 for _, width in layout["grid"])
    assert len({top for top, _ in layout["grid"]}) < len(RUNS)
    assert sorted(layout["perClass"]) == sorted(RUNS)
    assert not any("{'" in text for text in layout["headings"])
    # On digits no run has a published figure: the section says so instead of standing empty.
    assert "No published result for these runs' dataset and architectures" in page.read_text()


def test_both_html_reports_render_offline_in_chromium(built, tmp_path):
    """The notebook's HTML and `snakemake --report` open in headless Chromium with their images,
    and neither asks any other host for anything."""
    project = built
    notebook = render(project / "reports" / "report.html", tmp_path / "report.png", ("", ALL_IMAGES_LOADED))
    assert notebook["settled"] and notebook["external"] == [] and notebook["failed"] == []
    # 3 comparison figures, the data sample, and each run's confusion matrix, misclassified images and filters
    assert len(notebook["images"]) == 4 + 3 * len(RUNS)
    assert all(run in notebook["text"] for run in RUNS)

    run(["snakemake", "--report", str(tmp_path / "snakemake.html")], project)
    snakemake = render(
        tmp_path / "snakemake.html",
        tmp_path / "snakemake.png",
        ("", "document.body.innerText.includes('Comparison')"),
        (CLICK.format("Runs"), "document.body.innerText.includes('dropout-0.3')"),
        (CLICK.format("dropout-0.3"), "document.body.innerText.includes('misclassified.png')"),
        (SHOW.format("misclassified.png"), "Array.from(document.images).some(i => i.naturalWidth > 300)"),
    )
    assert snakemake["settled"] and snakemake["external"] == [] and snakemake["failed"] == [], {
        key: snakemake[key] for key in ("settled", "condition", "external", "failed")
    }
    assert all(image["loaded"] for image in snakemake["images"])
    for shot in ("report.png", "snakemake.png"):
        assert (tmp_path / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / shot).stat().st_size > 10_000


def test_dvc_commit_records_snakemake_results(built, tmp_path):
    project = copy_project(built, tmp_path / "project")
    run(["dvc", "commit", "--force", "--quiet"], project)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout
    assert dvc_ran(run(["dvc", "repro"], project)) == set()


def test_dvc_repro_from_scratch_gives_identical_results(built, project):
    """DVC runs one stage at a time; Snakemake built the project two train jobs at a time: every
    result and model is the same, byte for byte."""
    assert overlapping_train_jobs((built.parent / "snakemake.log").read_text()) == 2, "no two train jobs ran at once"
    before = results(project)
    # Per run: evaluate's files, history and summary, dvclive's summary and 5 TSVs, the model.
    assert len(before) == len(RUNS) * (len(EVALUATION_FILES) + 2 + 6 + 1)
    for folder in ("data", "models", "reports", "configs"):
        shutil.rmtree(project / folder)
    # --force: recompute every stage instead of checking its recorded outputs out of the cache.
    result = run(["dvc", "repro", "--force"], project)
    assert {"configure", "download", "prepare", "train@mlp", "evaluate@cnn_intro", "report", "package"} <= dvc_ran(
        result
    )
    after = results(project)
    assert before.keys() == after.keys()
    # Provenance names the git commit: none when Snakemake ran, `recorded`'s when DVC did.
    changed = [name for name in before if before[name] != after[name] and not name.endswith("/provenance.json")]
    assert changed == []
    assert dvc_ran(run(["dvc", "repro"], project)) == set()
    assert planned_jobs(project) == {}, "snakemake must accept what DVC rebuilt"


def test_one_changed_run_reruns_only_its_jobs_under_snakemake(project):
    set_params(project, lambda p: p["runs"]["mlp"].update(dropout=0.4))
    assert planned_jobs(project) == {"train": 1, "evaluate": 1, "report": 1, "package": 1, "all": 1}
    result = run(["snakemake", "--cores", "2"], project)
    assert "Finished jobid" in result.stderr + result.stdout
    assert json.loads((project / "configs" / "mlp.json").read_text())["model"]["dropout"] == 0.4
    run(["dvc", "commit", "--force", "--quiet"], project)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout


def test_one_changed_run_reruns_only_its_stages_under_dvc(softmax_changed):
    project, result = softmax_changed  # runs.softmax.learning_rate: 0.05, then `dvc repro`
    assert dvc_ran(result) == {"configure", "train@softmax", "evaluate@softmax", "report", "package"}
    assert planned_jobs(project) == {}, "snakemake must accept what DVC reran"


def test_a_code_change_reruns_exactly_the_jobs_that_run_it_under_both_runners(project):
    def edit(path, old, new):
        text = (project / path).read_text()
        assert text.count(old) == 1
        (project / path).write_text(text.replace(old, new))

    # A comment before every statement and every docstring reworded, in every module: no job reruns.
    for path in (project / "stages").rglob("*.py"):
        path.write_text(reworded(path.read_text()))
    assert planned_jobs(project) == {}
    # DVC sees code only by its bytes: configure, whose input is the code it fingerprints, reruns
    # (seconds) and writes no new fingerprint, so nothing after it does.
    status = run(["dvc", "status"], project).stdout
    assert re.findall(r"^(\S+):$", status, re.M) == ["configure"], status
    assert dvc_ran(run(["dvc", "repro"], project)) == {"configure"}
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout
    assert planned_jobs(project) == {}
    # One constant of evaluate: every run's evaluation, then what reads them; no training.
    edit("stages/evaluate.py", "FILTERS_SHOWN = 16", "FILTERS_SHOWN = 15")
    assert planned_jobs(project) == {"evaluate": len(RUNS), "report": 1, "package": 1, "all": 1}
    ran = dvc_ran(run(["dvc", "repro"], project))
    assert ran == {"configure", *(f"evaluate@{name}" for name in RUNS), "report", "package"}
    assert planned_jobs(project) == {}, "snakemake must accept what DVC reran"
    # One architecture's code: the runs of that architecture retrain, no other.
    edit("stages/lib/architectures/cnn_intro.py", "dense_units=64", "dense_units=32")
    assert planned_jobs(project) == {"train": 1, "evaluate": 1, "report": 1, "package": 1, "all": 1}
    ran = dvc_ran(run(["dvc", "repro"], project))
    assert ran == {"configure", "train@cnn_intro", "evaluate@cnn_intro", "report", "package"}
    assert planned_jobs(project) == {}
    # A new architecture, as docs/development.md adds one, and a run of it: that run trains, no other.
    (project / "stages/lib/architectures/tiny.py").write_text(
        "def build(input_shape, num_classes, width=16):\n    import keras\n\n    return keras.Sequential(\n"
        "        [keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(width, activation='relu'),\n"
        "         keras.layers.Dense(num_classes, activation='softmax')]\n    )\n"
    )
    edit("workflow/schemas/params.schema.yaml", "enum: [softmax, mlp,", "enum: [tiny, softmax, mlp,")
    edit(
        "workflow/schemas/params.schema.yaml",
        "      dense_dropout:\n",
        "      width: {type: integer, description: Units.}\n      dense_dropout:\n",
    )
    set_params(project, lambda p: p["runs"].update(tiny={"architecture": "tiny", "width": 8}))
    assert planned_jobs(project) == {"train": 1, "evaluate": 1, "report": 1, "package": 1, "all": 1}
    ran = dvc_ran(run(["dvc", "repro"], project))
    assert ran == {"configure", "train@tiny", "evaluate@tiny", "report", "package"}
    # Snakemake then retrains nothing; it would redo report and package, whose recorded `--runs`
    # list DVC's run did not update in its records (a runner disagreement of its own, issue 38).
    assert set(planned_jobs(project)) <= {"report", "package", "all"}


def _committed_metrics(project, rev: str, run_name: str) -> dict:
    return json.loads(run(["git", "show", f"{rev}:{run_file('metrics', run_name)}"], project).stdout)


def test_reviewers_diff_metrics_params_and_plots(softmax_changed, tmp_path):
    project, _ = softmax_changed  # HEAD~1 and HEAD differ in one parameter: softmax's learning rate.
    old = {name: _committed_metrics(project, "HEAD~1", name) for name in RUNS}
    new = {name: _committed_metrics(project, "HEAD", name) for name in RUNS}
    assert old["softmax"]["loss"] != new["softmax"]["loss"]

    metrics = json.loads(run(["dvc", "metrics", "diff", "HEAD~1", "HEAD", "--json"], project).stdout)
    softmax = metrics[run_file("metrics", "softmax")]
    for key in ("accuracy", "loss", "macro_f1"):
        if key in softmax:  # dvc lists only what changed
            assert (softmax[key]["old"], softmax[key]["new"]) == (old["softmax"][key], new["softmax"][key])
    assert softmax["loss"]["diff"] == pytest.approx(new["softmax"]["loss"] - old["softmax"]["loss"])
    # Only the changed run's numbers: its headline metrics and dvclive's last epoch, and its
    # entries of the headline file (reports/metrics.json, keyed by run).
    headline = metrics.pop(f"reports/{REPORT_FILES['headline']}")
    assert {path.split("/")[2] for path in metrics} == {"softmax"}, metrics
    assert {key.split(".")[0] for key in headline} == {"softmax"}, headline

    params = json.loads(run(["dvc", "params", "diff", "HEAD~1", "HEAD", "--json"], project).stdout)
    change = params["params.yaml"]["runs.softmax.learning_rate"]
    assert (change["old"], change["new"]) == (None, 0.05)

    table = run(["python", "-m", "stages.compare", "HEAD~1", "HEAD"], project).stdout.splitlines()
    rows = {line.split(" | ")[0].strip("| "): line for line in table if line.startswith("| ") and "---" not in line}
    assert set(rows) == {"run", *RUNS}
    a, b = old["softmax"], new["softmax"]
    changed = f"{a['loss']:.4f} → {b['loss']:.4f} | {b['loss'] - a['loss']:+.4f}"
    assert changed in rows["softmax"], rows["softmax"]
    assert rows["mlp"] == (
        f"| mlp | {new['mlp']['accuracy']:.4f} | 0 | {new['mlp']['macro_f1']:.4f} | 0 | {new['mlp']['loss']:.4f} | 0 "
        "| same predictions |"
    )
    # The verdict beside the deltas: McNemar's test between the two versions' answers, and the interval.
    assert re.search(
        r"\| (changed significantly|within noise) \(p = [\d.e+-]+; "
        r"Δ accuracy 95% CI \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]\) \|$",
        rows["softmax"],
    ), rows["softmax"]

    out = tmp_path / "plots-diff"
    run(["dvc", "plots", "diff", "HEAD~1", "HEAD", "--out", str(out)], project)
    page = (out / "index.html").read_text()
    plots = ["validation_loss_per_epoch", "validation_accuracy_per_epoch", "learning_rate_per_epoch"]
    plots.append(f"reports/{REPORT_FILES['confusions']}".replace("/", "_").replace(".", "_"))
    assert re.findall(r"vegaEmbed\('#(\w+)'", page) == plots
    assert '"rev": "HEAD~1"' in page and '"rev": "HEAD"' in page  # both commits' data, side by side
    assert len(page.encode()) < 5_000_000, len(page.encode())  # a few MB, not tens
    # The page carries Vega itself and draws offline. Each run has its own colour, named in the
    # curves' legends (Vega computed the run); the revisions have a marker shape each; between
    # revisions only the changed run's confusion matrices are drawn, one per revision.
    texts = "[...document.querySelectorAll('.vega-embed svg text')].map(t => t.textContent)"
    legend_names = f"{json.dumps(RUNS)}.every(r => {texts}.includes(r))"
    shown = render(
        out / "index.html",
        tmp_path / "plots.png",
        ("", f"document.querySelectorAll('.vega-embed svg.marks').length >= {len(plots)} && {legend_names}"),
        measure=f"""JSON.stringify({{
            texts: {texts},
            rate: [...document.querySelectorAll('#learning_rate_per_epoch .role-axis-label text')]
                .map(t => t.textContent),
            shapes: [...new Set([...document.querySelectorAll('#validation_loss_per_epoch .role-legend-symbol path')]
                .map(p => p.getAttribute('d')))].length,
        }})""",
    )
    assert shown["settled"] and shown["external"] == [] and shown["failed"] == []
    measured = json.loads(shown["measured"])
    panels = {t for t in measured["texts"] if " @ " in t}
    assert panels == {"softmax @ HEAD~1", "softmax @ HEAD"}, panels
    # The learning-rate axis shows the rates (0.001, 0.05), not one tick rounded to "0".
    assert any(0 < float(label) < 1 for label in measured["rate"] if label.replace(".", "").isdigit()), measured["rate"]
    assert measured["shapes"] >= 2  # a circle for one revision, a square for the other


def test_a_new_sweep_point_adds_one_job_under_both_runners(project):
    set_params(project, lambda p: p["sweeps"]["dropout"]["grid"].update(dropout=[0.3, 0.6]))
    # Parsing the Snakefile also regenerates dvc.yaml for the new run.
    assert planned_jobs(project) == {"train": 1, "evaluate": 1, "report": 1, "package": 1, "all": 1}
    result = run(["dvc", "repro"], project)
    assert dvc_ran(result) == {"configure", "train@dropout-0.6", "evaluate@dropout-0.6", "report", "package"}
    assert (project / run_file("metrics", "dropout-0.6")).exists()
    # Not yet: Snakemake accepting a run that DVC added (its records of report's and
    # package's run list are older): issue 9 keeps the two runners' records in step.


def test_a_changed_split_reprepares_without_downloading(project):
    set_params(project, lambda p: p["split"].update(val_fraction=0.2))
    every_run = len(RUNS)
    assert planned_jobs(project) == {
        "prepare": 1,
        "train": every_run,
        "evaluate": every_run,
        "report": 1,
        "package": 1,
        "all": 1,
    }
    run(["dvc", "repro", "configure"], project)  # DVC sees the new split through configure's output
    status = run(["dvc", "status", "download", "prepare"], project).stdout
    assert "prepare:" in status and "download:" not in status


def test_fashion_mnist_from_the_debian_mirror_under_snakemake(tmp_path):
    """One key (plus the mirror path) switches the whole pipeline to the real Fashion-MNIST."""
    require_fashion_mirror()

    def fashion(params):
        tiny(params)
        params["data"].update(dataset="fashion_mnist", mirror=str(FASHION_MIRROR), train_subsample=3000)
        params["runs"] = {"mlp": {"architecture": "mlp", "units": [64], "epochs": 2}}
        params.pop("sweeps")  # one run: the default's sweep would add nine

    project = make_project(tmp_path / "project", fashion)
    result = run(["snakemake", "--cores", "2"], project)
    assert "verified by content sha256 (repacked gzip)" in result.stdout + result.stderr
    assert [p.name for p in (project / "models/runs").iterdir()] == ["mlp"]
    balance = (project / "reports/data/class_balance.csv").read_text().splitlines()
    assert balance[1] == "T-shirt/top,300,900,1000,2200" and balance[-1] == "total,3000,9000,10000,22000"
    metrics = json.loads((project / run_file("metrics", "mlp")).read_text())
    assert json.loads((project / run_file("scores", "mlp")).read_text())["test_images"] == 10000
    assert metrics["accuracy"] > 0.6  # 3,000 images, 2 epochs: far above chance (0.1), far from tuned
    assert json.loads((project / "models/package/class_names.json").read_text())[9] == "Ankle boot"
    run(["dvc", "commit", "--force", "--quiet"], project)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout
