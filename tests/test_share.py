"""Share and reproduce: push to the default DVC remote, clone, pull, check, rerun; DVC experiments.

One throw-away project plays the researcher (the fixture `origin`): it runs the
pipeline, commits the results and `dvc push`es them to the remote configured in
.dvc/config (a folder beside the repository). Clones beside it play reviewers and
follow the "Reproduce these results" section of docs/sharing.md. No test changes
`origin`; the pulled clone `reviewer` is shared by tests that only read it or put
back what they change; any other test gets a clone (or a copy) of its own. So no
test depends on which tests ran before it.
"""

import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from stages.lib.layout import RUN_FILES, run_file
from tests.conftest import BIN, ROOT, copy_project, make_project, run, tiny

pytestmark = pytest.mark.slow  # the pipeline under both runners, pushed, pulled and rerun


def flatten(value: dict, prefix: str = "") -> dict:
    """{'eval': {'loss': 1}} -> {'eval.loss': 1}: one entry per column `dvc exp show` makes."""
    return {
        k: v
        for key, item in value.items()
        for k, v in (flatten(item, f"{prefix}{key}.") if isinstance(item, dict) else {f"{prefix}{key}": item}).items()
    }


RUNS = ["softmax", "mlp"]
# docs/configuration.md's `dvc exp show` options: what changed, the changed runs' accuracy (from
# reports/metrics.json, whose columns need no file prefix), nothing else.
EXP_VIEW = ["--only-changed", "--drop", r"Created|State|Executor|.*/|params\.yaml|.*\.(loss|macro_f1)$"]
REMOTE = "imgclf-dvc-storage"  # .dvc/config: ../../imgclf-dvc-storage, i.e. beside the repository


def two_runs(params):
    tiny(params)
    params["runs"] = {name: params["runs"][name] for name in RUNS}
    params["sweeps"] = {}


def metrics_files(project) -> dict[str, bytes]:
    return {run_name: (project / run_file("metrics", run_name)).read_bytes() for run_name in RUNS}


def nothing_to_do(project) -> bool:
    """Snakemake's dry run plans no job, and has a record of every output."""
    result = run(["snakemake", "--dry-run"], project)
    return "Nothing to be done" in result.stdout and "missing metadata" not in result.stdout + result.stderr


def dvc_ran(result) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", result.stdout + result.stderr))


def add_unrun_study(project: Path) -> None:
    """studies/smoke as the repository holds it, but never run here: as a fresh clone has the
    studies, whose results the root's DVC commands must not ask for (each is a DVC project)."""
    study = project / "studies" / "smoke"
    shutil.copytree(
        ROOT / "studies" / "smoke",
        study,
        symlinks=True,
        ignore=lambda folder, names: [n for n in names if n in {"configs", "models", "reports", "dvc.lock", "tmp"}],
    )


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The researcher's repository: code committed, then results made, committed and pushed
    (`dvc commit` without a target: the study beside the root, never run, is not asked about)."""
    project = make_project(tmp_path_factory.mktemp("share") / "project", two_runs)
    add_unrun_study(project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "code"], project)
    run(["snakemake", "--cores", "2"], project)
    run(["dvc", "commit", "--force", "--quiet"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "results"], project)
    run(["dvc", "push"], project)
    return project


def clone_of(origin) -> Path:
    """A new git clone of `origin`, beside it: the same default remote (a path relative to the clone)."""
    target = Path(tempfile.mkdtemp(prefix="clone-", dir=origin.parent))
    run(["git", "clone", "-q", str(origin), str(target)], origin.parent)
    run(["git", "config", "user.email", "reviewer@example.org"], target)
    run(["git", "config", "user.name", "reviewer"], target)
    return target


def pulled_clone_of(origin) -> Path:
    target = clone_of(origin)
    run(["python", "-m", "stages.pull"], target)
    return target


@pytest.fixture
def clone(origin):
    """A reviewer's fresh clone: nothing pulled yet."""
    return clone_of(origin)


@pytest.fixture(scope="module")
def reviewer(origin):
    """A clone after `python -m stages.pull`, for the tests that only read it or put back what they change."""
    return pulled_clone_of(origin)


@pytest.fixture
def own_reviewer(origin):
    """A clone after `python -m stages.pull`, the test's own to change."""
    return pulled_clone_of(origin)


