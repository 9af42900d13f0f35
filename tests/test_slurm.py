"""The cluster profiles against a real SLURM: a single-node cluster on localhost (Debian's slurm).

The module's fixture starts munged (unless one runs), slurmctld and slurmd with
the configuration tests/slurm.conf.in, and stops each daemon it
started by its PID when the module ends, failed tests or not. The tests run the
smoke pipeline through workflow/profiles/slurm with the two site settings a user
changes, compare its results with a local run, make a job fail on the cluster
and rerun it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from stages.lib.layout import run_file
from tests.conftest import BIN, ROOT, copy_project, make_project, run, set_params, tiny

pytestmark = pytest.mark.slow  # a SLURM cluster and the pipeline under it

SLURM_CONF = Path("/etc/slurm/slurm.conf")  # where srun inside a job looks (jobs do not keep SLURM_CONF)
TEMPLATE = Path(__file__).with_name("slurm.conf.in")
RUNS = ["softmax", "cnn_intro"]
COMPARED = ["metrics", "predictions", "history"]  # keys of stages.lib.layout.RUN_FILES


def require_slurm() -> None:
    missing = [
        tool for tool in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol") if shutil.which(tool) is None
    ]
    if missing:
        message = f"SLURM is not installed ({', '.join(missing)} missing; bash setup.sh --test installs it as root)"
        if os.environ.get("PIPELINE_REQUIRE_SYSTEM_PACKAGES"):
            pytest.fail(message)
        pytest.skip(message)


def cluster_config(folder: Path) -> str:
    return TEMPLATE.read_text().replace("@SLURM_DIR@", str(folder))


def wait_until(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def munge_works() -> bool:
    return subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node SLURM cluster; yields its log folder."""
    require_slurm()
    if SLURM_CONF.exists():
        pytest.fail(f"{SLURM_CONF} exists: this test starts its own cluster and will not overwrite it")
    folder = tmp_path_factory.mktemp("slurm")
    for name in ("state", "spool", "run", "log"):
        (folder / name).mkdir()
    started: list[subprocess.Popen] = []
    log = open(folder / "log" / "daemons.out", "ab")  # noqa: SIM115 - the daemons write to it until stopped
    try:
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SLURM_CONF.write_text(cluster_config(folder))
        if not munge_works():
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            started.append(subprocess.Popen(["munged", "--foreground"], user="munge", stdout=log, stderr=log))
            wait_until(munge_works, "munged")
        started.append(subprocess.Popen(["slurmctld", "-D", "-i"], stdout=log, stderr=log))
        started.append(subprocess.Popen(["slurmd", "-D", "-N", "localhost"], stdout=log, stderr=log))
        wait_until(
            lambda: (
                subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.strip() == "idle"
            ),
            "the node to be idle",
        )
        yield folder / "log"
    finally:
        subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True)
        for process in reversed(started):  # by PID: exactly the daemons this fixture started
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        SLURM_CONF.unlink(missing_ok=True)
        log.close()


def smoke(params):
    tiny(params)
    params["runs"] = {name: params["runs"][name] for name in RUNS}
    params.pop("sweeps", None)
    params["package"]["exports"] = []


def fill_in_site(project: Path, profile: str) -> None:
    """The two settings a user changes: the partition, and no account (this cluster has none)."""
    path = project / "workflow" / "profiles" / profile / "config.yaml"
    text = path.read_text()
    text = re.sub(r'slurm_partition: "CHANGE-ME"', 'slurm_partition: "debug"', text)
    text = re.sub(r'^\s*slurm_account: "CHANGE-ME".*\n', "", text, flags=re.M)
    path.write_text(text)


@pytest.fixture(scope="module")
def project(slurm, tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("cluster") / "project", smoke)
    fill_in_site(project, "slurm")
    return project


@pytest.fixture(scope="module")
def built(project):
    """`project` after `snakemake --profile workflow/profiles/slurm`, and what Snakemake printed.
    Tests only read it; the one that changes params.yaml works on a copy."""
    result = run(["snakemake", "--profile", "workflow/profiles/slurm"], project)
    return project, result.stdout + result.stderr


def submitted(output: str) -> dict[str, str]:
    """SLURM job id -> the rule (or group) Snakemake submitted it for, from Snakemake's log."""
    pattern = r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/(?:rule|group)_([a-z]+)"
    return {m.group(1): m.group(2) for m in re.finditer(pattern, output)}


def job_state(job_id: str) -> str:
    record = run(["scontrol", "show", "job", job_id], ROOT).stdout
    return re.search(r"JobState=(\w+)", record).group(1)


