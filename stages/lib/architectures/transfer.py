"""MobileNetV2 with a new head: global average pooling, dropout, a softmax layer.

The images (grey or RGB, any size) are made RGB, resized to `input_size` and normalised by
ImageNet's statistics inside the model (stages.lib.mobilenet_v2.preprocessing), so predict and
the package need nothing else. `weights`:
- "imagenet": torchvision's ImageNet weights (the weights stage's data/weights, checked against
  their SHA-256), the backbone (layer "backbone") frozen; the `fine_tune_epochs` training
  setting then trains it too, at `fine_tune_learning_rate`. Only alpha 1.0 has ImageNet weights.
- "none": the same network from random weights, every layer trained from the start: the
  baseline that shows what the ImageNet weights bring.
"""

from __future__ import annotations

from pathlib import Path

from stages.lib.architectures import ArchitectureError
from stages.lib.architectures._blocks import check_spatial
from stages.lib.files import sha256_file
from stages.lib.layout import WEIGHTS
from stages.lib.mobilenet_v2 import IMAGENET_FILE, IMAGENET_SHA256, mobilenet_v2_backbone, preprocessing


def imagenet_state(expected_sha256: str) -> dict:
    """The ImageNet state dict from the weights stage's folder, checked against `expected_sha256`."""
    from stages.lib.torch_weights import read_state_dict

    path = Path(WEIGHTS) / IMAGENET_FILE
    if not path.is_file():
        raise ArchitectureError(f"transfer: {path} not found; the weights stage fetches it (snakemake or dvc repro)")
    if (digest := sha256_file(path)) != expected_sha256:
        raise ArchitectureError(f"transfer: {path} has SHA-256 {digest}, not {expected_sha256}")
    return read_state_dict(path)


def build(
    input_shape,
    num_classes,
    backbone="mobilenet_v2",
    weights="imagenet",
    weights_sha256=None,
    input_size=224,
    dropout=0.2,
    alpha=1.0,
):
    import keras
    from keras import layers

    if backbone != "mobilenet_v2":
        raise ArchitectureError(f"transfer: unknown backbone {backbone!r} (known: mobilenet_v2)")
    check_spatial(input_shape, "transfer")
    if weights == "imagenet" and alpha != 1.0:
        raise ArchitectureError(f"transfer: ImageNet weights exist for alpha 1.0 only, not {alpha}")
    state = imagenet_state(weights_sha256 or IMAGENET_SHA256) if weights == "imagenet" else None
    base = mobilenet_v2_backbone(state, input_size, alpha)
    inputs = keras.Input(input_shape)
    x = preprocessing(inputs, input_size)
    if state is None:
        x = base(x)  # every layer trained, batch norm too
    else:
        base.trainable = False  # for the first phase; the fine_tune_epochs setting unfreezes it
        # Frozen, its batch norms use ImageNet's statistics. Unfrozen, they do not: Keras 3 passes
        # fit's training=True on to a nested model whatever this call says (issue 40; the test
        # test_fine_tuning_keeps_the_imagenet_batch_norm_statistics is marked xfail for it).
        x = base(x, training=False)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="transfer")
