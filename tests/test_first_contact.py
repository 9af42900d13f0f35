"""A researcher's first commands that used to crash, hang or mislead: `snakemake --config`,
a cluster profile with its placeholders or without a reachable controller."""

from __future__ import annotations

import re
import socket

import pytest

from stages.lib import cluster, overrides
from tests.conftest import make_project, run, tiny
from tests.test_slurm import fill_in_site


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A project as a fresh clone has it; no test here may leave anything in it."""
    return make_project(tmp_path_factory.mktemp("contact") / "project", tiny)


def error_lines(result) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error:")]


def nothing_was_run(project) -> bool:
    locks = project / ".snakemake" / "locks"
    return not (project / "data").exists() and not (locks.exists() and any(locks.iterdir()))


@pytest.mark.parametrize(
    "given, says",
    [
        ({"seed": 3}, "dvc exp run -S 'seed=3'"),
        ({"epochs": 3}, "params.yaml has no key epochs, did you mean train.epochs? dvc exp run -S 'train.epochs=3'"),
        ({"train": {"epochs": "3"}}, "dvc exp run -S 'train.epochs=3'"),  # --config 'train={epochs: 3}'
        ({"sede": 1}, "params.yaml has no key sede, did you mean seed? dvc exp run -S 'seed=1'"),
        ({"runs": {"mlp": {"units": [64]}}}, "dvc exp run -S 'runs.mlp.units=[64]'"),
        ({"zzz": 1}, "params.yaml has no key zzz (its keys: docs/parameters.md)"),
    ],
)
def test_a_config_override_is_refused_naming_its_key_and_the_command_that_tries_it(given, says, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("seed: 42\ntrain: {epochs: 60}\nruns: {mlp: {architecture: mlp, units: [128]}}\n")
    line = overrides.refusal(given, str(params))
    assert "\n" not in line and line.startswith("error: snakemake --config/--configfile is not read (")
    assert says in line and overrides.SMOKE in line


@pytest.mark.parametrize("given", [["--config", "epochs=3"], ["--config", "train={epochs: 3}"]])
def test_snakemake_refuses_a_config_override_in_one_line(fresh, given):
    result = run(["snakemake", "-n", *given], fresh, check=False)
    assert result.returncode == 1
    assert len(error_lines(result)) == 1 and "train.epochs=3" in error_lines(result)[0]
    assert "Traceback" not in result.stderr and nothing_was_run(fresh)


def test_the_placeholders_are_found_wherever_they_are_set():
    found = cluster.placeholders(
        {"default-resources": {"mem_mb": 4000, "slurm_partition": "CHANGE-ME"}, "set-resources of train": {}}
    )
    assert found == ["default-resources: slurm_partition"]
    assert cluster.placeholders({"default-resources": {"slurm_partition": "'gpu'"}}) == []


@pytest.mark.parametrize("profile", ["slurm", "slurm-gpu"])
def test_a_cluster_profile_with_its_placeholders_is_refused_also_in_a_dry_run(fresh, profile):
    result = run(["snakemake", "--profile", f"workflow/profiles/{profile}", "--dry-run"], fresh, check=False)
    assert result.returncode == 1
    found = ["default-resources: slurm_partition", "default-resources: slurm_account"]
    assert error_lines(result) == [cluster.placeholder_error(found)]
    assert nothing_was_run(fresh)


def test_an_unreachable_controller_is_refused_before_anything_is_submitted(fresh, tmp_path):
    """A real scontrol against a controller address where nothing listens: one line, at once,
    no job run or submitted, no lock left (it hung for over ten minutes)."""
    project = tmp_path / "project"
    run(["cp", "-a", str(fresh), str(project)], tmp_path)
    fill_in_site(project, "slurm")
    with socket.socket() as probe:  # a free port: no controller answers there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp_path / "slurm.conf"
    conf.write_text(
        f"ClusterName=nowhere\nSlurmctldHost=localhost\nSlurmctldPort={port}\nMessageTimeout=2\n"
        "NodeName=localhost CPUs=1 State=UNKNOWN\nPartitionName=debug Nodes=localhost Default=YES\n"
    )
    result = run(
        ["snakemake", "--profile", "workflow/profiles/slurm"], project, check=False, env_extra={"SLURM_CONF": str(conf)}
    )
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert re.match(r"error: (the SLURM controller does not answer|sbatch or scontrol is not on PATH)", line), line
    assert line.endswith("Snakemake submitted no job (docs/running.md: checking a profile)")
    assert "Traceback" not in result.stderr and nothing_was_run(project)
