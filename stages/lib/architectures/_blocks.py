"""Parts that several builders share."""

from __future__ import annotations

from stages.lib.architectures import ArchitectureError
from stages.lib.shapes import check_input


def check_spatial(input_shape, name: str, **hp) -> None:
    """Refuse an input that is not an image, or too small for architecture `name`."""
    if len(input_shape) != 3:
        raise ArchitectureError(f"{name} needs images of shape (height, width, channels), got {tuple(input_shape)}")
    check_input(name, hp, input_shape)


def small_conv_stem(activation: str, padding: str) -> list:
    """Conv16(3x3)-MaxPool-Conv32(3x3)-MaxPool: the start of the course's small CNNs."""
    from keras import layers

    return [
        layers.Conv2D(16, (3, 3), activation=activation, padding=padding),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation=activation, padding=padding),
        layers.MaxPooling2D((2, 2)),
    ]


def small_conv_plan(padding: str) -> list[tuple[str, int, str]]:
    """The steps of `small_conv_stem` that shrink the image."""
    return [("conv", 3, padding), ("pool", 2, ""), ("conv", 3, padding), ("pool", 2, "")]
