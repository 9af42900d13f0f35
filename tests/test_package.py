"""The package stage and the predict command, on a tiny trained run."""

import dataclasses
import gzip
import os
import re
import shutil
import subprocess
import sys
import tarfile
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stages.evaluate import evaluate, first_layer, plot_filters
from stages.lib.backend import BACKEND_MODULES
from stages.lib.errors import PipelineError
from stages.lib.files import read_json, sha256_file
from stages.lib.layers import load_model
from stages.lib.layout import AUGMENTATION, EVALUATION_DIR, RUN_FILES
from stages.lib.networks import network_of
from stages.lib.settings import PackageSettings
from stages.lib.splits import load_split
from stages.package import export_model, package, write_archive
from stages.predict import main as predict_main
from stages.train import train
from stages.verify import main as verify_main
from tests.conftest import run_config

RUNS = ("first", "second")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    """Two trained and evaluated runs laid out as the pipeline lays them out."""
    root = tmp_path_factory.mktemp("runs")
    for name, rate in zip(RUNS, (0.01, 0.003)):
        base = run_config()
        config = dataclasses.replace(base, run=name, training=dataclasses.replace(base.training, learning_rate=rate))
        model = root / "models" / name / "model.keras"
        model.parent.mkdir(parents=True)
        reports = root / "reports" / name
        train(config, tiny_data, model, reports / RUN_FILES["history"], reports / RUN_FILES["summary"])
        evaluate(config, model, tiny_data, reports / EVALUATION_DIR)
    return root


def make_package(runs, tiny_data, out, **config):
    selection = package(
        PackageSettings(**{"metric": "accuracy", **config}),
        RUNS,
        runs / "reports",
        runs / "models",
        tiny_data,
        out / "package",
        out / "package.tar.gz",
    )
    return selection, out / "package"


