"""Architectures: one module per network, each a pure builder, picked by name.

`stages/lib/architectures/<name>.py` defines `build(input_shape, num_classes, **hp) -> keras.Model`
(no compile, no fit, no I/O) and, if its convolutions or poolings shrink the image,
`spatial_plan(hp)`, the steps that do (stages.lib.shapes refuses a too-small input with them when
params.yaml is validated). The keyword arguments of `build` are the keys a run of that architecture
takes (workflow/schemas/params.schema.yaml; a test keeps the two in step). Keras is imported inside
`build`, so that validating params.yaml does not load it. Modules whose name starts with `_` hold
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
