"""Architectures: one module per network, each a pure builder, picked by name.

`stages/lib/architectures/<name>.py` defines `build(input_shape, num_classes, **hp) -> keras.Model`
(no compile, no fit, no I/O) and, if its convolutions or poolings shrink the image,
`spatial_plan(hp)`, the steps that do (stages.lib.shapes refuses a too-small input with them when
params.yaml is validated). The keyword arguments of `build` are the keys a run of that architecture
takes (workflow/schemas/params.schema.yaml; a test keeps the two in step). Keras is imported inside
`build`, so that validating params.yaml does not load it. A module that freezes layers in `build`
may define `fine_tune(model, **hp)`, which picks the layers the fine-tuning phase trains (see
`fine_tune` below). Modules whose name starts with `_` hold
parts the builders share.

A train job's code fingerprint holds its own architecture's module and none of the others
(stages.lib.codedeps): adding or editing an architecture retrains the runs of that one only.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from stages.lib.errors import PipelineError


class ArchitectureError(PipelineError):
    """An architecture that is unknown or cannot take the input it is given."""


def names() -> list[str]:
    """Every architecture's name: the modules of this package not starting with `_`."""
    return sorted(path.stem for path in Path(__file__).parent.glob("*.py") if not path.name.startswith("_"))


def module(name: str):
    """The module of architecture `name`."""
    if name not in names():
        raise ArchitectureError(f"unknown architecture {name!r} (known: {', '.join(names())})")
    return importlib.import_module(f"{__name__}.{name}")


def spatial_plan(name: str, hp: dict) -> list[tuple[str, int, str]]:
    """The ("conv", kernel, padding) and ("pool", size, "") steps that shrink the image in `name`."""
    plan = getattr(module(name), "spatial_plan", None)
    return plan(hp) if plan else []


def build(name: str, input_shape, num_classes: int, **hyperparameters):
    """Architecture `name` for images of `input_shape` and `num_classes` classes (a keras.Model)."""
    return module(name).build(tuple(input_shape), num_classes, **hyperparameters)


def fine_tune(name: str, model, **hyperparameters) -> None:
    """Make trainable what train's fine-tuning phase (`fine_tune_epochs`) trains: the layers that
    architecture `name`'s own `fine_tune(model, **hp)` picks, or else every frozen layer."""
    own = getattr(module(name), "fine_tune", None)
    if own:
        own(model, **hyperparameters)
    else:
        unfreeze(model)


def unfreeze(model, picked=lambda layer: True) -> None:
    """Make the frozen layers of `model`, nested ones too, trainable where `picked(layer)` says so,
    except batch norms: frozen, they keep the statistics they were built with. Unfrozen, they would
    use each batch's, whatever `training=False` their caller passes, since Keras 3 hands fit's
    training=True on to nested models."""
    from keras import layers

    frozen = [layer for layer in _leaves(model) if not layer.trainable]
    model.trainable = True  # Keras sets it on every layer inside, the frozen ones too
    for layer in frozen:
        layer.trainable = picked(layer) and not isinstance(layer, layers.BatchNormalization)


def _leaves(layer):
    """The layers inside `layer` that hold no layers, depth first."""
    inner = getattr(layer, "layers", None)
    if not inner:
        yield layer
        return
    for child in inner:
        yield from _leaves(child)
