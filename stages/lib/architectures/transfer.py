"""MobileNetV2 with a new head: global average pooling, dropout, a softmax layer.

The images (grey or RGB, any size) are made RGB, resized to `input_size` and normalised by
ImageNet's statistics inside the model (stages.lib.mobilenet_v2.preprocessing), so predict and
the package need nothing else. `weights`:
- "imagenet": torchvision's ImageNet weights (the weights stage's data/weights, checked against
  their SHA-256), the backbone (layer "backbone") frozen while the head learns; the
  `fine_tune_epochs` training setting then trains the backbone's top `fine_tune_blocks` blocks
  too, at `fine_tune_learning_rate` (`fine_tune`). Only alpha 1.0 has ImageNet weights.
- "none": the same network from random weights, every layer trained from the start: the
  baseline that shows what the ImageNet weights bring.
"""

from __future__ import annotations

import re
from pathlib import Path

from stages.lib.architectures import ArchitectureError, unfreeze
from stages.lib.architectures._blocks import check_spatial
from stages.lib.files import sha256_file
from stages.lib.layout import WEIGHTS
from stages.lib.mobilenet_v2 import IMAGENET_FILE, IMAGENET_SHA256, mobilenet_v2_backbone, preprocessing

# Keras' MobileNetV2 names its 17 inverted-residual blocks expanded_conv_* (block 0) and
# block_<n>_* (1-16); the stem (Conv1, bn_Conv1, ...) comes before them and counts with block 0,
# the last 1x1 convolution (Conv_1, Conv_1_bn, out_relu) after them and counts with block 16.
BLOCKS = 17
_BLOCK = re.compile(r"block_(\d+)_")


def block_of(layer_name: str) -> int:
    """The block (0-16) a backbone layer belongs to."""
    if match := _BLOCK.match(layer_name):
        return int(match.group(1))
    return 0 if layer_name.startswith(("expanded_conv", "Conv1", "bn_Conv1")) else BLOCKS - 1


def fine_tune(model, weights="imagenet", fine_tune_blocks=4, **_) -> None:
    """Before the fine-tuning phase: the ImageNet backbone's top `fine_tune_blocks` blocks become
    trainable (with the last convolution; at 17 the whole backbone), their batch norms excepted,
    which keep ImageNet's statistics. From random weights every layer trains from the start."""
    if weights == "imagenet":
        unfreeze(model, lambda layer: block_of(layer.name) >= BLOCKS - fine_tune_blocks)


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
    fine_tune_blocks=4,  # blocks 13-16: the last stage, at 1/32 of the input's side
):
    import keras
    from keras import layers

    if backbone != "mobilenet_v2":
        raise ArchitectureError(f"transfer: unknown backbone {backbone!r} (known: mobilenet_v2)")
    check_spatial(input_shape, "transfer")
    if not 1 <= fine_tune_blocks <= BLOCKS:
        raise ArchitectureError(f"transfer: fine_tune_blocks must be 1 to {BLOCKS}, not {fine_tune_blocks}")
    if weights == "imagenet" and alpha != 1.0:
        raise ArchitectureError(f"transfer: ImageNet weights exist for alpha 1.0 only, not {alpha}")
    state = imagenet_state(weights_sha256 or IMAGENET_SHA256) if weights == "imagenet" else None
    base = mobilenet_v2_backbone(state, input_size, alpha)
    inputs = keras.Input(input_shape)
    x = preprocessing(inputs, input_size)
    if state is None:
        x = base(x)  # every layer trained, batch norm too
    else:
        base.trainable = False  # for the first phase; `fine_tune` unfreezes its top blocks
        x = base(x, training=False)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="transfer")
