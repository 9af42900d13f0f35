"""Snakemake and DVC describe the same jobs: same commands, inputs and outputs."""

import re
import shutil

import pytest
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from tests.conftest import ROOT, edited_params, make_project, run
from tests.test_datasets import make_image_folder


def snakemake_jobs(project) -> dict[str, dict]:
    """Shell command -> rule, inputs and outputs of every job of a forced dry run. The folders'
    stamps (.snakemake/stamps/) are Snakemake's own view of what DVC hashes: left out, and each
    stands for a folder the job reads."""
    dry_run = run(["snakemake", "--dry-run", "--forceall", "--nocolor"], project).stdout
    jobs, job = {}, None
    for line in dry_run.splitlines():
        if re.match(r"(local)?rule \w+:$", line):
            job = {"rule": line.split()[-1].rstrip(":"), "inputs": set(), "outputs": set()}
        elif job and (field := re.match(r"    (input|output): (.*)$", line)):
            paths = set(field[2].split(", "))
            stamps = {path for path in paths if path.startswith(".snakemake/stamps/")}
            assert {path.removeprefix(".snakemake/stamps/").removesuffix(".stamp") for path in stamps} <= paths
            job[field[1] + "s"] = paths - stamps
        elif job and line.startswith("Shell command: "):
            if job["rule"] != "all":
                jobs[line.removeprefix("Shell command: ")] = job
            job = None
    return jobs


def dvc_stages(project) -> dict[str, dict]:
    """Resolved command -> stage name, file dependencies and outputs, as DVC reads dvc.yaml."""
    with Repo(str(project)) as repo:
        return {
            stage.cmd: {
                "stage": stage.name,
                "inputs": {d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)},
                "outputs": {o.def_path for o in stage.outs},
            }
            for stage in repo.index.stages
        }


def holds(folder: str):
    return lambda path: path == folder or path.startswith(folder + "/")


def within(paths: set[str], folders: set[str]) -> bool:
    """Whether every one of `paths` is one of `folders` or inside one."""
    return all(any(holds(folder)(path) for folder in folders) for path in paths)


def test_committed_dvc_yaml_is_current():
    run(["python", "-m", "stages.dvcgen", "--check"], ROOT)


def use_image_folder(params):
    params["data"].update(dataset="folder", folder="images", image_size=[16, 16], color_mode="rgb")


def use_cv_folds(params):
    params["runs"]["mlp"]["cv_folds"] = 2  # runs mlp-fold1, mlp-fold2 and a folds job


@pytest.mark.slow
@pytest.mark.parametrize("edit", [None, use_image_folder, use_cv_folds], ids=["digits", "image-folder", "cv-folds"])
def test_both_runners_run_the_same_commands_on_the_same_files(tmp_path, edit):
    project = make_project(tmp_path / "p", edit)
    if edit is use_image_folder:
        make_image_folder(project / "images")
    snakemake, dvc = snakemake_jobs(project), dvc_stages(project)
    configure = next(cmd for cmd, stage in dvc.items() if stage["stage"] == "configure")
    assert set(dvc) - {configure} == set(snakemake), "commands differ"
    for cmd, job in snakemake.items():
        # report and package: dvc.yaml names the folders of all runs where the rules list their files.
        assert within(job["inputs"], dvc[cmd]["inputs"]), f"inputs of {job['rule']} missing under DVC"
        for path in dvc[cmd]["inputs"]:
            assert any(map(holds(path), job["inputs"])), f"{path}, an input of {job['rule']} under DVC alone"
        assert job["outputs"] == dvc[cmd]["outputs"], f"outputs of {job['rule']} differ"
    assert {s["stage"] for s in dvc.values()} >= {
        "download",
        "prepare",
        "train@cnn_intro",
        "evaluate@mlp",
        "report",
        "package",
    }
    download = next(job for job in snakemake.values() if job["rule"] == "download")
    assert ("images" in download["inputs"]) == (edit is use_image_folder)  # the folder is an input of both
    # Seed replicates (the dropout sweep's `repeats`) are runs; folds are a job of their own.
    assert "train@dropout-0.45-seed43" in {s["stage"] for s in dvc.values()}
    assert ({"folds@2", "train@mlp-fold2"} <= {s["stage"] for s in dvc.values()}) == (edit is use_cv_folds)

    # DVC's configure stage writes the per-run configs that Snakemake writes while it parses
    # the workflow: the same files, byte for byte.
    config_inputs = {path for job in snakemake.values() for path in job["inputs"] if path.startswith("configs/")}
    assert dvc[configure]["outputs"] == config_inputs
    written_by_snakemake = {path: (project / path).read_bytes() for path in config_inputs}
    for path in config_inputs:
        (project / path).unlink()
    run(configure.split(), project)
    assert {path: (project / path).read_bytes() for path in config_inputs} == written_by_snakemake


@pytest.mark.slow
def test_stale_dvc_yaml_is_refused_by_configure(tmp_path):
    from tests.conftest import set_params

    project = make_project(tmp_path / "p")
    set_params(project, lambda p: p["runs"].update(extra={"architecture": "softmax"}))
    result = run(["dvc", "repro"], project, check=False)
    assert result.returncode != 0
    assert "regenerate dvc.yaml with `python -m stages.dvcgen`" in result.stdout + result.stderr
    # Parsing the Snakefile regenerates it, as docs/running.md promises.
    run(["snakemake", "--dry-run"], project)
    assert "train@extra" in {s["stage"] for s in dvc_stages(project).values()}


