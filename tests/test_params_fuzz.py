"""Generated bad params: every mutation of the default params.yaml is either refused when it
is validated, in one line naming the key, or accepted by every stage's own checks.

Hypothesis mutates one value of the default params (types, NaN and infinity, huge and tiny
numbers, odd names, missing and extra keys), writes the result as YAML and loads it the way
both runners do (stages.lib.params.load_params). An accepted mutation must then resolve into the
stage configs (no NaN in them), build every run's model, optimizer and augmentation, and
split and subsample the dataset's labels with prepare's own function. 500 examples, derandomized: CI
runs the same ones every time (set HYPOTHESIS_EXAMPLES for a longer hunt).
"""

from __future__ import annotations

import copy
import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from stages.lib.files import dumps_json
from stages.lib.params import (
    DATASET_SIZES,
    ParamsError,
    load_params,
    resolve_data,
    resolve_package,
    resolve_report,
    resolve_runs,
)
from stages.lib.shapes import input_shape
from tests.conftest import ROOT

DEFAULT = load_params(ROOT / "params.yaml")
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", 500))


def key_paths(value, path=()):
    """Every key path of a nested mapping/list, parents before children."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from key_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from key_paths(item, (*path, index))


PATHS = [path for path in key_paths(DEFAULT) if path]

# Numbers a user might write, and those that break things: bounds, NaN, infinity, floats for integers.
NUMBERS = st.one_of(
    st.integers(min_value=-3, max_value=300),
    st.sampled_from([2**31, 2**32, 2**63, 10**100, 99999999999, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 2.0, 0.5, 1e-300, 5e-324, 1e308, 42.0, -0.0]),
)
NAMES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", "x" * 300, "package", "report", "a/b", "../up", "1", "mlp", "yes", "null", "dropout-0.15"]),
    st.integers(-5, 5),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    NAMES,
    st.sampled_from(["1e-3", "nan", ".inf", "same", "valid", "relu", "sgd", "rgb", "folder"]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.lists(st.integers(-2, 300), max_size=40),
    st.dictionaries(NAMES.filter(lambda k: isinstance(k, str)), SCALARS, max_size=3),
)


def get(params, path):
    for part in path:
        params = params[part]
    return params


@st.composite
def mutations(draw):
    """(description, mutated params): one value replaced (by anything, or by a value of its own kind),
    one key removed, one key added, or one run renamed."""
    params = copy.deepcopy(DEFAULT)
    kind = draw(st.sampled_from(["replace", "replace", "similar", "similar", "remove", "add", "rename"]))
    if kind == "rename":
        old = draw(st.sampled_from(list(params["runs"])))
        new = draw(NAMES)
        params["runs"] = {new if name == old else name: run for name, run in params["runs"].items()}
        return f"runs: {old!r} renamed {new!r}", params
    if kind == "add":
        parents = [p for p in [(), *PATHS] if isinstance(get(params, p), dict)]
        path = draw(st.sampled_from(parents))
        key = draw(st.one_of(NAMES, st.sampled_from(["units", "dropout", "seed", "epochs", "padding"])))
        value = draw(VALUES)
        get(params, path)[key] = value
        return f"{path}: added {key!r}: {value!r}", params
    path = draw(st.sampled_from(PATHS))
    parent = get(params, path[:-1])
    if kind == "remove":
        if isinstance(parent, list):
            parent.pop(path[-1])
        else:
            del parent[path[-1]]
        return f"{path}: removed", params
    value = draw(VALUES if kind == "replace" else similar(parent[path[-1]]))
    parent[path[-1]] = value
    return f"{path}: {value!r}", params


def similar(value):
    """Values of the same kind as `value`, at odd sizes: most of these pass validation,
    so the stages' own checks get tried too."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(st.integers(0, 300), st.sampled_from([1, 2, 4096, 4294967295, 100000, 65536]))
    if isinstance(value, float):
        return st.one_of(st.floats(0, 1), st.floats(1e-300, 1e3), st.sampled_from([1e-7, 0.999999, 1.0, 5e-324]))
    if isinstance(value, list):
        return st.lists(st.integers(1, 300), min_size=0, max_size=40)
    if isinstance(value, str):
        return st.sampled_from(
            [
                "same",
                "valid",
                "relu",
                "tanh",
                "sgd",
                "rmsprop",
                "adam",
                "val_accuracy",
                "erosion",
                "macro_f1",
                "cnn_deep",
                "transfer",
                "mlp",
                "morph",
                "mnist",
                "cifar10",
                "folder",
                "rgb",
                "grayscale",
                "deep",
                "wide",
            ]
        )
    return SCALARS


def stage_checks(params: dict) -> None:
    """What the stages do with accepted params, short of training: configs, models, the split."""
    from stages.lib.architectures import build
    from stages.prepare import split_indices
    from stages.train import augmentation, make_optimizer

    runs = resolve_runs(params)
    for config in [*runs.values(), *resolve_data(params).values(), resolve_package(params), resolve_report(params)]:
        dumps_json(config.to_dict())  # refuses NaN and infinity
    data = params["data"]
    classes, images, official_test = DATASET_SIZES.get(data["dataset"], (3, None, False))
    shape = input_shape(data)
    for config in runs.values():
        key = (config.architecture, dumps_json(config.model), shape, classes)
        if key not in BUILT:
            build(config.architecture, shape, classes, **config.model)
            BUILT.add(key)
        training = config.training
        make_optimizer(training.optimizer, training.learning_rate)
        if training.augment:
            augmentation(training.augment, config.seed)
    if images is None:  # an image folder: prepare counts its images and checks the split
        return
    labels = np.arange(images) % classes  # the training images, or all where there is no official test split
    split_indices(
        {"train": labels, "test": labels[:classes]} if official_test else {"all": labels},
        resolve_data(params)["prepare"],  # configs/data/prepare.json
        [str(c) for c in range(classes)],
    )


BUILT: set = set()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutations())
def test_a_mutated_params_yaml_is_refused_in_one_line_or_works_in_every_stage(tmp_path_factory, mutation):
    description, params = mutation
    path = tmp_path_factory.getbasetemp() / "fuzz-params.yaml"
    out = io.StringIO()
    YAML(typ="safe").dump(params, out)
    path.write_text(out.getvalue())
    try:
        loaded = load_params(path)
    except ParamsError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(f"{path}: "), (description, message)
        assert len(message) < 600, (description, message)
        event("refused")
        return
    event("accepted")
    try:
        stage_checks(loaded)
    except Exception as err:  # noqa: BLE001 - any failure here is a value validation let through
        pytest.fail(f"accepted by validation but refused by a stage: {description}: {type(err).__name__}: {err}")
