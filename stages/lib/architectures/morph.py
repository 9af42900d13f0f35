"""Dilation2D or Erosion2D first layer, then MaxPool-Conv32-MaxPool-Flatten-Dropout-Dense
(the morpholayers tutorial: 8 filters of 5x5, 200 parameters in the first layer on MNIST)."""

from __future__ import annotations

from stages.lib.architectures._blocks import check_spatial


def spatial_plan(hp: dict) -> list[tuple[str, int, str]]:
    padding = hp.get("padding", "valid")
    return [("conv", hp.get("kernel_size", 5), padding), ("pool", 2, ""), ("conv", 3, padding), ("pool", 2, "")]


def build(
    input_shape,
    num_classes,
    operation="dilation",
    filters=8,
    kernel_size=5,
    padding="valid",
    activation="relu",
    dropout=0.5,
):
    import keras
    from keras import layers

    from stages.lib.layers import Dilation2D, Erosion2D

    check_spatial(input_shape, "morph", padding=padding, kernel_size=kernel_size)
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
