"""The architecture zoo: parameter counts of the course models, morphological layers, input checks."""

import copy

import keras
import numpy as np
import pytest

from stages.lib.architectures import ArchitectureError, build, names
from stages.lib.layers import Dilation2D, Erosion2D
from stages.lib.params import ParamsError, load_params, validate_params
from stages.lib.shapes import NATIVE_SHAPES
from tests.conftest import ROOT

MNIST, CIFAR = (28, 28, 1), (32, 32, 3)


def dense(inputs, outputs):
    return inputs * outputs + outputs


def conv(k, channels, filters):
    return k * k * channels * filters + filters


@pytest.mark.parametrize(
    "name, shape, hp, expected",
    [
        ("softmax", MNIST, {}, 7_850),
        (
            "mlp",
            MNIST,
            {"preset": "deep"},
            dense(784, 100) + dense(100, 50) + dense(50, 50) + dense(50, 25) + dense(25, 25) + dense(25, 10),
        ),
        ("mlp", MNIST, {"preset": "wide"}, dense(784, 512) + 2 * dense(512, 512) + dense(512, 10)),
        # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5: 5*5*32 = 800 features
        ("cnn_intro", MNIST, {}, conv(3, 1, 16) + conv(3, 16, 32) + dense(800, 64) + dense(64, 10)),
        # 32 -conv-> 30 -pool-> 15 -conv-> 13 -pool-> 6: 6*6*32 = 1152 features; 79,530 in all
        ("cnn_intro", CIFAR, {}, conv(3, 3, 16) + conv(3, 16, 32) + dense(1152, 64) + dense(64, 10)),
        # ... -conv64-> 3: 3*3*64 = 576 features
        ("cnn_dropout", MNIST, {}, conv(3, 1, 16) + conv(3, 16, 32) + conv(3, 32, 64) + dense(576, 10)),
        # 28 -morph 5x5-> 24 -pool-> 12 -conv-> 10 -pool-> 5: 5*5*32 = 800 features
        ("morph", MNIST, {}, 5 * 5 * 8 + conv(3, 8, 32) + dense(800, 10)),
        # Keras' mnist_cnn: 28 -conv-> 26 -conv-> 24 -pool-> 12: 12*12*64 = 9216 features; 1,199,882 in all
        ("mnist_cnn", MNIST, {}, conv(3, 1, 32) + conv(3, 32, 64) + dense(9216, 128) + dense(128, 10)),
        # Keras' cifar10_cnn: 32 -same-> 32 -valid-> 30 -pool-> 15 -> 15 -> 13 -pool-> 6: 6*6*64 = 2304
        (
            "cnn_deep",
            CIFAR,
            {},
            conv(3, 3, 32) + conv(3, 32, 32) + conv(3, 32, 64) + conv(3, 64, 64) + dense(2304, 512) + dense(512, 10),
        ),
    ],
)
def test_parameter_counts_of_the_course_models(name, shape, hp, expected):
    assert build(name, shape, 10, **hp).count_params() == expected


def test_cnn_deep_is_about_1_25_million_on_cifar10_and_batch_norm_adds_its_scales():
    plain = build("cnn_deep", CIFAR, 10).count_params()
    assert 1_200_000 < plain < 1_300_000
    # Without conv biases, plus a scale, offset, mean and variance per channel.
    assert build("cnn_deep", CIFAR, 10, batch_norm=True).count_params() == plain - 192 + 4 * 192


def test_morph_first_layer_has_200_parameters_on_mnist():
    model = build("morph", MNIST, 10)
    assert model.layers[0].count_params() == 200 and isinstance(model.layers[0], Dilation2D)
    assert isinstance(build("morph", MNIST, 10, operation="erosion").layers[0], Erosion2D)


def test_transfer_from_random_weights_trains_every_layer_of_a_named_backbone():
    model = build("transfer", CIFAR, 10, weights="none", input_size=32)
    assert model.get_layer("backbone").count_params() == 2_257_984  # MobileNetV2 without its head
    assert model.get_layer("backbone").trainable
    # Grey images of any size are made RGB and resized in the model.
    grey = build("transfer", (8, 8, 1), 10, weights="none", input_size=32)
    assert grey.get_layer("grey_to_rgb") and grey.get_layer("resize").output.shape[1:] == (32, 32, 3)


def test_transfer_from_imagenet_needs_the_weights_stage_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchitectureError, match=r"data/weights/mobilenet_v2-b0353104\.pth not found; the weights"):
        build("transfer", CIFAR, 10, input_size=32)


# ---------------------------------------------------------------- morphological layers


