"""Architecture registry: pure builders, `build(input_shape, num_classes, **hp) -> keras.Model`.

No compile, no fit, no I/O: training picks a builder by name from
ARCHITECTURES. The keyword arguments of each builder are the keys that
params.yaml accepts for that architecture (workflow/schemas/params.schema.yaml;
a test keeps the two in step).
"""

from __future__ import annotations

import keras
from keras import layers

from stages.lib.layers import Dilation2D, Erosion2D
from stages.lib.shapes import ArchitectureError, check_input

MLP_PRESETS = {
    "deep": {"units": [100, 50, 50, 25, 25], "dropout": 0.0},  # the course's 100-50-50-25-25
    "wide": {"units": [512, 512, 512], "dropout": 0.2},  # Keras' mnist_mlp, one layer more
}


def _check_spatial(input_shape, name: str, **hp) -> None:
    if len(input_shape) != 3:
        raise ArchitectureError(f"{name} needs images of shape (height, width, channels), got {tuple(input_shape)}")
    check_input(name, hp, input_shape)


def build_softmax(input_shape, num_classes) -> keras.Model:
    """Multinomial logistic regression: flatten, one dense softmax layer."""
    return keras.Sequential(
        [keras.Input(input_shape), layers.Flatten(), layers.Dense(num_classes, activation="softmax")],
        name="softmax",
    )


def build_mlp(input_shape, num_classes, units=None, dropout=None, activation="relu", preset=None) -> keras.Model:
    """Dense layers of the given widths, each followed by dropout; `preset` names a course model."""
    chosen = MLP_PRESETS[preset] if preset else {"units": [512, 512], "dropout": 0.2}
    units = chosen["units"] if units is None else units
    dropout = chosen["dropout"] if dropout is None else dropout
    model = keras.Sequential([keras.Input(input_shape), layers.Flatten()], name="mlp")
    for width in units:
        model.add(layers.Dense(width, activation=activation))
        if dropout:
            model.add(layers.Dropout(dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


def _small_conv_stem(activation: str, padding: str) -> list:
    """Conv16(3x3)-MaxPool-Conv32(3x3)-MaxPool: the start of the course's small CNNs."""
    return [
        layers.Conv2D(16, (3, 3), activation=activation, padding=padding),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation=activation, padding=padding),
        layers.MaxPooling2D((2, 2)),
    ]


def build_cnn_intro(input_shape, num_classes, activation="relu", padding="valid", dense_units=64) -> keras.Model:
    """Conv16(3x3)-MaxPool-Conv32(3x3)-MaxPool-Flatten-Dense64-Dense (Carpentries intro CNN)."""
    _check_spatial(input_shape, "cnn_intro", padding=padding)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            *_small_conv_stem(activation, padding),
            layers.Flatten(),
            layers.Dense(dense_units, activation=activation),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn_intro",
    )


def build_cnn_dropout(input_shape, num_classes, activation="relu", padding="valid", dropout=0.5) -> keras.Model:
    """Conv16-Pool-Conv32-Pool-Conv64-Dropout(rate)-Flatten-Dense (the course's dropout CNN)."""
    _check_spatial(input_shape, "cnn_dropout", padding=padding)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            *_small_conv_stem(activation, padding),
            layers.Conv2D(64, (3, 3), activation=activation, padding=padding),
            layers.Dropout(dropout),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn_dropout",
    )


def build_morph(
    input_shape,
    num_classes,
    operation="dilation",
    filters=8,
    kernel_size=5,
    padding="valid",
    activation="relu",
    dropout=0.5,
) -> keras.Model:
    """Dilation2D or Erosion2D first layer, then MaxPool-Conv32-MaxPool-Flatten-Dropout-Dense
    (the morpholayers tutorial: 8 filters of 5x5, 200 parameters in the first layer on MNIST)."""
    _check_spatial(input_shape, "morph", padding=padding, kernel_size=kernel_size)
    morphology = {"dilation": Dilation2D, "erosion": Erosion2D}[operation]
    return keras.Sequential(
        [
            keras.Input(input_shape),
            morphology(filters, kernel_size, padding=padding, name=operation),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation=activation, padding=padding),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="morph",
    )


def build_cnn_deep(
    input_shape, num_classes, activation="relu", padding="valid", dropout=0.25, dense_dropout=0.5, batch_norm=False
) -> keras.Model:
    """Conv32-Conv32-Pool-Dropout-Conv64-Conv64-Pool-Dropout-Flatten-Dense512-Dropout-Dense
    (Keras' cifar10_cnn: about 1.25 million parameters on CIFAR-10), optional batch normalisation."""
    _check_spatial(input_shape, "cnn_deep", padding=padding)
    model = keras.Sequential([keras.Input(input_shape)], name="cnn_deep")
    for width in (32, 64):
        for conv_padding in ("same", padding):
            model.add(layers.Conv2D(width, (3, 3), padding=conv_padding, use_bias=not batch_norm))
            if batch_norm:
                model.add(layers.BatchNormalization())
            model.add(layers.Activation(activation))
        model.add(layers.MaxPooling2D((2, 2)))
        model.add(layers.Dropout(dropout))
    model.add(layers.Flatten())
    model.add(layers.Dense(512, activation=activation))
    model.add(layers.Dropout(dense_dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


def build_transfer(
    input_shape, num_classes, backbone="mobilenet_v2", weights="none", dropout=0.2, alpha=1.0
) -> keras.Model:
    """A Keras Applications backbone without its top, global average pooling, dropout and a new
    softmax head. `weights`: "none" (random initialisation, offline) or a local weights file of the
    backbone without top. The backbone (layer "backbone") is frozen; the `fine_tune_epochs`
    training setting unfreezes it for a second phase at `fine_tune_learning_rate`."""
    _check_spatial(input_shape, "transfer")
    if weights != "none" and input_shape[-1] != 3:
        raise ArchitectureError(
            f"transfer: pretrained weights need 3 colour channels, got {input_shape[-1]}; set data.color_mode: rgb"
        )
    constructors = {"mobilenet_v2": keras.applications.MobileNetV2}
    base = constructors[backbone](
        input_shape=tuple(input_shape),
        include_top=False,
        alpha=alpha,
        weights=None if weights == "none" else weights,
        pooling="avg",
    )
    base.name = "backbone"
    base.trainable = False  # frozen for the first phase; training's fine_tune_epochs unfreeze it
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(2.0, offset=-1.0)(inputs)  # [0, 1] -> [-1, 1], as MobileNetV2 was trained
    x = base(x, training=False)  # batch-norm statistics stay fixed, also when fine-tuning
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="transfer")


ARCHITECTURES = {
    "softmax": build_softmax,
    "mlp": build_mlp,
    "cnn_intro": build_cnn_intro,
    "cnn_dropout": build_cnn_dropout,
    "morph": build_morph,
    "cnn_deep": build_cnn_deep,
    "transfer": build_transfer,
}


def build(name: str, input_shape, num_classes: int, **hyperparameters) -> keras.Model:
    try:
        builder = ARCHITECTURES[name]
    except KeyError:
        raise ArchitectureError(f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})") from None
    return builder(tuple(input_shape), num_classes, **hyperparameters)
