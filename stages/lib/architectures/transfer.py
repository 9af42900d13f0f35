"""A Keras Applications backbone without its top, global average pooling, dropout and a new
softmax head. `weights`: "none" (random initialisation, offline) or a local weights file of the
backbone without top. The backbone (layer "backbone") is frozen; the `fine_tune_epochs`
training setting unfreezes it for a second phase at `fine_tune_learning_rate`."""

from __future__ import annotations

from stages.lib.architectures import ArchitectureError
from stages.lib.architectures._blocks import check_spatial


def spatial_plan(hp: dict) -> list[tuple[str, int, str]]:
    return [("pool", 32, "")]  # Keras Applications take at least 32x32 images


def build(input_shape, num_classes, backbone="mobilenet_v2", weights="none", dropout=0.2, alpha=1.0):
    import keras
    from keras import layers

    check_spatial(input_shape, "transfer")
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
