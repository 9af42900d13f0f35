"""Conv16(3x3)-MaxPool-Conv32(3x3)-MaxPool-Flatten-Dense64-Dense (the Carpentries intro CNN)."""

from __future__ import annotations

from stages.lib.architectures._blocks import check_spatial, small_conv_plan, small_conv_stem


def spatial_plan(hp: dict) -> list[tuple[str, int, str]]:
    return small_conv_plan(hp.get("padding", "valid"))


def build(input_shape, num_classes, activation="relu", padding="valid", dense_units=64):
    import keras
    from keras import layers

    check_spatial(input_shape, "cnn_intro", padding=padding)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            *small_conv_stem(activation, padding),
            layers.Flatten(),
            layers.Dense(dense_units, activation=activation),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn_intro",
    )
