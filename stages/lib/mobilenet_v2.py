"""torchvision's ImageNet MobileNetV2 in Keras 3: Keras' own MobileNetV2 with torch's weights.

The two networks have the same layers in the same order; four differences matter and are
handled here:
- torch pads a stride-2 3x3 convolution by one pixel on every side; Keras' MobileNetV2 pads an
  even-sized input on the bottom and right only (`correct_pad`), which shifts every later
  feature by a pixel. Every ZeroPadding2D here pads ((1, 1), (1, 1)): torch's padding, and the
  same output size.
- torch's batch normalisation adds epsilon 1e-5 to the variance, Keras' MobileNetV2 1e-3.
- torch's moving statistics follow each batch with momentum 0.1 (Keras: 0.9), Keras'
  MobileNetV2's with 0.001 (0.999): it matters only where batch norms train (from random
  weights), where Keras' would need thousands of steps before inference mode is usable (on
  100 images, 7 steps an epoch, its network stayed at chance).
- torch's network takes images normalised by ImageNet's channel means and standard deviations
  (IMAGENET_MEAN, IMAGENET_STD, of pixels in [0, 1]); `preprocessing` does that in the model.

A torch convolution's kernel is (out, in, height, width), Keras' (height, width, in, out); a
depthwise kernel (channels, 1, h, w) against (h, w, channels, 1); a linear layer (out, in)
against a Dense's (in, out). `port` maps every tensor in order and checks its shape.
"""

from __future__ import annotations

import numpy as np

from stages.lib.torch_weights import WeightsFileError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCH_BN_EPSILON = 1e-5
TORCH_BN_MOMENTUM = 0.9  # Keras' convention: the weight of the old moving statistics (torch's 0.1)
# torchvision's MobileNet_V2_Weights.IMAGENET1K_V1: file name (torchvision names it after the
# first hex digits of its SHA-256), SHA-256, and the address torchvision downloads it from.
IMAGENET_FILE = "mobilenet_v2-b0353104.pth"
IMAGENET_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
IMAGENET_URL = f"https://download.pytorch.org/models/{IMAGENET_FILE}"


def torch_modules(state: dict[str, np.ndarray]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The state dict's modules in order: (prefix, {'weight': ..., 'bias': ..., ...})."""
    modules: dict[str, dict[str, np.ndarray]] = {}
    for name, value in state.items():
        prefix, _, tensor = name.rpartition(".")
        if tensor != "num_batches_tracked":
            modules.setdefault(prefix, {})[tensor] = value
    return list(modules.items())


def keras_weights(layer, module: dict[str, np.ndarray]) -> list[np.ndarray]:
    """One torch module's tensors in the layout and order of `layer`'s weights."""
    kind = type(layer).__name__
    if kind == "BatchNormalization" and "running_mean" in module:
        return [module["weight"], module["bias"], module["running_mean"], module["running_var"]]
    if kind == "DepthwiseConv2D" and module["weight"].ndim == 4:
        return [module["weight"].transpose(2, 3, 0, 1)]
    if kind == "Conv2D" and module["weight"].ndim == 4:
        return [module["weight"].transpose(2, 3, 1, 0)]
    if kind == "Dense" and module["weight"].ndim == 2:
        return [module["weight"].T, module["bias"]]
    raise WeightsFileError(f"torch module with {sorted(module)} does not fit Keras layer {layer.name} ({kind})")


def torch_padded(model):
    """`model` rebuilt with torch's stride-2 padding, batch-norm epsilon and momentum."""
    import keras

    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "ZeroPadding2D":
            layer["config"]["padding"] = ((1, 1), (1, 1))
        elif layer["class_name"] == "BatchNormalization":
            layer["config"]["epsilon"] = TORCH_BN_EPSILON
            layer["config"]["momentum"] = TORCH_BN_MOMENTUM
    return keras.Model.from_config(config)


def torch_mobilenet_v2(input_shape=(224, 224, 3), include_top=True, alpha=1.0):
    """Keras' MobileNetV2 with torch's padding and batch norms, random weights: with its
    1,000-class head (softmax), or without it and global-average pooled."""
    import keras

    return torch_padded(
        keras.applications.MobileNetV2(
            input_shape=tuple(input_shape),
            alpha=alpha,
            include_top=include_top,
            weights=None,
            pooling=None if include_top else "avg",
        )
    )


def mobilenet_v2_backbone(state: dict[str, np.ndarray] | None, size: int, alpha: float = 1.0):
    """The network without its head for `size` x `size` images, named "backbone": holding
    torchvision's weights `state`, or random ones where `state` is None."""
    shape = (size, size, 3)
    model = port(state, shape, include_top=False) if state else torch_mobilenet_v2(shape, False, alpha)
    model.name = "backbone"
    return model


def port(state: dict[str, np.ndarray], input_shape=(224, 224, 3), include_top=True):
    """Keras' MobileNetV2 (alpha 1.0) holding torchvision's weights `state`: with its 1,000-class
    ImageNet head (softmax), or without it and global-average pooled. Takes normalised images
    (see `preprocessing`)."""
    model = torch_mobilenet_v2(input_shape, include_top)
    layers = [layer for layer in model.layers if layer.weights]
    modules = torch_modules(state)
    if not include_top:
        modules = [(name, module) for name, module in modules if not name.startswith("classifier.")]
    if len(layers) != len(modules):
        raise WeightsFileError(f"{len(modules)} torch modules for {len(layers)} Keras layers with weights")
    for layer, (name, module) in zip(layers, modules, strict=True):
        values = keras_weights(layer, module)
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            raise WeightsFileError(f"{name}: shapes {[v.shape for v in values]} do not fit {layer.name}'s {shapes}")
        layer.set_weights(values)
    return model


def preprocessing(x, size: int):
    """Keras layers that make images of pixels in [0, 1], grey or RGB, of any size, into the
    network's input: grey repeated into three channels, resized to `size` x `size` (bilinear,
    centre-cropped to a square; not antialiased, which ONNX cannot export), normalised by
    ImageNet's statistics."""
    from keras import layers

    if x.shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if tuple(x.shape[1:3]) != (size, size):
        x = layers.Resizing(size, size, crop_to_aspect_ratio=True, name="resize")(x)
    # (x - mean) / std per channel, as Rescaling's scale and offset: Normalization's statistics
    # become inputs, not constants, of the ONNX export.
    scale = [1 / s for s in IMAGENET_STD]
    offset = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    return layers.Rescaling(scale, offset, name="imagenet_normalization")(x)