def test_the_slurm_profile_runs_every_job_on_slurm_with_local_results(built, tmp_path_factory):
    project, output = built
    jobs = submitted(output)
    # prepare, and one SLURM job per run (its train and evaluate, grouped); download, report
    # and package are local rules.
    assert sorted(jobs.values()) == ["prepare", "run", "run"], jobs
    assert all(job_state(job_id) == "COMPLETED" for job_id in jobs), {j: job_state(j) for j in jobs}
    for job_id, rule in jobs.items():
        logs = list((project / ".snakemake" / "slurm_logs").glob(f"*{rule.split('_')[0]}*/**/{job_id}.log"))
        assert logs, f"no SLURM log of job {job_id}"
    # The jobs' own logs too, where a local run writes them (stages write them, not the plugin).
    for name in RUNS:
        for stage in ("train", "evaluate"):
            assert f"run {name}" in (project / "logs" / stage / f"{name}.log").read_text(), (stage, name)
    assert (project / "logs" / "prepare.log").is_file() and (project / "logs" / "package.log").is_file()

    local = make_project(tmp_path_factory.mktemp("local") / "project", smoke)
    run(["snakemake", "--cores", "2"], local)
    for name in RUNS:
        for key in COMPARED:
            path = run_file(key, name)
            assert (project / path).read_bytes() == (local / path).read_bytes(), path
        model = Path("models/runs") / name / "model.keras"
        assert (project / model).read_bytes() == (local / model).read_bytes(), model
    # The package too, archive and all: no wall-clock time in any result.
    assert (project / "models/package.tar.gz").read_bytes() == (local / "models/package.tar.gz").read_bytes()


def test_a_failed_cluster_job_is_reported_and_only_it_reruns(built, tmp_path):
    project = copy_project(built[0], tmp_path / "project")
    # cnn_intro changes and trains; softmax asks for a GPU this cluster does not have.
    set_params(
        project,
        lambda p: (p["runs"]["cnn_intro"].update(learning_rate=0.003), p["runs"]["softmax"].update(require_gpu=True)),
    )
    result = run(["snakemake", "--profile", "workflow/profiles/slurm"], project, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    logs = re.findall(r"log: (\S+/slurm_logs/\S+\.log) \(check log file", output)
    assert logs, output[-3000:]
    failed = [log for log in logs if "sets require_gpu but the tensorflow backend sees no GPU" in Path(log).read_text()]
    assert len(set(failed)) == 1, logs
    # The other run's jobs finished on the cluster all the same.
    provenance = (project / run_file("provenance", "cnn_intro")).read_text()
    assert '"learning_rate": 0.003' in provenance, output[-4000:]

    set_params(project, lambda p: p["runs"]["softmax"].pop("require_gpu"))
    plan = run(["snakemake", "--profile", "workflow/profiles/slurm", "--dry-run"], project).stdout
    table = plan.split("Job stats:")[1].split("total")[0]
    assert dict(re.findall(r"^(\w+)\s+(\d+)$", table, re.M)) == {
        "train": "1",
        "evaluate": "1",
        "report": "1",
        "package": "1",
        "all": "1",
    }
    result = run(["snakemake", "--profile", "workflow/profiles/slurm"], project)
    assert sorted(submitted(result.stdout + result.stderr).values()) == ["run"]


def test_the_gpu_profile_asks_for_one_gpu_per_train_job(project):
    fill_in_site(project, "slurm-gpu")
    plan = run(
        ["snakemake", "--profile", "workflow/profiles/slurm-gpu", "--dry-run", "--forcerun", "train"], project
    ).stdout
    jobs = re.findall(r"^ *rule (\w+):\n(?: +.*\n)*? +resources: (.*)$", plan, re.M)  # group members indented
    train = [resources for rule, resources in jobs if rule == "train"]
    assert len(train) == len(RUNS)
    assert all("gpu=1" in r and "cpus_per_gpu=8" in r and "slurm_partition=debug" in r for r in train), train
    assert all("gpu=" not in r for rule, r in jobs if rule != "train")


def test_dvc_repro_during_a_slurm_run_is_refused_and_the_run_completes(built, tmp_path):
    """Issue 38, family 3: the Snakemake process that submits to SLURM holds the folder's lock
    (stages/lib/runlock.py) for its jobs on the nodes; `dvc repro` meanwhile is refused by DVC."""
    project = copy_project(built[0], tmp_path / "project")
    set_params(project, lambda p: p["runs"]["cnn_intro"].update(learning_rate=0.002))
    log = tmp_path / "snakemake.log"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with open(log, "w") as out:
        snakemake = subprocess.Popen(
            ["snakemake", "--profile", "workflow/profiles/slurm"], cwd=project, env=env, stdout=out, stderr=out
        )
    wait_until(lambda: "submitted with SLURM jobid" in log.read_text(), "a job submitted to SLURM", timeout=180)
    refused = run(["dvc", "repro"], project, check=False)
    assert refused.returncode != 0
    assert re.search(r"\(PID \d+\): snakemake --profile workflow/profiles/slurm", refused.stderr), refused.stderr
    assert snakemake.wait(timeout=900) == 0, log.read_text()[-3000:]
    assert "Nothing to be done" in run(["snakemake", "--dry-run"], project).stdout
