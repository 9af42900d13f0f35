"""Architecture registry: pure builders, `build(input_shape, num_classes, **hp) -> keras.Model`.

No compile, no fit, no I/O: training picks a builder by name from
ARCHITECTURES. The keyword arguments of each builder are the keys that
params.yaml accepts for that architecture (workflow/schemas/params.schema.yaml;
a test keeps the two in step).
"""
from __future__ import annotations

import keras
from keras import layers


def _check_spatial(input_shape, min_size: int, name: str) -> None:
    if len(input_shape) != 3:
        raise ValueError(f"{name} needs images of shape (height, width, channels), got {tuple(input_shape)}")
    if min(input_shape[:2]) < min_size:
        raise ValueError(
            f"{name}: input {input_shape[0]}x{input_shape[1]} is too small for this network "
            f"(at least {min_size}x{min_size}; try padding: same)"
        )


def build_softmax(input_shape, num_classes) -> keras.Model:
    """Multinomial logistic regression: flatten, one dense softmax layer."""
    return keras.Sequential(
        [keras.Input(input_shape), layers.Flatten(), layers.Dense(num_classes, activation="softmax")],
        name="softmax",
    )


def build_mlp(input_shape, num_classes, units=(512, 512), dropout=0.2, activation="relu") -> keras.Model:
    """Dense layers of the given widths, each followed by dropout."""
    model = keras.Sequential([keras.Input(input_shape), layers.Flatten()], name="mlp")
    for width in units:
        model.add(layers.Dense(width, activation=activation))
        if dropout:
            model.add(layers.Dropout(dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


def build_cnn_intro(input_shape, num_classes, activation="relu", padding="valid", dense_units=64) -> keras.Model:
    """Conv16(3x3)-MaxPool-Conv32(3x3)-MaxPool-Flatten-Dense64-Dense (Carpentries intro CNN)."""
    # Valid 3x3 convolutions and two 2x2 poolings need at least 10x10 pixels.
    _check_spatial(input_shape, 10 if padding == "valid" else 4, "cnn_intro")
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(16, (3, 3), activation=activation, padding=padding),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation=activation, padding=padding),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(dense_units, activation=activation),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn_intro",
    )


ARCHITECTURES = {
    "softmax": build_softmax,
    "mlp": build_mlp,
    "cnn_intro": build_cnn_intro,
}


def build(name: str, input_shape, num_classes: int, **hyperparameters) -> keras.Model:
    try:
        builder = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})") from None
    return builder(tuple(input_shape), num_classes, **hyperparameters)
