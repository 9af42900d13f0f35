"""Inputs that used to destroy files, crash, or give a wrong result that looks right: each is now
refused in one line (or, for images, read as a viewer shows them)."""

import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from stages.compare import main as compare_main
from stages.download import main as download_main
from stages.download import verify
from stages.lib.archive import PackageError, read_contract
from stages.lib.datasets import DataError, FileSpec, load_image
from stages.lib.errors import PipelineError
from stages.lib.files import atomic_dir, write_json, write_text
from stages.lib.joblog import run_stage
from stages.lib.params import MAX_RUNS, ParamsError, read_yaml, validate_params
from stages.lib.splits import read_metadata
from stages.prepare import main as prepare_main
from tests.conftest import ROOT, make_tiny_data

# --- output folders -------------------------------------------------------------------------------


def test_an_output_folder_replaces_only_what_its_writer_wrote(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with atomic_dir(out, "done.json") as tmp:  # absent: written
        (tmp / "done.json").write_text("1")
    with atomic_dir(out, "done.json") as tmp:  # its own earlier output: replaced
        (tmp / "done.json").write_text("2")
    assert (out / "done.json").read_text() == "2"
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_dir(empty, "done.json") as tmp:
        (tmp / "done.json").write_text("3")
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_text("precious")
    with (
        pytest.raises(PipelineError, match=r"photos: not empty and holds no done\.json.*refusing to replace it"),
        atomic_dir(foreign, "done.json"),
    ):
        pytest.fail("the work must not start")
    assert (foreign / "holiday.jpg").read_text() == "precious"
    with (
        pytest.raises(PipelineError, match="exists and is not a folder"),
        atomic_dir(foreign / "holiday.jpg", "done.json"),
    ):
        pass
    monkeypatch.chdir(out)  # `--out .` (or any folder above the current one) even if it is its own
    with pytest.raises(PipelineError, match="holds the current folder"), atomic_dir(out, "done.json"):
        pass
    assert (out / "done.json").read_text() == "2"


def test_download_into_a_folder_it_did_not_write_changes_nothing(tmp_path, capsys):
    config = tmp_path / "download.json"
    write_json(config, {"dataset": "digits"})
    notes = tmp_path / "mine" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("precious")
    assert download_main(["--config", str(config), "--out", str(notes.parent)]) == 1
    err = capsys.readouterr().err
    assert (
        err == f"error: {notes.parent}: not empty and holds no manifest.json, so this stage did not write it; "
        "refusing to replace it\n"
    )
    assert sorted(os.listdir(tmp_path / "mine")) == ["notes.txt"] and notes.read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == ["download.json", "mine"]  # no temporary folder left


@pytest.mark.parametrize(
    "config, message",
    [
        ({"dataset": "digits", "mirror": 5}, "mirror = 5 is not a string"),
        ({"dataset": ["mnist"]}, "dataset = ['mnist'] is not a string"),
        ({"dataset": "digits", "mirror": "http://[::1"}, "mirror 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
    ],
)
def test_download_names_a_config_value_of_the_wrong_kind(tmp_path, capsys, config, message):
    path = tmp_path / "download.json"
    write_json(path, config)
    assert download_main(["--config", str(path), "--out", str(tmp_path / "raw")]) == 1
    err = capsys.readouterr().err
    assert err.endswith(f"{message}\n") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "raw").exists()


def test_a_gzip_bomb_is_refused_before_it_fills_the_memory(tmp_path):
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb") as handle:
        handle.write(b"\0\0\x08\x03" + b"\0" * (8 << 20))  # 8 MiB of zeros: 8 KiB on disk
    spec = FileSpec(sha256="0" * 64, content_sha256="1" * 64, shape=(10, 28, 28))
    with pytest.raises(DataError, match=r"decompresses to more than the 7,856 bytes it can hold"):
        verify(bomb, bomb.name, spec, "2" * 64)


def test_a_stage_given_a_file_where_a_folder_belongs_says_so_in_one_line(tmp_path):
    (tmp_path / "configs").write_text("a file")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stages.configure",
            "--params",
            str(ROOT / "params.yaml"),
            "--out-dir",
            str(tmp_path / "configs"),
            "--schema",
            str(ROOT / "workflow/schemas/params.schema.yaml"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {tmp_path / 'configs'}") and result.stderr.count("\n") == 1


def test_a_write_onto_a_folder_names_the_folder_not_the_temporary_file(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        write_text(tmp_path / "out.csv", "x")
    assert caught.value.filename == str(tmp_path / "out.csv")
    assert os.listdir(tmp_path) == ["out.csv"]  # the temporary file is gone


def test_a_stage_names_an_unusable_path_in_one_line_and_a_bug_in_full(tmp_path, capsys):
    def unusable():
        (tmp_path / "x").mkdir()
        (tmp_path / "x").read_text()

    assert run_stage(unusable, None) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'x'}: Is a directory\n"
    assert run_stage(lambda: 1 / 0, None) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("error: unexpected failure\n")


# --- images ---------------------------------------------------------------------------------------


def digit():
    """A white bar on black, 16x16: not symmetric, so a turn shows."""
    pixels = np.zeros((16, 16), np.uint8)
    pixels[2:14, 3:6] = 255
    pixels[2:5, 3:13] = 255
    return pixels


def test_an_image_is_read_as_a_viewer_shows_it(tmp_path):
    expected = load_image(save(tmp_path / "plain.png", Image.fromarray(digit())), (8, 8), "grayscale")
    # Stored turned, with an EXIF tag that says how to turn it back (as phones save photos).
    turned = Image.fromarray(digit()).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turn 90 degrees clockwise to view
    turned.save(tmp_path / "turned.jpg", exif=exif, quality=100)
    assert np.abs(load_image(tmp_path / "turned.jpg", (8, 8), "grayscale").astype(int) - expected).max() <= 8
    # Dark ink on a transparent background is dark ink on white, as every viewer shows it.
    ink = np.zeros((16, 16, 4), np.uint8)
    ink[..., 3] = digit()  # black where the stroke is, transparent elsewhere
    on_white = load_image(save(tmp_path / "ink.png", Image.fromarray(ink, "RGBA")), (8, 8), "grayscale")
    assert np.abs(on_white.astype(int) - (255 - expected)).max() <= 1  # rounding
    keyed = tmp_path / "keyed.png"  # a black stroke on grey, the grey marked see-through (a PNG tRNS colour)
    Image.fromarray(np.where(digit() > 0, 0, 128).astype(np.uint8)).save(keyed, transparency=128)
    assert np.abs(load_image(keyed, (8, 8), "grayscale").astype(int) - (255 - expected)).max() <= 1
    # Floating-point pixels from 0 to 1, and 16-bit ones, are the same picture as 8-bit ones.
    floats = Image.fromarray(digit().astype(np.float32) / 255, "F")
    assert np.array_equal(load_image(save(tmp_path / "float.tiff", floats), (8, 8), "grayscale"), expected)
    wide = Image.fromarray(digit().astype(np.uint16) * 257)  # 16-bit grey
    assert np.array_equal(load_image(save(tmp_path / "wide.png", wide), (8, 8), "grayscale"), expected)
    grey = load_image(save(tmp_path / "grey.png", Image.fromarray(digit() // 255 * 100)), (8, 8), "grayscale")
    wide = Image.fromarray(digit().astype(np.uint16) // 255 * 25700)  # the same 100 of 255, in 16 bits
    assert np.array_equal(load_image(save(tmp_path / "wide.png", wide), (8, 8), "grayscale"), grey)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Image.new("L", (1, 1)), "1x1 pixels is too small to classify"),
        (lambda: Image.new("L", (200, 10)), "200x10 pixels would be stretched 20 times to the 8x8 input"),
        (lambda: Image.fromarray(np.full((8, 8), -1.0, np.float32), "F"), "pixel values from -1 to -1"),
    ],
)
def test_an_image_that_cannot_be_classified_is_refused(tmp_path, make, message):
    path = save(tmp_path / "x.tiff", make())
    with pytest.raises(DataError, match=message):
        load_image(path, (8, 8), "grayscale")


def test_an_animation_is_refused(tmp_path):
    frames = [Image.fromarray(digit()), Image.fromarray(255 - digit())]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(DataError, match="holds 2 frames"):
        load_image(tmp_path / "a.gif", (8, 8), "grayscale")


def save(path, image):
    image.save(path)
    return path


# --- class names ----------------------------------------------------------------------------------


def test_prepare_refuses_a_class_without_images(tmp_path, capsys):
    config = tmp_path / "download.json"
    write_json(config, {"dataset": "digits"})
    assert download_main(["--config", str(config), "--out", str(tmp_path / "raw")]) == 0
    manifest = json.loads((tmp_path / "raw" / "manifest.json").read_text())
    manifest["class_names"].append("extra")
    (tmp_path / "raw" / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    status = prepare_main(
        [
            "--config",
            str(ROOT / "configs/data/prepare.json"),
            "--raw",
            str(tmp_path / "raw"),
            "--out",
            str(tmp_path / "p"),
        ]
    )
    assert status == 1
    assert capsys.readouterr().err == "error: digits: no images of class 'extra'\n"
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("names", [["a", "a", "c"], ["a", " ", "c"], ["a"], "abc"])
def test_class_names_must_be_distinct_and_named(tmp_path, names):
    data = make_tiny_data(tmp_path / "data")
    metadata = json.loads((data / "metadata.json").read_text())
    (data / "metadata.json").write_text(json.dumps({**metadata, "class_names": names}))
    with pytest.raises(PipelineError, match=r"metadata\.json: "):
        read_metadata(data)
    package = tmp_path / "package"
    package.mkdir()
    write_json(package / "preprocessing.json", {"image_shape": [8, 8, 1]})
    write_json(package / "class_names.json", names)
    if isinstance(names, list) and len(names) > 1:
        with pytest.raises(PackageError, match=r"class_names\.json"):
            read_contract(package, "pkg")


# --- compare --------------------------------------------------------------------------------------


def comparison(folder, runs):
    for run, metrics in runs.items():
        if metrics is not None:
            (folder / "runs" / run / "evaluation").mkdir(parents=True)
            (folder / "runs" / run / "evaluation" / "metrics.json").write_text(json.dumps(metrics))
    (folder / "comparison.csv").write_text("run,accuracy\n" + "".join(f"{run},0\n" for run in runs))
    return str(folder)


def test_compare_says_a_listed_run_has_lost_its_metrics(tmp_path, capsys):
    good = {"accuracy": 0.5, "loss": 1.0}
    old = comparison(tmp_path / "old", {"a": good, "b": good})
    new = comparison(tmp_path / "new", {"a": good, "b": None})
    assert compare_main([old, new]) == 1
    assert (
        capsys.readouterr().err
        == f"error: {new!r}: comparison.csv lists the run 'b', which has no evaluation/metrics.json\n"
    )


@pytest.mark.parametrize(
    "metrics, name", [({"accuracy": 5.0, "loss": 1.0}, "accuracy"), ({"accuracy": 0.5, "loss": -1}, "loss")]
)
def test_compare_refuses_a_metric_outside_its_range(tmp_path, capsys, metrics, name):
    old = comparison(tmp_path / "old", {"a": {"accuracy": 0.5, "loss": 1.0}})
    new = comparison(tmp_path / "new", {"a": metrics})
    assert compare_main([old, new]) == 1
    assert f"{name} is {metrics[name]!r}, outside the range such a metric has" in capsys.readouterr().err


# --- params.yaml ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail, message",
    [
        ("zz: &z [*z]\n", "a YAML alias refers to a node that contains it"),
        (
            "bomb:\n  a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
            + "".join(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
            "over 1,000,000 values once its YAML aliases are expanded",
        ),
        ("deep: " + "[" * 60 + "]" * 60 + "\n", "nested more than 50 levels deep"),
    ],
)
def test_a_params_file_that_expands_without_end_is_refused(tmp_path, tail, message):
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text() + tail)
    with pytest.raises(ParamsError, match=message):
        read_yaml(path)


def test_a_grid_of_too_many_runs_and_names_equal_but_for_case_are_refused():
    params = read_yaml(ROOT / "params.yaml")
    params["sweeps"] = {
        "g": {
            "run": {"architecture": "mlp"},
            "grid": {"epochs": list(range(1, 101)), "batch_size": list(range(1, 101))},
        }
    }
    with pytest.raises(ParamsError, match=f"runs in all .* over the limit of {MAX_RUNS:,}"):
        validate_params(params)
    params = read_yaml(ROOT / "params.yaml")
    params["runs"]["MLP"] = params["runs"]["mlp"]
    with pytest.raises(ParamsError, match=r"runs\.MLP: differs from the run 'mlp' only in case"):
        validate_params(params)