def reference(x, w, sign, padding):
    """Plain NumPy max-plus (sign +1) / min-minus (sign -1), written from the definition."""
    k = w.shape[0]
    if padding == "same":
        pad = ((0, 0), ((k - 1) // 2, k // 2), ((k - 1) // 2, k // 2), (0, 0))
        x = np.pad(x, pad, constant_values=-np.inf if sign > 0 else np.inf)
    b, h, wd, _ = x.shape
    out = np.empty((b, h - k + 1, wd - k + 1, w.shape[-1]))
    for n in range(b):
        for i in range(h - k + 1):
            for j in range(wd - k + 1):
                window = x[n, i : i + k, j : j + k, :, None]  # k, k, c, 1
                values = window + w if sign > 0 else window - w
                out[n, i, j] = values.max(axis=(0, 1, 2)) if sign > 0 else values.min(axis=(0, 1, 2))
    return out


@pytest.mark.parametrize("layer_class, sign", [(Dilation2D, 1), (Erosion2D, -1)])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("k, channels", [(3, 1), (4, 2)])
def test_morphology_matches_numpy_reference(layer_class, sign, padding, k, channels):
    rng = np.random.default_rng(k * 10 + channels)
    x = rng.uniform(0, 1, (2, 9, 7, channels)).astype(np.float32)
    layer = layer_class(3, k, padding=padding)
    layer.build(x.shape)
    w = rng.normal(0, 0.3, layer.kernel.shape).astype(np.float32)
    layer.kernel.assign(w)
    got = keras.ops.convert_to_numpy(layer(x))
    assert got.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, reference(x, w, sign, padding), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layer_class", [Dilation2D, Erosion2D])
def test_morphology_gradients_flow_to_the_structuring_elements(layer_class):
    import tensorflow as tf

    x = tf.random.uniform((2, 8, 8, 1), seed=1)
    layer = layer_class(4, 3, padding="same")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grad = tape.gradient(loss, layer.kernel)
    assert grad is not None and np.all(np.isfinite(grad.numpy()))
    assert np.count_nonzero(grad.numpy()) > 0


def test_morph_model_saves_and_loads_as_keras_file(tmp_path):
    model = build("morph", (12, 12, 1), 3, operation="erosion", padding="same", filters=2, kernel_size=3)
    x = np.random.default_rng(0).uniform(size=(4, 12, 12, 1)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert isinstance(loaded.layers[0], Erosion2D) and loaded.layers[0].padding == "same"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


# ---------------------------------------------------------------- every architecture on every dataset

PARAMS = load_params(ROOT / "params.yaml")


def with_run(dataset, architecture, **hp):
    params = copy.deepcopy(PARAMS)
    params["data"]["dataset"] = dataset
    params["runs"] = {"one": {"architecture": architecture, **hp}}
    return params


# With its default settings (padding valid, morph's 5x5 kernel), the side each architecture needs
# at least, where a dataset's images are smaller (stages/lib/shapes.py's plan, worked out by hand):
# (architecture, dataset) -> that side. Every pair not listed is accepted, and builds and trains.
REFUSED = {
    # 8 < 10 = ((1 * 2 + 2) * 2) + 2: conv3, pool2, conv3, pool2
    ("cnn_intro", "digits"): 10,
    # 8 < 18 = (((1 + 2) * 2 + 2) * 2) + 2: conv3, pool2, conv3, pool2, conv3
    ("cnn_dropout", "digits"): 18,
    # 8 < 12 = ((1 * 2 + 2) * 2) + 4: morph 5x5, pool2, conv3, pool2
    ("morph", "digits"): 12,
    # 8 < 10: two blocks of a same and a valid conv3 and a pool2
    ("cnn_deep", "digits"): 10,
    # transfer resizes its images (to input_size) in the model: every size is accepted.
}
# transfer from random weights at 32x32: the pair must build and train, without the weights file.
CHEAP = {"transfer": {"weights": "none", "input_size": 32}}


@pytest.mark.parametrize("dataset", sorted(NATIVE_SHAPES))
@pytest.mark.parametrize("architecture", names())
def test_every_architecture_trains_on_every_dataset_or_is_refused_at_validation(dataset, architecture):
    shape = NATIVE_SHAPES[dataset]
    if (architecture, dataset) in REFUSED:
        side = REFUSED[architecture, dataset]
        padding, hint = ("", "") if architecture == "transfer" else (" with padding valid", " or padding: same")
        reason = (
            f"input {shape[0]}x{shape[1]} is too small for {architecture}{padding} "
            f"(needs at least {side}x{side}); set data.image_size{hint}"
        )
        with pytest.raises(ParamsError) as refused:
            validate_params(with_run(dataset, architecture))
        assert str(refused.value) == f"runs.one: {reason}"
        # The builder checks the same numbers, in the same words.
        with pytest.raises(ValueError) as refused:
            build(architecture, shape, 10)
        assert str(refused.value) == reason
        return
    hp = CHEAP.get(architecture, {})
    validate_params(with_run(dataset, architecture, **hp))  # accepted: it must build and train
    model = build(architecture, shape, 10, **hp)
    assert model.input_shape == (None, *shape) and model.output_shape == (None, 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(size=(8, *shape)).astype(np.float32)
    history = model.fit(x, np.arange(8) % 10, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_digits_takes_every_architecture_with_same_padding_and_transfer_as_it_is():
    for architecture in ("cnn_intro", "cnn_dropout", "morph", "cnn_deep"):
        validate_params(with_run("digits", architecture, padding="same"))
    validate_params(with_run("digits", "transfer"))  # 8x8 grey, made 224x224 RGB in the model