def manifest(folder):
    return dict(line.split("  ")[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())


def test_package_holds_model_contract_card_and_manifest(runs, tiny_data, tmp_path):
    selection, folder = make_package(runs, tiny_data, tmp_path)
    run = selection["run"]
    files = manifest(folder)
    assert set(files) == {
        "model.keras",
        "metrics.json",
        "scores.json",
        "provenance.json",
        "training.json",
        "confusion_matrix.csv",
        "confusion_matrix.png",
        "class_names.json",
        "preprocessing.json",
        "params.json",
        "selection.json",
        "MODEL_CARD.md",
        "model.onnx",  # package.exports defaults to [onnx]: stages.predict runs it without TensorFlow
        "exports.json",
    }
    assert all(sha256_file(folder / name) == digest for name, digest in files.items())
    assert read_json(folder / "preprocessing.json")["image_shape"] == [8, 8, 1]
    assert read_json(folder / "params.json")["run"]["run"] == run
    # The card's figures are the metrics file's.
    metrics = read_json(runs / "reports" / run / RUN_FILES["metrics"])
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"| accuracy | {metrics['accuracy']:.4f} |" in card
    assert f"| macro_f1 | {metrics['macro_f1']:.4f} |" in card
    for name, scores in read_json(runs / "reports" / run / RUN_FILES["scores"])["per_class"].items():
        low, high = scores["f1_interval"]
        assert (
            f"| {name} | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} "
            f"[{low:.4f}, {high:.4f}] | {scores['support']} |"
        ) in card
    assert "Selected as the best of 2 runs by test accuracy" in card
    # The runs that McNemar's test cannot tell from it are named: the choice among them is a tie-break.
    indistinguishable = read_json(folder / "selection.json")["indistinguishable"]
    assert ("it is not distinguishable from" in card) == bool(indistinguishable)
    assert all(f"`{other}` (p = " in card for other in indistinguishable)
    with tarfile.open(tmp_path / "package.tar.gz") as tar:
        assert sorted(tar.getnames()) == sorted(f"package/{name}" for name in [*files, "SHA256SUMS"])
    # The same inputs give the same archive, byte for byte (fixed timestamps and owners, and an ONNX
    # export with its generated names renumbered: a second export in one process counts on).
    make_package(runs, tiny_data, tmp_path / "again")
    assert sha256_file(tmp_path / "again" / "package.tar.gz") == sha256_file(tmp_path / "package.tar.gz")


def test_a_named_run_is_packaged_with_verified_exports(runs, tiny_data, tmp_path):
    selection, folder = make_package(runs, tiny_data, tmp_path, run="second", exports=["savedmodel", "onnx"])
    assert selection["run"] == "second" and selection["chosen"]
    exports = read_json(folder / "exports.json")
    for kind, path in (("savedmodel", "savedmodel"), ("onnx", "model.onnx")):
        assert exports[kind]["path"] == path and exports[kind]["max_abs_difference"] < 1e-4
        assert exports[kind]["verified_on_test_images"] == 16
    assert (folder / "savedmodel" / "saved_model.pb").is_file() and (folder / "model.onnx").is_file()
    assert "savedmodel/saved_model.pb" in manifest(folder)  # exports are in the manifest too
    assert "named in params.yaml (`package.run`)" in (folder / "MODEL_CARD.md").read_text()


def test_a_run_trained_with_augmentation_is_exported_and_drawn_without_it(tiny_data, tmp_path):
    """Augmentation layers pass images through unchanged outside training; traced for export they
    bring random ops ONNX lacks (the Fashion-MNIST study's cnn_deep failed to package), and in front
    of the network they hid its first layer's responses from the filters plot. Exports and plot use
    the network behind them, which predicts as the whole model does."""
    augment = {"flip": "horizontal", "translation": 0.1}
    config = run_config("cnn_dropout", training={"epochs": 1, "augment": augment}, padding="same")
    train(config, tiny_data, tmp_path / "model.keras", tmp_path / "history.csv", tmp_path / "training.json")
    model = load_model(tmp_path / "model.keras")
    assert model.layers[0].name == AUGMENTATION  # the name stages.train gives them
    network = network_of(model)
    assert network is model.layers[1] and network_of(network) is network
    layer, responses_drawn = first_layer(network)
    assert layer.name == network.layers[0].name and responses_drawn
    x, _ = load_split(tiny_data, "test")
    plot_filters(model, x[0], "augmented", tmp_path / "filters.png")  # the network's responses drawn
    for kind in ("onnx", "savedmodel"):
        assert export_model(model, kind, tmp_path, x[:16])["max_abs_difference"] < 1e-4, kind


def save_test_images(data_dir, folder, count=12) -> list:
    """Test images as 8-bit PNG files, as a user would have them."""
    x, _ = load_split(data_dir, "test", mmap=False)
    folder.mkdir()
    paths = []
    for i in range(count):
        paths.append(folder / f"test{i:02d}.png")
        Image.fromarray((x[i, ..., 0] * 255).round().astype(np.uint8)).save(paths[-1])
    return paths


def read_csv_rows(text):
    lines = text.strip().splitlines()
    return [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]


def test_predict_agrees_with_evaluate_on_the_test_images(runs, tiny_data, tmp_path, capsys):
    selection, _ = make_package(runs, tiny_data, tmp_path)
    images = save_test_images(tiny_data, tmp_path / "images")
    evaluated = read_csv_rows((runs / "reports" / selection["run"] / RUN_FILES["predictions"]).read_text())
    by_engine = {}
    for engine, name in (("auto", "onnxruntime"), ("onnx", "onnxruntime"), ("keras", "Keras")):
        capsys.readouterr()  # what package (or the previous engine) printed
        command = [str(tmp_path / "package.tar.gz"), str(tmp_path / "images"), "--top-k", "2", "--engine", engine]
        assert predict_main(command) == 0
        out, err = capsys.readouterr()
        assert err == f"classified {len(images)} of {len(images)} images with {name}\n"
        rows = by_engine[engine] = read_csv_rows(out)
        assert list(rows[0]) == ["file", "predicted", "probability", "class_2", "probability_2"]
        assert [r["file"] for r in rows] == [str(p) for p in images]
        assert [r["predicted"] for r in rows] == [e["predicted"] for e in evaluated[: len(images)]]
        for row, expected in zip(rows, evaluated):
            assert float(row["probability"]) == pytest.approx(float(expected[f"p_{row['predicted']}"]), abs=0.02)
    # The ONNX export and the Keras model (the reference) give the same classes and probabilities.
    for onnx, keras in zip(by_engine["onnx"], by_engine["keras"], strict=True):
        assert onnx["predicted"] == keras["predicted"] and onnx["class_2"] == keras["class_2"]
        assert float(onnx["probability"]) == pytest.approx(float(keras["probability"]), abs=1e-4)


def test_verify_checks_the_onnx_export_against_the_keras_model(runs, tiny_data, tmp_path, capsys):
    make_package(runs, tiny_data, tmp_path / "first", run="first")
    _, folder = make_package(runs, tiny_data, tmp_path / "second", run="second")
    capsys.readouterr()
    assert verify_main(["--package", str(folder), "--data", str(tiny_data)]) == 0
    assert "package: model.onnx gives the classes of model.keras on every test image\n" in capsys.readouterr().out
    # Another model's export in its place (the manifest rewritten to match): verify says so.
    shutil.copyfile(tmp_path / "first" / "package" / "model.onnx", folder / "model.onnx")
    rewrite_manifest(folder)
    assert verify_main(["--package", str(folder), "--data", str(tiny_data)]) == 1
    assert re.search(
        r"^package: model.onnx: probabilities differ from model.keras by up to 0\.\d+$", capsys.readouterr().out, re.M
    )


def test_a_tampered_package_is_refused(runs, tiny_data, tmp_path, capsys):
    _, folder = make_package(runs, tiny_data, tmp_path)
    image = save_test_images(tiny_data, tmp_path / "images", count=1)[0]
    capsys.readouterr()
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    (changed / "class_names.json").write_text('["c", "b", "a"]\n')
    assert predict_main([str(changed), str(image)]) == 2
    assert capsys.readouterr().err == f"error: {changed}: class_names.json does not match its SHA-256 in SHA256SUMS\n"
    extra = tmp_path / "extra"
    shutil.copytree(folder, extra)
    (extra / "extra.py").write_text("print('hello')\n")
    assert predict_main([str(extra), str(image)]) == 2
    assert "extra.py is not in SHA256SUMS" in capsys.readouterr().err


def test_an_unreadable_image_is_named_and_the_others_classified(runs, tiny_data, tmp_path, capsys):
    make_package(runs, tiny_data, tmp_path)
    images = save_test_images(tiny_data, tmp_path / "images", count=3)
    capsys.readouterr()
    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    status = predict_main(
        [
            str(tmp_path / "package"),
            str(tmp_path / "images"),
            str(tmp_path / "missing.png"),
            "--out",
            str(tmp_path / "out.csv"),
        ]
    )
    assert status == 1
    err = capsys.readouterr().err
    # Each line names the image once, then why.
    assert re.search(
        rf"^error: {re.escape(str(tmp_path / 'images' / 'broken.png'))}: cannot read the image \([^/]+\)$", err, re.M
    )
    assert f"error: {tmp_path / 'missing.png'}: cannot read the image (No such file or directory)\n" in err
    assert "classified 3 of 5 images" in err
    rows = read_csv_rows((tmp_path / "out.csv").read_text())
    assert [r["file"] for r in rows] == [str(p) for p in images]


def rewrite_manifest(folder):
    """SHA256SUMS made anew: a package that was changed by hand but is consistent, as one made elsewhere."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    (folder / "SHA256SUMS").write_text(
        "".join(f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in files)
    )


def test_a_damaged_archive_is_named_as_typed_in_one_line(runs, tiny_data, tmp_path, capsys, monkeypatch):
    make_package(runs, tiny_data, tmp_path)
    image = save_test_images(tiny_data, tmp_path / "images", count=1)[0]
    monkeypatch.chdir(tmp_path)
    whole = (tmp_path / "package.tar.gz").read_bytes()
    damaged = {
        "half.tar.gz": whole[: len(whole) // 2],
        "ten.tar.gz": whole[:10],
        "empty.tar.gz": b"",
        "random.tar.gz": np.random.default_rng(0).bytes(4096),
        "flipped.tar.gz": whole[:100] + bytes(b ^ 0xFF for b in whole[100:120]) + whole[120:],
        "gzip-not-tar.tar.gz": gzip.compress(b"hello, not a tar file\n" * 10),
    }
    for name, data in damaged.items():
        (tmp_path / name).write_bytes(data)
    capsys.readouterr()
    for name in damaged:
        for command in (predict_main, verify_main):
            args = [f"./{name}", str(image)] if command is predict_main else ["--package", f"./{name}"]
            assert command(args) != 0
            err = capsys.readouterr().err
            assert err.startswith(f"error: ./{name}: not a readable package archive, truncated or damaged (")
            assert err.count("\n") == 1 and "Traceback" not in err and "/tmp" not in err


def test_a_tampered_archive_is_named_not_its_temporary_folder(runs, tiny_data, tmp_path, capsys):
    _, folder = make_package(runs, tiny_data, tmp_path)
    image = save_test_images(tiny_data, tmp_path / "images", count=1)[0]
    (folder / "class_names.json").write_text('["c", "b", "a"]\n')
    archive = tmp_path / "tampered.tar.gz"
    write_archive(folder, archive)
    capsys.readouterr()
    assert predict_main([str(archive), str(image)]) == 2
    assert capsys.readouterr().err == f"error: {archive}: class_names.json does not match its SHA-256 in SHA256SUMS\n"
    assert verify_main(["--package", str(archive), "--data", str(tiny_data)]) == 1
    assert capsys.readouterr().err == f"error: {archive}: class_names.json does not match its SHA-256 in SHA256SUMS\n"


NAMES_REFUSED = "class_names.json must be a list of two or more distinct, non-empty class names"


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("preprocessing.json", None, "no preprocessing.json; not a complete package"),
        ("preprocessing.json", "{image_shape: [8, 8, 1]}", "preprocessing.json is not valid JSON"),
        ("preprocessing.json", "[8, 8, 1]", "preprocessing.json has no image_shape [height, width, 1 or 3]"),
        (
            "preprocessing.json",
            '{"image_shape": ["8", 8, 1]}',
            "preprocessing.json has no image_shape [height, width, 1 or 3]",
        ),
        ("class_names.json", None, "no class_names.json; not a complete package"),
        ("class_names.json", '{"a": 0}', NAMES_REFUSED),
        ("class_names.json", '["a", "a", "b"]', NAMES_REFUSED),
        ("class_names.json", '["a", " ", "b"]', NAMES_REFUSED),
        ("class_names.json", '["a", "b"]', "the model gives (3,) outputs per image, class_names.json names 2 classes"),
        ("model.keras", "not a zip", "model.keras does not load as a Keras model"),
        ("model.onnx", "not a protobuf", "model.onnx does not load in onnxruntime"),
    ],
)
def test_a_package_with_a_missing_or_malformed_contract_is_named(
    runs, tiny_data, tmp_path, capsys, name, text, message
):
    _, folder = make_package(runs, tiny_data, tmp_path)
    image = save_test_images(tiny_data, tmp_path / "images", count=1)[0]
    if text is None:
        (folder / name).unlink()
    else:
        (folder / name).write_text(text)
    rewrite_manifest(folder)
    archive = tmp_path / "made-elsewhere.tar.gz"
    write_archive(folder, archive)
    capsys.readouterr()
    engine = "keras" if name == "model.keras" else "auto"
    assert predict_main([str(archive), str(image), "--out", str(tmp_path / "out.csv"), "--engine", engine]) == 2
    assert capsys.readouterr().err == f"error: {archive}: {message}\n"
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[0.5]", "metrics.json: a JSON list, not an object; not a file evaluate wrote"),
        ('{"loss": 0.5}', "metrics.json: no accuracy; not a file evaluate wrote"),
        ('{"accuracy": NaN}', "metrics.json: "),  # then what stages.lib.files.read_json says
    ],
)
def test_verify_names_the_archive_of_a_malformed_packaged_metrics_file(
    runs, tiny_data, tmp_path, capsys, text, message
):
    _, folder = make_package(runs, tiny_data, tmp_path)
    (folder / "metrics.json").write_text(text)
    rewrite_manifest(folder)
    archive = tmp_path / "made-elsewhere.tar.gz"
    write_archive(folder, archive)
    capsys.readouterr()
    assert verify_main(["--package", str(archive), "--data", str(tiny_data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {archive}: {message}") and err.count("\n") == 1 and "/package-" not in err


def test_a_model_that_gives_nan_is_refused(runs, tiny_data, tmp_path, capsys):
    from stages.lib.layers import load_model

    _, folder = make_package(runs, tiny_data, tmp_path)
    image = save_test_images(tiny_data, tmp_path / "images", count=1)[0]
    model = load_model(folder / "model.keras")
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])  # as after a diverging run
    (folder / "model.keras").unlink()
    model.save(folder / "model.keras")
    rewrite_manifest(folder)
    capsys.readouterr()
    command = [str(folder), str(image), "--out", str(tmp_path / "out.csv"), "--engine", "keras"]
    assert predict_main(command) == 2
    assert capsys.readouterr().err == (
        f"error: {folder}: the model gives non-finite probabilities (NaN or infinity); "
        "was it trained with a diverging run?\n"
    )
    assert not (tmp_path / "out.csv").exists()


def test_an_oversized_image_is_named_and_the_others_classified(runs, tiny_data, tmp_path, capsys):
    make_package(runs, tiny_data, tmp_path)
    images = save_test_images(tiny_data, tmp_path / "images", count=2)
    Image.new("L", (20, 10)).save(tmp_path / "images" / "large.png")  # 200 pixels; the others 64
    capsys.readouterr()
    assert (
        predict_main(
            [
                str(tmp_path / "package.tar.gz"),
                str(tmp_path / "images"),
                "--max-pixels",
                "64",
                "--out",
                str(tmp_path / "out.csv"),
            ]
        )
        == 1
    )
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'images' / 'large.png'}: cannot read the image "
        "(20x10 pixels, above --max-pixels 64)\nclassified 2 of 3 images with onnxruntime\n"
    )
    assert [r["file"] for r in read_csv_rows((tmp_path / "out.csv").read_text())] == [str(p) for p in images]


def test_predict_keeps_an_earlier_out_file_and_warns_of_an_inverted_background(runs, tiny_data, tmp_path, capsys):
    make_package(runs, tiny_data, tmp_path)
    image = save_test_images(tiny_data, tmp_path / "images", count=1)[0]
    out = tmp_path / "predictions.csv"
    assert predict_main([str(tmp_path / "package.tar.gz"), str(image), "--out", str(out)]) == 0
    kept = out.read_text()
    assert kept.startswith("file,predicted,probability")
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    assert predict_main([str(tmp_path / "package.tar.gz"), str(broken), "--out", str(out)]) == 1
    assert out.read_text() == kept  # nothing classified: nothing written over it
    # The tiny data are light marks on dark: the same image on light paper is very likely misread.
    paper = tmp_path / "paper.png"
    Image.fromarray(255 - np.asarray(Image.open(image))).save(paper)
    capsys.readouterr()
    assert predict_main([str(tmp_path / "package.tar.gz"), str(paper)]) == 0
    assert capsys.readouterr().err.startswith(
        f"warning: {paper}: a mostly light image, but the model was trained on dark backgrounds;"
        " its class is likely wrong (pass --invert)\n"
    )
    assert predict_main([str(tmp_path / "package.tar.gz"), str(paper), "--invert"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_exports_under_another_backend_are_refused_before_anything_is_written(runs, tiny_data, tmp_path):
    """Under JAX, Keras's ONNX export needs jax2onnx and was seen to make graphs onnxruntime refuses:
    the stage says so in one line, and the package made before stays as it was."""
    pytest.importorskip("jax")
    _, folder = make_package(runs, tiny_data, tmp_path)
    archive = tmp_path / "package.tar.gz"

    def made():
        return {archive.name: archive.read_bytes(), **{path.name: path.read_bytes() for path in folder.iterdir()}}

    before = made()
    config = tmp_path / "package.json"
    config.write_text('{"exports": ["onnx"], "metric": "accuracy", "run": null}')
    done = subprocess.run(
        [
            sys.executable, "-m", "stages.package", "--config", str(config), "--runs", *RUNS,
            "--runs-dir", str(runs / "reports"), "--models-dir", str(runs / "models"), "--data", str(tiny_data),
            "--out-dir", str(folder), "--archive", str(archive),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "error: package.exports onnx needs the tensorflow backend, not jax: run the package stage with"
        " KERAS_BACKEND=tensorflow (the models load under any backend), or set package.exports: []\n"
    )
    assert made() == before


@pytest.mark.parametrize("backend", ["nonsense", "missing", "numpy"])
def test_a_keras_backend_that_cannot_run_is_named_in_one_line_by_each_command(
    backend, runs, tiny_data, tmp_path, capsys, monkeypatch
):
    """Issue 38, family 6: KERAS_BACKEND is checked before Keras is imported; each command that
    loads Keras says in one line what is wrong and which backends are installed, and writes nothing.
    numpy is a backend Keras predicts with but cannot train on."""
    _, folder = make_package(runs, tiny_data, tmp_path)
    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    if backend == "missing":  # one Keras can use but this environment lacks
        backend = next(name for name, module in BACKEND_MODULES.items() if find_spec(module) is None)
    monkeypatch.setenv("KERAS_BACKEND", backend)
    capsys.readouterr()
    config, out, made = run_config(), tmp_path / "predictions.csv", tmp_path / "made"
    stages = {
        "train": lambda: train(config, tiny_data, made / "model.keras", made / "history.csv", made / "summary.json"),
        "evaluate": lambda: evaluate(config, runs / "models" / RUNS[0] / "model.keras", tiny_data, made / "evaluation"),
        "package": lambda: make_package(runs, tiny_data, made),
    }
    if backend == "numpy":
        stages = {"train": stages["train"]}
    messages = []
    for stage in stages.values():
        with pytest.raises(PipelineError) as refused:
            stage()
        messages.append(str(refused.value))
    assert not made.exists()
    if backend != "numpy":
        assert predict_main([str(folder), str(image), "--engine", "keras", "--out", str(out)]) == 2
        assert verify_main(["--package", str(folder), "--data", str(tiny_data)]) == 1
        messages += [line.removeprefix("error: ") for line in capsys.readouterr().err.splitlines()]
        assert len(messages) == 5 and not out.exists()
    shown = repr(backend) if backend == "nonsense" else backend
    installed = ", ".join(name for name in ("tensorflow", "jax") if find_spec(name))
    for message in messages:
        assert message.startswith(f"KERAS_BACKEND is {shown}") and installed in message, message
        assert "\n" not in message
