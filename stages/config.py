"""Load, validate and resolve params.yaml: the one place that reads it.

The Snakefile calls `load_params` and `resolve_runs` when it is parsed; under
DVC the `configure` stage does the same. Every error is one line that names
the key and the value, e.g.

    params.yaml: runs.mlp.architecture: 'foo' is not one of ['softmax', 'mlp', 'cnn_intro']
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import jsonschema
import yaml

from stages.shapes import check_input, input_shape

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "workflow" / "schemas" / "params.schema.yaml"
# Training settings with their defaults where params.yaml's `train` may leave them out.
TRAINING_DEFAULTS = {"monitor": "val_loss", "reduce_lr_patience": 0, "reduce_lr_factor": 0.5,
                     "augment": None, "mixed_precision": False, "jit_compile": False,
                     "fine_tune_epochs": 0, "fine_tune_learning_rate": 1e-5, "require_gpu": False}
TRAINING_KEYS = ("epochs", "batch_size", "optimizer", "learning_rate", "patience", *TRAINING_DEFAULTS)


class ParamsError(ValueError):
    """params.yaml is unreadable or invalid; the message is one line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ParamsError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _key_path(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _describe(error: jsonschema.ValidationError, params: dict) -> str:
    where = _key_path(error.absolute_path)
    if "propertyNames" in error.schema_path:
        # The error is about a key, not a value: name the key and what is allowed.
        parent = params
        for part in error.absolute_path:
            parent = parent[part]
        arch = parent.get("architecture") if where.startswith("runs.") else None
        allowed = error.schema.get("enum")
        if arch and allowed:
            return f"{where}: unknown key {error.instance!r} for architecture {arch!r} (allowed: {', '.join(allowed)})"
        return f"{where}: invalid name {error.instance!r}: {error.message}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown key {extra[0]!r}" if extra else f"{where}: {error.message}"
    if error.validator == "unevaluatedProperties":  # message: "... ('key', ... were unexpected)"
        key = re.search(r"'([^']*)'", error.message)[1]
        return f"{where}: unknown key {key!r}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if {"then", "else"} & set(error.schema_path) and "description" in error.schema:
        return f"{where}: {error.instance!r} is invalid: {error.schema['description']}"
    return f"{where}: {error.instance!r} is invalid: {error.message}"


def validate_params(params: dict, schema_path: str | Path = SCHEMA) -> None:
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    errors = list(validator_cls(schema).iter_errors(params))
    if errors:
        # The deepest error is the most specific one (an if/then branch, not its parent).
        error = max(errors, key=lambda e: (len(e.absolute_path), -len(e.context or ())))
        raise ParamsError(_describe(error, params))
    split = params["split"]
    if split["val_fraction"] + split["test_fraction"] >= 1:
        raise ParamsError(f"split: val_fraction {split['val_fraction']} + test_fraction {split['test_fraction']}"
                          " leaves no images for training; their sum must be below 1")
    runs = all_runs(params)
    # Every run a sweep makes must be a valid run itself: check them as if written out.
    sweep_errors = list(validator_cls(schema).iter_errors({**params, "runs": runs}))
    if sweep_errors:
        raise ParamsError(_describe(sweep_errors[0], {**params, "runs": runs}) + " (from a sweep)")
    if "package" in runs:  # configs/package.json is the package stage's
        raise ParamsError("runs.package: the name 'package' is reserved for the package stage's config; rename the run")
    check_input_sizes(params["data"], runs)
    chosen = (params.get("package") or {}).get("run")
    if chosen is not None and chosen not in runs:
        raise ParamsError(f"package.run: {chosen!r} is not a run; the runs are {', '.join(runs)}")


def sweep_run_name(sweep: str, point: dict) -> str:
    """A stable, readable name: the sweep's name, then each swept value (key too if several)."""
    def text(value):
        return "_".join(map(str, value)) if isinstance(value, list) else str(value).lower()
    if len(point) == 1:
        return f"{sweep}-{text(next(iter(point.values())))}"
    return "-".join([sweep, *(f"{key}_{text(value)}" for key, value in point.items())])


def sweep_points(params: dict) -> dict[str, tuple[str, dict]]:
    """Each run a sweep makes: its name -> (sweep name, the swept values), in params.yaml order."""
    points = {}
    for sweep, spec in (params.get("sweeps") or {}).items():
        keys = list(spec["grid"])
        for values in itertools.product(*(spec["grid"][key] for key in keys)):
            point = dict(zip(keys, values))
            name = sweep_run_name(sweep, point)
            if name in params["runs"] or name in points:
                raise ParamsError(f"sweeps.{sweep}: run name {name!r} is taken already")
            points[name] = (sweep, point)
    return points


def all_runs(params: dict) -> dict[str, dict]:
    """The named runs, then every sweep expanded over its grid (in params.yaml order)."""
    runs = dict(params["runs"])
    for name, (sweep, point) in sweep_points(params).items():
        runs[name] = {**params["sweeps"][sweep]["run"], **point}
    return runs


def check_input_sizes(data: dict, runs: dict) -> None:
    """Refuse a run whose network would shrink the dataset's images to nothing."""
    shape = input_shape(data)
    for name, run in runs.items():
        try:
            check_input(run["architecture"], run, shape)
        except ValueError as err:
            raise ParamsError(f"runs.{name}: {err}") from None


def load_params(path: str | Path = "params.yaml", schema_path: str | Path = SCHEMA) -> dict:
    """Read and validate params.yaml; raise ParamsError with a one-line message."""
    path = Path(path)
    try:
        params = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ParamsError(f"{path}: YAML syntax error at {where}{problem}") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of keys, got {type(params).__name__}")
    try:
        validate_params(params, schema_path)
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
    return params


DATA_DEFAULTS = {"mirror": None, "folder": None, "image_size": None, "color_mode": None,
                 "skip_unreadable": False, "train_subsample": None}


def resolve_data(params: dict) -> dict[str, dict]:
    """The settings of the download and prepare stages, defaults filled in.

    Two files, so that a change to the split or the image size reruns prepare
    but does not fetch the dataset again.
    """
    data = {**DATA_DEFAULTS, **params["data"]}
    return {
        "download": {key: data[key] for key in ("dataset", "mirror", "folder")},
        "prepare": {"seed": params["seed"], **params["split"],
                    **{key: data[key] for key in ("image_size", "color_mode", "skip_unreadable",
                                                  "train_subsample")}},
    }


def resolve_package(params: dict) -> dict:
    """The package stage's settings: the ranking metric, a run named instead, the exports."""
    package = params.get("package") or {}
    return {"metric": params["report"]["metric"], "run": package.get("run"), "exports": package.get("exports", [])}


def source_inputs(params: dict) -> list[str]:
    """Inputs of the download stage outside the project: a `folder` dataset's image folder."""
    data = params["data"]
    return [data["folder"]] if data["dataset"] == "folder" and data.get("folder") else []


def resolve_runs(params: dict) -> dict[str, dict]:
    """Expand the named runs into complete, self-contained run configurations."""
    resolved = {}
    for name, run in all_runs(params).items():
        defaults = {**TRAINING_DEFAULTS, **params["train"]}
        training = {key: run.get(key, defaults[key]) for key in TRAINING_KEYS}
        model = {k: v for k, v in run.items() if k != "architecture" and k not in TRAINING_KEYS}
        resolved[name] = {
            "run": name,
            "architecture": run["architecture"],
            "model": model,
            "training": training,
            "seed": params["seed"],
        }
    # The report plots a sweep's metric against the swept values.
    for name, (sweep, point) in sweep_points(params).items():
        resolved[name]["sweep"] = {"name": sweep, "point": point}
    return resolved
