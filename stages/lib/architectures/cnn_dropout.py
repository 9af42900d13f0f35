"""Conv16-Pool-Conv32-Pool-Conv64-Dropout(rate)-Flatten-Dense (the course's dropout CNN)."""

from __future__ import annotations

from stages.lib.architectures._blocks import check_spatial, small_conv_plan, small_conv_stem


def spatial_plan(hp: dict) -> list[tuple[str, int, str]]:
    padding = hp.get("padding", "valid")
    return [*small_conv_plan(padding), ("conv", 3, padding)]


def build(input_shape, num_classes, activation="relu", padding="valid", dropout=0.5):
    import keras
    from keras import layers

    check_spatial(input_shape, "cnn_dropout", padding=padding)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            *small_conv_stem(activation, padding),
            layers.Conv2D(64, (3, 3), activation=activation, padding=padding),
            layers.Dropout(dropout),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn_dropout",
    )