def test_dvc_push_fills_the_default_remote_beside_the_repository(origin):
    assert run(["dvc", "remote", "list"], origin).stdout.split()[:2] == ["storage", str(origin.parent / REMOTE)]
    assert "Cache and remote 'storage' are in sync" in run(["dvc", "status", "--cloud"], origin).stdout
    assert sum(1 for p in (origin.parent / REMOTE).rglob("*") if p.is_file()) > 20


def test_a_fresh_clone_pulls_the_results_and_both_runners_agree(origin, clone):
    assert not (clone / "models/runs/mlp/model.keras").exists() and not (clone / "data/prepared").exists()
    out = run(["python", "-m", "stages.pull"], clone).stdout
    assert "dvc status is clean" in out
    for path in (
        "models/runs/mlp/model.keras",
        "models/package.tar.gz",
        "data/prepared/x_test.npy",
        "reports/report.html",
    ):
        assert (clone / path).read_bytes() == (origin / path).read_bytes(), path
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
    assert dvc_ran(run(["dvc", "repro"], clone)) == set()
    assert nothing_to_do(clone)
    # A later `dvc commit` or `dvc checkout` gives the files new times; Snakemake judges them by content.
    run(["dvc", "commit", "--force", "--quiet"], clone)
    assert nothing_to_do(clone)


def test_a_clone_elsewhere_is_told_in_one_line_how_to_reach_the_remote(origin, tmp_path):
    """The default remote is a folder beside the repository that pushed: a clone at another path
    has none, and `stages.pull` says so, and how to point the clone at it, before DVC lists files."""
    clone = tmp_path / "elsewhere" / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    result = run(["python", "-m", "stages.pull"], clone, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: the DVC remote storage is the folder {tmp_path / 'elsewhere' / REMOTE}, "
        "which does not exist on this machine: "
        "point it at the shared copy: dvc remote modify --local storage url /path/to/imgclf-dvc-storage "
        "(docs/sharing.md), or rerun the pipeline instead"
    ]
    run(["dvc", "remote", "modify", "--local", "storage", "url", str(origin.parent / REMOTE)], clone)
    assert "dvc status is clean" in run(["python", "-m", "stages.pull"], clone).stdout
    assert run(["git", "status", "--porcelain"], clone).stdout == ""


