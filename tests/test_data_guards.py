"""Data that cannot support a result, links out of an image folder, and commands that misled
(issue 38, families 4, 5 and 7): each is refused in one line, or says what it does."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import yaml

from stages.download import download
from stages.lib.configs import note_left_behind
from stages.lib.datasets import DataError, folder_splits, walk_files
from stages.lib.params import ParamsError, load_params
from stages.lib.settings import PrepareSettings
from stages.predict import expand_images
from stages.predict import main as predict_main
from stages.prepare import prepare, split_indices
from stages.verify import default_runs
from tests.conftest import ROOT
from tests.test_image_folders import FOLDER, raw_folder, write_images

# --- family 4: data that cannot support the result ------------------------------------------------


def test_a_class_too_small_for_every_split_is_refused_naming_its_count_and_the_split(tmp_path):
    write_images(tmp_path / "src", {"cat": 20, "dog": 20, "rare": 2})
    settings = PrepareSettings(**{**FOLDER, "val_fraction": 0.15, "test_fraction": 0.15})
    with pytest.raises(DataError) as err:
        prepare(raw_folder(tmp_path, tmp_path / "src"), tmp_path / "prepared", settings)
    assert str(err.value) == (
        "class 'rare' has 2 images (2 training, 0 validation, 0 test); every split needs at least one image of "
        "every class: with split.val_fraction 0.15 and split.test_fraction 0.15 give it about 7 or more, "
        "or remove the class"
    )
    assert not (tmp_path / "prepared").exists()


def test_every_class_of_an_accepted_split_is_in_every_split():
    labels = np.arange(300) % 3
    settings = PrepareSettings(**{**FOLDER, "val_fraction": 0.1, "test_fraction": 0.1})
    plan = split_indices({"all": labels}, settings, ["a", "b", "c"])
    for _, index in plan.values():
        assert set(labels[index]) == {0, 1, 2}


def test_a_subsample_larger_than_the_training_images_is_refused_not_ignored(tmp_path):
    write_images(tmp_path / "src", {"cat": 10, "dog": 10})
    settings = PrepareSettings(**{**FOLDER, "train_subsample": 500})
    with pytest.raises(DataError, match=r"^data.train_subsample 500 is more than the 11 training images; lower it"):
        prepare(raw_folder(tmp_path, tmp_path / "src"), tmp_path / "prepared", settings)
    # A published dataset's size is known: params.yaml is refused before anything runs, by both runners.
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["train_subsample"] = 1258
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=r"data.train_subsample: 1258 is invalid: more than the 1,257 training"):
        load_params(tmp_path / "params.yaml")
    params["data"]["train_subsample"] = 1257  # all of them: accepted
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    load_params(tmp_path / "params.yaml")


def test_hidden_folders_and_files_are_skipped_and_said(tmp_path, capsys):
    write_images(tmp_path / "src", {"cat": 3, "dog": 3, ".cache": 2})
    write_images(tmp_path / "src" / "cat", {".ipynb_checkpoints": 1})
    (tmp_path / "src" / "dog" / "._0.png").write_bytes(b"AppleDouble, not an image")
    classes, splits, ignored = folder_splits(tmp_path / "src")
    assert classes == ["cat", "dog"] and len(splits["all"]) == 6
    assert {path.name for path in ignored} == {".cache", ".ipynb_checkpoints", "._0.png"}
    download("folder", tmp_path / "raw", folder=str(tmp_path / "src"))
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.endswith("skipped 3 hidden entries or links to folders: .cache, cat/.ipynb_checkpoints, dog/._0.png")


# --- family 5: links out of the data ---------------------------------------------------------------


def test_a_link_out_of_an_image_folder_is_refused_in_one_line_before_anything_is_copied(tmp_path):
    write_images(tmp_path / "src", {"cat": 3, "dog": 3})
    (tmp_path / "secret.png").write_bytes((tmp_path / "src" / "cat" / "00.png").read_bytes())
    (tmp_path / "src" / "dog" / "leak.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(DataError) as err:
        download("folder", tmp_path / "raw", folder=str(tmp_path / "src"))
    assert str(err.value) == (
        f"{tmp_path / 'src' / 'dog' / 'leak.png'}: a link to {tmp_path / 'secret.png'}, outside the image folder "
        f"{tmp_path / 'src'}; copy the file in or remove the link"
    )
    assert not (tmp_path / "raw").exists()
    # The same rule for a link to a folder outside, and for stages.predict's folders.
    (tmp_path / "src" / "dog" / "leak.png").unlink()
    (tmp_path / "src" / "dog" / "more").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(DataError, match="outside the image folder"):
        walk_files(tmp_path / "src")
    with pytest.raises(DataError, match="outside the image folder"):
        expand_images([str(tmp_path / "src")])


def test_links_inside_an_image_folder_are_read_and_links_to_folders_not_followed(tmp_path):
    write_images(tmp_path / "src", {"cat": 3, "dog": 3})
    (tmp_path / "src" / "dog" / "same.png").symlink_to("../cat/00.png")
    (tmp_path / "src" / "dog" / "again").symlink_to("../cat", target_is_directory=True)
    files, skipped = walk_files(tmp_path / "src")
    assert tmp_path / "src" / "dog" / "same.png" in files and skipped == [tmp_path / "src" / "dog" / "again"]
    manifest = download("folder", tmp_path / "raw", folder=str(tmp_path / "src"))
    assert "images/dog/same.png" in manifest["contents"]  # copied as a file: data/raw holds no link
    assert not (tmp_path / "raw" / "images" / "dog" / "same.png").is_symlink()


# --- family 7: commands that misled ----------------------------------------------------------------


def test_predict_refuses_to_write_its_csv_over_its_own_package(tmp_path, capsys):
    package = tmp_path / "package.tar.gz"
    package.write_bytes(b"the package's bytes")
    write_images(tmp_path / "new", {"x": 1})
    assert predict_main([str(package), str(tmp_path / "new"), "--out", str(package)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --out {package} is {package}, an input of this command; write the CSV to another file"
    assert package.read_bytes() == b"the package's bytes"


def test_verify_and_configure_name_the_results_of_runs_removed_from_params(tmp_path, monkeypatch, capsys):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    for run in ("mlp", "softmax", "gone"):
        (tmp_path / "reports" / "runs" / run / "evaluation").mkdir(parents=True)
        (tmp_path / "reports" / "runs" / run / "evaluation" / "metrics.json").write_text("{}")
    (tmp_path / "models" / "runs" / "gone").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert default_runs("reports/runs") == ["mlp", "softmax"]
    assert capsys.readouterr().out.strip() == (
        "not verified: reports/runs/gone: no longer runs of params.yaml (remove them: git rm -r reports/runs/gone)"
    )
    note_left_behind({"softmax", "mlp"})
    assert capsys.readouterr().out.strip() == (
        "note: models/runs/gone reports/runs/gone: results of runs no longer in params.yaml; "
        "remove them or add the runs back"
    )
    os.remove("params.yaml")  # a folder of results without params.yaml: every run in it
    assert default_runs("reports/runs") == ["gone", "mlp", "softmax"]