# ------------------------------------------------------------------ one reading of params.yaml

# The line of params.yaml as the user writes it -> the value both runners must see, or the one-line
# error both must stop with. DVC reads YAML 1.2 (ruamel.yaml); so does stages.lib.params.
TRICKY = {
    "exponent": ("  learning_rate: 0.001", "  learning_rate: 1e-3", ("train", "learning_rate"), 0.001),
    "leading-dot": ("  val_fraction: 0.15", "  val_fraction: .5", ("split", "val_fraction"), 0.5),
    "integer-rate": ("  learning_rate: 0.001", "  learning_rate: 1", ("train", "learning_rate"), 1.0),
    "float-seed": ("seed: 42", "seed: 42.0", None, "params.yaml: seed: 42.0 is invalid: an integer is needed"),
    "yes": (  # params.yaml leaves mixed_precision at its default: the case adds the key
        "  patience: 5",
        "  mixed_precision: yes\n  patience: 5",
        None,
        "params.yaml: train.mixed_precision: 'yes' is invalid: 'yes' is not of type 'boolean'",
    ),
    "null": (
        "  epochs: 60",
        "  epochs: null",
        None,
        "params.yaml: train.epochs: None is invalid: None is not of type 'integer'",
    ),
}


@pytest.fixture(scope="module")
def unstarted(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("yaml") / "project")


def dvc_param(project, path):
    """The value DVC reads for a param (what `dvc params diff` and `dvc exp show` report)."""
    with Repo(str(project)) as repo:
        value = repo.params.show()[""]["data"]["params.yaml"]["data"]
    for key in path:
        value = value[key]
    return value


@pytest.mark.slow
@pytest.mark.parametrize("case", TRICKY)
def test_both_runners_read_the_same_values_from_params_yaml(unstarted, case):
    from stages.lib.files import read_json

    old, new, path, expected = TRICKY[case]
    assert (unstarted / "params.yaml").read_text().count(old) == 1, old
    shutil.rmtree(unstarted / "configs", ignore_errors=True)  # no case reads what an earlier one wrote
    with edited_params(unstarted, lambda text: text.replace(old, new)):
        snakemake = run(["snakemake", "--dry-run", "--cores", "1"], unstarted, check=False)
        if path:  # what Snakemake wrote while it parsed the workflow (a refused case writes none)
            configs = {
                key: read_json(unstarted / "configs" / name)
                for key, name in (("softmax", "softmax.json"), ("prepare", "data/prepare.json"))
            }
        dvc = run(["dvc", "repro", "configure"], unstarted, check=False)
        if path:
            seen_by_dvc = dvc_param(unstarted, path)
    if path is None:  # both refuse it, in the same words
        for result in (snakemake, dvc):
            lines = [line for line in (result.stdout + result.stderr).splitlines() if "params.yaml:" in line]
            assert result.returncode != 0 and len(lines) == 1 and expected in lines[0], result.stdout + result.stderr
        return
    assert snakemake.returncode == 0 and dvc.returncode == 0, snakemake.stderr[-2000:] + dvc.stderr[-2000:]
    section, key = path
    written = configs["softmax"]["training"][key] if section == "train" else configs["prepare"][key]
    assert seen_by_dvc == expected and written == expected, (seen_by_dvc, written)
    assert type(written) is float  # what Keras is given: a float learning rate, never an int


# Values that equal a valid one under Python's ==, which is how DVC compares params (42.0 == 42,
# 0 == False): after a run with the valid value, DVC must not pass them as unchanged where
# Snakemake refuses them. configure depends on params.yaml's bytes, so any edit validates again.
EQUAL_BUT_INVALID = {
    "float-seed": ("seed: 42", "seed: 42.0", "params.yaml: seed: 42.0 is invalid"),
    "float-epochs": ("  epochs: 60", "  epochs: 60.0", "params.yaml: train.epochs: 60.0 is invalid"),
    "zero-for-false": (
        "    batch_norm: false",
        "    batch_norm: 0",
        "params.yaml: runs.cnn_deep.batch_norm: 0 is invalid",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", EQUAL_BUT_INVALID)
def test_a_value_equal_to_a_valid_one_is_refused_by_both_runners_whichever_ran_last(unstarted, case):
    old, new, message = EQUAL_BUT_INVALID[case]
    assert (unstarted / "params.yaml").read_text().count(old) == 1, old
    run(["dvc", "repro", "configure"], unstarted)  # dvc.lock records the valid value
    with edited_params(unstarted, lambda text: text.replace(old, new)):
        assert "configure" in run(["dvc", "status", "configure"], unstarted).stdout
        for runner in (["dvc", "repro"], ["snakemake", "--dry-run", "--cores", "1"]):
            result = run(runner, unstarted, check=False)
            lines = [line for line in (result.stdout + result.stderr).splitlines() if "params.yaml:" in line]
            assert result.returncode != 0 and len(lines) == 1 and message in lines[0], result.stdout + result.stderr
