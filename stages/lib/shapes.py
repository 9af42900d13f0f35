"""Input shapes and the smallest input each architecture accepts, without importing Keras.

params.yaml is validated when Snakemake parses the workflow: a network whose
convolutions and poolings would shrink the images to nothing must fail there,
with a message that says why, not minutes later inside a training job. The
builders in stages.lib.architectures check the same numbers, with the steps each declares
(`spatial_plan`).
"""

from __future__ import annotations

from stages.lib.architectures import ArchitectureError, spatial_plan

NATIVE_SHAPES = {
    "digits": (8, 8, 1),
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "cifar100": (32, 32, 3),
}


def input_shape(data: dict) -> tuple[int, int, int] | None:
    """The shape prepare gives the images (height, width, channels); None if unknown."""
    native = NATIVE_SHAPES.get(data["dataset"])
    size, mode = data.get("image_size"), data.get("color_mode")
    height, width = size if size else (native[:2] if native else (None, None))
    channels = {"grayscale": 1, "rgb": 3}.get(mode, native[2] if native else None)
    return None if None in (height, width, channels) else (height, width, channels)


def min_side(plan: list[tuple[str, int, str]]) -> int:
    """Smallest side that survives a plan of ("conv", kernel, padding) and ("pool", size, _) steps."""
    side = 1
    for kind, size, padding in reversed(plan):
        if kind == "pool":
            side *= size
        elif padding == "valid":
            side += size - 1
    return side


def check_input(architecture: str, hp: dict, shape) -> None:
    """Raise ArchitectureError saying why `shape` is too small for the architecture."""
    if not shape:
        return
    need = min_side(spatial_plan(architecture, hp))
    if min(shape[:2]) < need:
        convolutional = architecture != "transfer"
        padding = f" with padding {hp.get('padding', 'valid')}" if convolutional else ""
        hint = "set data.image_size" + (" or padding: same" if convolutional else "")
        raise ArchitectureError(
            f"input {shape[0]}x{shape[1]} is too small for {architecture}{padding}"
            f" (needs at least {need}x{need}); {hint}"
        )