def test_pull_refuses_to_mark_results_that_do_not_match_dvc_lock(clone):
    params = clone / "params.yaml"
    original = params.read_text()
    params.write_text(original.replace("seed: 42", "seed: 7"))
    try:
        result = run(["python", "-m", "stages.pull"], clone, check=False)
    finally:
        params.write_text(original)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: dvc status is not clean after the pull (configure")


def test_verify_recomputes_the_pulled_and_packaged_models(reviewer):
    clone = reviewer
    out = run(["python", "-m", "stages.verify"], clone).stdout
    assert [line.split(":")[0] for line in out.splitlines() if "ok, every metric equals" in line] == sorted(RUNS)
    out = run(["python", "-m", "stages.verify", "--package", "models/package.tar.gz"], clone).stdout
    assert "ok, every metric equals the recorded one" in out


def test_verify_names_every_value_that_differs(reviewer, tmp_path):
    clone = reviewer
    changed = tmp_path / "runs" / "mlp"
    shutil.copytree(clone / "reports/runs/mlp", changed)
    recorded, scores = (json.loads((changed / RUN_FILES[key]).read_text()) for key in ("metrics", "scores"))
    recorded["accuracy"] = 0.5
    scores["per_class"]["3"]["recall"] = 0.25
    (changed / RUN_FILES["metrics"]).write_text(json.dumps(recorded))
    (changed / RUN_FILES["scores"]).write_text(json.dumps(scores))
    result = run(["python", "-m", "stages.verify", "mlp", "--runs-dir", str(tmp_path / "runs")], clone, check=False)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("mlp: accuracy: recorded 0.5, recomputed ")
    assert lines[1].startswith("mlp: per_class.3.recall: recorded 0.25, recomputed ")
    assert lines[2] == "mlp: DIFFERS (2 values)"
    tolerant = run(
        ["python", "-m", "stages.verify", "mlp", "--runs-dir", str(tmp_path / "runs"), "--tolerance", "1"], clone
    )
    assert "mlp: ok, every metric equals the recorded one" in tolerant.stdout
    # Other test data: the checksums recorded in provenance.json say so before any metric is compared.
    y_test = (clone / "data/prepared/y_test.npy").read_bytes()
    try:
        (clone / "data/prepared/y_test.npy").write_bytes(y_test[:-1] + bytes([y_test[-1] ^ 1]))
        result = run(["python", "-m", "stages.verify", "softmax"], clone, check=False)
    finally:
        (clone / "data/prepared/y_test.npy").write_bytes(y_test)
    assert result.returncode == 1
    assert result.stdout.startswith("softmax: data y_test.npy: recorded sha256 ")


def test_dvc_repro_force_in_the_clone_reproduces_every_metrics_file(origin, own_reviewer):
    clone = own_reviewer
    code_commit = run(["git", "rev-parse", "HEAD~1"], origin).stdout.strip()
    for run_name in RUNS:
        # The commit that last changed the code, not HEAD (the results commit): rerunnable anywhere.
        provenance = json.loads((origin / run_file("provenance", run_name)).read_text())
        assert provenance["git"] == {"revision": code_commit, "dirty": False}, run_name
    result = run(["dvc", "repro", "--force"], clone)
    assert {"prepare", "train@mlp", "evaluate@softmax", "package"} <= dvc_ran(result)
    assert metrics_files(clone) == metrics_files(origin)
    for run_name in RUNS:
        for key in ("predictions", "history", "confusion"):
            path = run_file(key, run_name)
            assert (clone / path).read_bytes() == (origin / path).read_bytes(), path
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
    assert run(["git", "status", "--porcelain", "--", "reports/runs"], clone).stdout.count("metrics.json") == 0
    assert nothing_to_do(clone), "Snakemake compares the rewritten files by content"


def test_a_workspace_experiment_and_a_checkout_keep_both_runners_in_step(origin, own_reviewer):
    """docs/configuration.md: `dvc exp run -S` in the workspace, a run it cannot add, `git checkout` + stages.pull."""
    clone = own_reviewer
    params = clone / "params.yaml"
    params.write_text("# reviewer's note\n" + params.read_text())
    # Any edit of params.yaml, a comment too, reruns configure (its bytes are a dependency):
    # nothing after it, as the configs it writes are the same.
    assert dvc_ran(run(["dvc", "repro"], clone)) == {"configure"}
    run(["git", "commit", "-qam", "a note"], clone)
    run(["dvc", "exp", "run", "-S", "runs.mlp.dropout=0.3"], clone)
    assert params.read_text().startswith("# reviewer's note\n") and "dropout: 0.3" in params.read_text()
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
    assert nothing_to_do(clone)
    run(["git", "add", "-A"], clone)
    run(["git", "commit", "-qm", "mlp with dropout 0.3"], clone)

    refused = run(["dvc", "exp", "run", "-S", "+runs.extra.architecture=softmax"], clone, check=False)
    assert refused.returncode != 0
    assert "regenerate dvc.yaml with `python -m stages.dvcgen`" in refused.stdout + refused.stderr
    run(["git", "checkout", "--", "params.yaml"], clone)
    assert run(["git", "status", "--porcelain"], clone).stdout == "", "the refused run left the configs alone"

    run(["git", "checkout", "-q", "HEAD~1"], clone)  # the pulled results again
    assert "dvc status is clean" in run(["python", "-m", "stages.pull"], clone).stdout
    assert metrics_files(clone) == metrics_files(origin)
    assert nothing_to_do(clone)
    run(["git", "checkout", "-q", "-"], clone)
    run(["python", "-m", "stages.pull"], clone)
    mlp = json.loads((clone / run_file("provenance", "mlp")).read_text())
    assert mlp["config"]["model"]["dropout"] == 0.3
    assert nothing_to_do(clone)


@pytest.fixture
def s3_server(tmp_path):
    """moto's S3 server on 127.0.0.1 with a bucket `imgclf`: an S3 endpoint without the internet."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "moto.log").open("w"),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "moto.log").read_text()
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/imgclf", method="PUT"))  # create the bucket
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_s3_remote_as_the_readme_switches_to_it(own_reviewer, s3_server, tmp_path):
    """docs/sharing.md "Sharing results": the S3 remote (dvc-s3) instead of the folder; push, clone, pull."""
    clone = own_reviewer
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    run(["dvc", "remote", "add", "--default", "s3", "s3://imgclf/store"], clone)
    run(["dvc", "remote", "modify", "s3", "endpointurl", s3_server], clone)
    run(["dvc", "push"], clone, env_extra=credentials)
    run(["git", "commit", "-qam", "results on S3"], clone)
    # A clone with no folder remote beside it (its ../../imgclf-dvc-storage does not exist): only S3 can answer.
    again = tmp_path / "from-s3"
    run(["git", "clone", "-q", str(clone), str(again)], tmp_path)
    assert not (again.parent / REMOTE).exists()
    assert "dvc status is clean" in run(["python", "-m", "stages.pull"], again, env_extra=credentials).stdout
    assert metrics_files(again) == metrics_files(clone)
    assert (again / "models/package.tar.gz").read_bytes() == (clone / "models/package.tar.gz").read_bytes()
    assert nothing_to_do(again)


def test_a_queued_dvc_experiment_runs_end_to_end(origin, tmp_path):
    project = copy_project(origin, tmp_path / "project")  # `dvc exp apply` below changes the workspace
    before = metrics_files(project)
    run(["dvc", "exp", "run", "--queue", "-S", "runs.mlp.dropout=0.4", "-n", "mlp-dropout-0.4"], project)
    run(["dvc", "exp", "run", "--queue", "-S", "+runs.softmax.learning_rate=0.01", "-n", "softmax-lr-0.01"], project)
    try:
        run(["dvc", "queue", "start", "--jobs", "2"], project)
        deadline = time.monotonic() + 900
        while re.search(r"\b(Queued|Running)\b", status := run(["dvc", "queue", "status"], project).stdout):
            assert time.monotonic() < deadline, status
            time.sleep(5)
    finally:
        run(["dvc", "queue", "stop"], project, check=False)
    assert len(re.findall(r"\bSuccess\b", status)) == 2, status
    # Queued experiments run in temporary copies: the workspace is untouched.
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert metrics_files(project) == before

    shown = {
        exp["name"]: exp
        for row in json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
        for group in (row.get("experiments") or [])
        for exp in group["revs"]
    }
    params = shown["mlp-dropout-0.4"]["data"]["params"]["params.yaml"]["data"]
    assert params["runs"]["mlp"]["dropout"] == 0.4
    # `dvc exp show` reads at a glance: per run the headline test numbers and dvclive's last
    # epoch (with its step), at most 12 metric columns, every one a number.
    metrics = shown["mlp-dropout-0.4"]["data"]["metrics"]
    mlp = {path for path in metrics if "/mlp/" in path}
    assert mlp == {run_file("metrics", "mlp"), run_file("live_summary", "mlp")}
    columns = {
        f"{path}:{key}": value
        for path in metrics
        if "/mlp/" in path
        for key, value in flatten(metrics[path]["data"]).items()
    }
    assert len(columns) <= 12 and all(isinstance(v, (int, float)) for v in columns.values()), columns
    assert f"{run_file('live_summary', 'mlp')}:step" in columns

    # The view docs/configuration.md gives: the changed parameters and the changed runs' accuracy,
    # each column whole (no "…"), in a 120-column terminal.
    view = run(["dvc", "exp", "show", "--no-pager", *EXP_VIEW], project, env_extra={"COLUMNS": "120"}).stdout
    assert "…" not in view and max(len(line) for line in view.splitlines()) <= 120, view
    assert {"runs.mlp.dropout", "runs.softmax.learning_rate", "softmax.accuracy"} <= set(view.split()), view
    documented = f"dvc exp show {EXP_VIEW[0]} --drop '{EXP_VIEW[2]}'"
    assert documented in (ROOT / "docs/configuration.md").read_text()

    diff = json.loads(run(["dvc", "exp", "diff", "HEAD", "softmax-lr-0.01", "--json"], project).stdout)
    assert diff["params"]["params.yaml"]["runs.softmax.learning_rate"]["new"] == 0.01
    changed = diff["metrics"]
    assert run_file("metrics", "softmax") in changed and run_file("metrics", "mlp") not in changed

    # Bring one into the workspace: its recorded metrics are the ones its model gives.
    run(["dvc", "exp", "apply", "mlp-dropout-0.4"], project)
    assert "dropout: 0.4" in (project / "params.yaml").read_text()
    assert "ok, every metric equals" in run(["python", "-m", "stages.verify", "mlp"], project).stdout
