"""Studies: committed configurations of the pipeline in studies/<name>/, each a project of its own
(params.yaml, generated dvc.yaml, results) whose stages/ and workflow/ link to the root's, run
with `snakemake` or `dvc repro` from its folder (docs/studies.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stages import dvcgen
from stages.lib.params import load_params
from tests.conftest import ROOT, make_project, run
from tests.test_datasets import FASHION_MIRROR, require_fashion_mirror

STUDIES = sorted(path for path in (ROOT / "studies").iterdir() if (path / "params.yaml").is_file())


def test_there_is_the_fashion_mnist_study():
    assert ROOT / "studies" / "fashion-mnist" in STUDIES


@pytest.mark.parametrize("study", STUDIES, ids=lambda path: path.name)
def test_a_study_runs_the_roots_code_with_its_own_params_and_current_dvc_yaml(study):
    for link in ("stages", "workflow"):
        assert (study / link).is_symlink() and (study / link).resolve() == ROOT / link, link
    params = load_params(study / "params.yaml")
    assert dvcgen.is_current(params, study / "dvc.yaml"), (
        f"{study}/dvc.yaml is stale: run python -m stages.dvcgen there"
    )
    for name in (".gitignore", ".dvcignore"):
        assert (study / name).read_text() == (ROOT / "studies" / "fashion-mnist" / name).read_text()


def make_study(project: Path, name: str, params: dict) -> Path:
    """studies/<name>/ in a copy of the project, as the committed studies are made."""
    study = project / "studies" / name
    study.mkdir(parents=True)
    for link in ("stages", "workflow"):
        (study / link).symlink_to(Path("..", "..", link))
    for ignore in (".gitignore", ".dvcignore"):
        shutil.copy2(ROOT / "studies" / "fashion-mnist" / ignore, study / ignore)
    (study / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["python", "-m", "stages.dvcgen"], study)
    return study


@pytest.mark.slow
def test_a_study_runs_from_its_folder_under_both_runners_and_leaves_the_root_alone(tmp_path):
    require_fashion_mirror()
    project = make_project(tmp_path / "project")
    params = yaml.safe_load((ROOT / "studies" / "fashion-mnist" / "params.yaml").read_text())
    params["data"].update(mirror=str(FASHION_MIRROR), train_subsample=500)
    params["train"].update(epochs=1)
    params["runs"] = {"softmax": {"architecture": "softmax"}, "morph": {"architecture": "morph"}}
    params.pop("sweeps")
    study = make_study(project, "small", params)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "a project with a study"], project)

    run(["dvc", "repro"], study)
    table = pd.read_csv(study / "reports" / "comparison.csv").set_index("run")
    assert table.loc["softmax", "published_accuracy"] == 0.842  # logistic regression, Zalando's benchmark
    assert pd.isna(table.loc["morph", "published_accuracy"])  # none published
    assert "->" in table.loc["softmax", "most_confused"]
    assert (study / "models" / "package.tar.gz").is_file()
    # The other runner agrees that everything is done; git holds the results and nothing else.
    assert "Nothing to be done" in run(["snakemake", "--cores", "2"], study).stdout
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "the study's results"], project)
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], study).stdout
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    # Nothing of the root's ran or changed: its own pipeline has run nothing yet.
    assert not (project / "reports").exists() and not (project / "models").exists()
    assert "download" in run(["snakemake", "-n"], project).stdout
