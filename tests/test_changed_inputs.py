"""Both runners see every change to the data a stage reads: inside a user's image folder, and
inside the folders the stages make (issue 38, family 1). DVC hashes folders; Snakemake sees them
through their stamps (stages/lib/stamps.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import copy_project, make_project, run
from tests.test_end_to_end import planned_jobs

CLASSES = {"cat": 12, "dog": 12, "emu": 12}


def write_image(path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, np.uint8), "L").save(path)


def one_run_on_a_folder(params):
    params["data"] = {"dataset": "folder", "folder": "images", "image_size": [8, 8], "color_mode": "grayscale"}
    params["train"].update(epochs=1, patience=1, batch_size=64)
    params["runs"] = {"softmax": {"architecture": "softmax"}}
    params.pop("sweeps", None)
    params["package"] = {"run": None, "exports": []}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A folder dataset (half of each class one level deeper) run by Snakemake and recorded by DVC."""
    project = make_project(tmp_path_factory.mktemp("changed") / "project", one_run_on_a_folder)
    for name, count in CLASSES.items():
        for i in range(count):
            write_image(project / "images" / name / ("deep" if i % 2 else "") / f"{i}.png", 20 * i)
    old = 1_700_000_000 * 10**9  # the images are older than anything the runners make
    for path in (project / "images").rglob("*"):
        os.utime(path, ns=(old, old))
    run(["snakemake", "--cores", "1"], project)
    run(["dvc", "commit", "--force", "--quiet"], project)
    assert planned(project) == set()
    assert "up to date" in run(["dvc", "status"], project).stdout
    return project


def planned(project) -> set[str]:
    """The rules `snakemake -n` would run."""
    return set(planned_jobs(project)) - {"all"}


def dvc_changed(project) -> set[str]:
    """The stages `dvc status` finds changed."""
    out = run(["dvc", "status"], project).stdout
    return {line.rstrip(":") for line in out.splitlines() if line and not line.startswith(("\t", " "))}


def older(path, change):
    """Change a file and give it a modification time older than it had (another file's, as
    `cp -p` or `rsync -a` copy it over)."""
    before = path.stat().st_mtime_ns - 3600 * 10**9
    change(path)
    os.utime(path, ns=(before, before))


IMAGE_FOLDER_CHANGES = {
    "an image copied over deep inside, with an older time": lambda images: older(
        images / "dog" / "deep" / "3.png", lambda path: write_image(path, 255)
    ),
    "an image added deep inside": lambda images: write_image(images / "emu" / "deep" / "new.png", 7),
    "an image deleted": lambda images: (images / "cat" / "deep" / "5.png").unlink(),
}


@pytest.mark.slow
@pytest.mark.parametrize("change", IMAGE_FOLDER_CHANGES, ids=lambda name: name.replace(" ", "-"))
def test_a_change_inside_an_image_folder_reruns_download_under_both_runners(built, tmp_path, change):
    project = copy_project(built, tmp_path / "project")
    assert planned(project) == set()  # a copy with its times is as current as the original
    IMAGE_FOLDER_CHANGES[change](project / "images")
    assert {"download", "prepare", "train", "evaluate", "report", "package"} <= planned(project)
    assert "download" in dvc_changed(project)


@pytest.mark.slow
def test_a_change_inside_a_folder_a_stage_made_reruns_what_reads_it_under_both_runners(built, tmp_path):
    """A prepared file replaced behind the runners' backs (with an older time), then restored by
    `dvc checkout`: Snakemake reruns what reads it both times, never says nothing is to be done."""
    project = copy_project(built, tmp_path / "project")
    test_images = project / "data" / "prepared" / "x_test.npy"
    older(test_images, lambda path: np.save(path, np.load(path) * 0.5))
    assert {"train", "evaluate", "report", "package"} <= planned(project) and "prepare" not in planned(project)
    assert "prepare" in dvc_changed(project)

    run(["dvc", "checkout", "--force", "--quiet", "data/prepared"], project)
    assert "up to date" in run(["dvc", "status"], project).stdout
    assert {"train", "evaluate"} <= planned(project)  # by time, not content: restored bytes are new to it
