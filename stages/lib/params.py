"""Load, validate and resolve params.yaml: the one place that reads it.

The Snakefile calls `load_params` and `resolve_runs` when it is parsed (through
stages.lib.parse_cache, only when a file changed); under DVC the `configure`
stage does the same. Every error is one line that names
the key and the value, e.g.

    params.yaml: runs.mlp.architecture: 'foo' is not one of ['softmax', 'mlp', 'cnn_intro']
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
from pathlib import Path

import yaml

from stages.lib.architectures import module as architecture_module
from stages.lib.architectures import names as architecture_names
from stages.lib.errors import PipelineError
from stages.lib.files import first_non_finite
from stages.lib.layout import CODE_STAGES, FOLD, FOLDS, PREPARED
from stages.lib.mobilenet_v2 import IMAGENET_SHA256
from stages.lib.settings import (
    DownloadSettings,
    PackageSettings,
    PrepareSettings,
    ReportSettings,
    RunSettings,
    TrainingSettings,
    WeightsSettings,
)
from stages.lib.shapes import check_input, input_shape

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "params.schema.yaml"
# The keys of a run that are training settings (any run may override params.yaml's `train`); the rest
# are its architecture's arguments.
TRAINING_KEYS = tuple(f.name for f in dataclasses.fields(TrainingSettings))
# Keys of a run that are neither: how many more runs it makes (`replicates`), and its own seed.
REPLICATE_KEYS = ("repeats", "cv_folds")
RUN_KEYS = ("architecture", "seed", *REPLICATE_KEYS)


# The published datasets: classes, images that prepare splits, and whether those are the training
# images of an official train/test split (else all images). A folder's are counted by prepare.
DATASET_SIZES = {
    "digits": (10, 1797, False),
    "mnist": (10, 60_000, True),
    "fashion_mnist": (10, 60_000, True),
    "cifar10": (10, 50_000, True),
    "cifar100": (100, 50_000, True),
}


class ParamsError(PipelineError):
    """params.yaml is unreadable or invalid; the message is one line."""


def _key_path(path) -> str:
    """runs.mlp.units: each key as written, or its repr where it has unprintable characters; long ones cut."""
    parts = (
        part if isinstance(part, str) and part.isprintable() else repr(part) if isinstance(part, str) else str(part)
        for part in path
    )
    return ".".join(part if len(part) <= 40 else f"{part[:30]}..." for part in parts) or "(top level)"


def _describe(error, params: dict) -> str:
    where = _key_path(error.absolute_path)
    if "propertyNames" in error.schema_path:  # a key, not a value, is wrong: name it and the rule
        return f"{where}: invalid name {_shown(error.instance)}: {error.schema.get('description') or error.message}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown key {_shown(extra[0])}" if extra else f"{where}: {error.message}"
    if error.validator == "unevaluatedProperties":  # message: "... ('key', 5 were unexpected)"
        extra = [key for key in error.instance if repr(key) in error.message]
        return f"{where}: unknown key {_shown(extra[0])}" if extra else f"{where}: {error.message}"
    if error.validator == "required":
        # A key required by an if/then rule (dataset folder needs `folder`): name it and say why.
        missing = re.fullmatch(r"'(.*)' is a required property", error.message)
        why = error.schema.get("properties", {}).get(missing[1], {}).get("description") if missing else None
        if why:
            return f"{_key_path([*error.absolute_path, missing[1]])}: missing: {why}"
        return f"{where}: {error.message}"
    if {"then", "else"} & set(error.schema_path) and "description" in error.schema:
        return f"{where}: {_shown(error.instance)} is invalid: {error.schema['description']}"
    if error.validator == "type" and isinstance(error.instance, float) and error.instance.is_integer():
        hint = f" (write {int(error.instance)})" if abs(error.instance) < 1e15 else ""
        return f"{where}: {error.instance!r} is invalid: an integer is needed{hint}"
    message = error.message.replace(repr(error.instance), "it") if len(repr(error.instance)) > 60 else error.message
    if error.validator in ("maxItems", "maxLength"):
        message += f" (at most {error.validator_value} {'entries' if error.validator == 'maxItems' else 'characters'})"
    return f"{where}: {_shown(error.instance)} is invalid: {message}"


def _shown(value) -> str:
    """The repr of a value, cut short: a message stays one readable line."""
    text = repr(value)
    if len(text) <= 60:
        return text
    size = (
        f" ({len(value)} {'characters' if isinstance(value, str) else 'entries'})" if hasattr(value, "__len__") else ""
    )
    return f"{text[:50]}...{size}"


def _strict_validator(schema: dict):
    """The schema's validator class, with `integer` meaning a whole number written as one:
    JSON Schema's integer accepts 2.0, which Keras then refuses as an epoch count."""
    # Imported here, as ruamel.yaml in read_yaml: a Snakemake parse that finds its configs current
    # (stages.lib.parse_cache) never validates, and these imports took 0.04 s of it.
    import jsonschema

    base = jsonschema.validators.validator_for(schema)
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(base, type_checker=checker)


def validate_params(params: dict, schema_path: str | Path = SCHEMA) -> None:
    schema = _schema(schema_path)
    validator_cls = _strict_validator(schema)
    # NaN and infinity (`.nan`, `.inf` in YAML) pass JSON Schema's bounds: refused anywhere.
    if (found := first_non_finite(params)) is not None:
        raise ParamsError(f"{_key_path(found[0])}: {found[1]} is invalid: not a finite number (NaN or infinity)")
    errors = list(validator_cls(schema).iter_errors(params))
    if isinstance(params.get("runs"), dict):
        check_run_keys(params["runs"])
    if errors:
        # The deepest error is the most specific one (an if/then branch, not its parent).
        error = max(errors, key=lambda e: (len(e.absolute_path), -len(e.context or ())))
        raise ParamsError(_describe(error, params))
    split = params["split"]
    if split["val_fraction"] + split["test_fraction"] >= 1:
        raise ParamsError(
            f"split: val_fraction {split['val_fraction']} + test_fraction {split['test_fraction']}"
            " leaves no images for training; their sum must be below 1"
        )
    runs = _named_and_swept(params)
    # Every run a sweep makes must be a valid run itself: check them as if written out.
    sweep_errors = list(validator_cls(schema).iter_errors({**params, "runs": runs}))
    check_run_keys(runs, " (from a sweep)")
    if sweep_errors:
        raise ParamsError(_describe(sweep_errors[0], {**params, "runs": runs}) + " (from a sweep)")
    runs = all_runs(params)  # with the replicates of valid `repeats` and `cv_folds`
    for stage in ("package", "report"):  # configs/<stage>.json is that stage's config
        if stage in runs:
            raise ParamsError(
                f"runs.{stage}: the name {stage!r} is reserved for the {stage} stage's config; rename the run"
            )
    check_input_sizes(params["data"], runs)
    if params["data"]["dataset"] in DATASET_SIZES:
        check_split_sizes(params["data"], params["split"])
    check_train_first(params)
    for name, run in runs.items():
        if imagenet_weights(run) and run.get("alpha", 1.0) != 1.0:
            raise ParamsError(
                f"runs.{name}.alpha: {run['alpha']} has no ImageNet weights (only 1.0 has);"
                " set alpha: 1.0 or weights: none"
            )
    chosen = (params.get("package") or {}).get("run")
    if chosen is not None and chosen not in runs:
        raise ParamsError(f"package.run: {chosen!r} is not a run; the runs are {', '.join(runs)}")


@functools.cache
def run_keys(architecture: str) -> tuple[str, ...]:
    """The keys a run of `architecture` may hold: its name, the training keys, its builder's arguments.
    (The schema describes every key; which architecture takes which is its builder's signature.)"""
    import inspect

    arguments = list(inspect.signature(architecture_module(architecture).build).parameters)[2:]
    return (*RUN_KEYS, *TRAINING_KEYS, *arguments)


def check_run_keys(runs: dict, origin: str = "") -> None:
    """Refuse a run key that its architecture's builder does not take, naming what it takes."""
    for name, run in runs.items():
        if isinstance(run, dict) and run.get("architecture") in architecture_names():
            allowed = run_keys(run["architecture"])
            unknown = [key for key in run if key not in allowed]
            if unknown:
                raise ParamsError(
                    f"{_key_path(['runs', name])}: unknown key {_shown(unknown[0])} for architecture"
                    f" {run['architecture']!r} (allowed: {', '.join(allowed)}){origin}"
                )


def sweep_run_name(sweep: str, point: dict) -> str:
    """A stable, readable name: the sweep's name, then each swept value (key too if several)."""

    def text(value):
        return "_".join(map(str, value)) if isinstance(value, list) else str(value).lower()

    if len(point) == 1:
        return f"{sweep}-{text(next(iter(point.values())))}"
    return "-".join([sweep, *(f"{key}_{text(value)}" for key, value in point.items())])


# Runs a params.yaml may define, sweeps included: a grid's size is the product of its lists, and a
# typo can make it millions (each run is a config file, two stages, a model). Benchmarked to 2,000.
MAX_RUNS = 10_000


def sweep_points(params: dict) -> dict[str, tuple[str, dict]]:
    """Each run a sweep makes: its name -> (sweep name, the swept values), in params.yaml order.
    Names that differ only in case are refused too: on macOS and Windows they are one folder."""
    sweeps = params.get("sweeps") or {}
    total = len(params["runs"]) + sum(math.prod(len(v) for v in spec["grid"].values()) for spec in sweeps.values())
    if total > MAX_RUNS:
        raise ParamsError(
            f"sweeps: {total:,} runs in all (runs and every grid's product), over the limit of {MAX_RUNS:,}"
        )
    points = {}
    taken = {}
    for name in params["runs"]:
        if name.casefold() in taken:
            raise ParamsError(f"runs.{name}: differs from the run {taken[name.casefold()]!r} only in case")
        taken[name.casefold()] = name
    for sweep, spec in sweeps.items():
        keys = list(spec["grid"])
        for values in itertools.product(*(spec["grid"][key] for key in keys)):
            point = dict(zip(keys, values, strict=True))
            name = sweep_run_name(sweep, point)
            if name.casefold() in taken:
                raise ParamsError(f"sweeps.{sweep}: run name {name!r} is taken already ({taken[name.casefold()]!r})")
            taken[name.casefold()] = name
            points[name] = (sweep, point)
    return points


def all_runs(params: dict) -> dict[str, dict]:
    """The named runs, every sweep expanded over its grid (in params.yaml order), then the
    replicates those ask for (`replicates`)."""
    runs = _named_and_swept(params)
    for name, replicate in replicates(params).items():
        runs[name] = replicate.run
    return runs


def _named_and_swept(params: dict) -> dict[str, dict]:
    runs = dict(params["runs"])
    for name, (sweep, point) in sweep_points(params).items():
        runs[name] = {**params["sweeps"][sweep]["run"], **point}
    return runs


MAX_SEED = 2**32 - 1  # the schema's: NumPy's and scikit-learn's seeds stop there


@dataclasses.dataclass(frozen=True)
class Replicate:
    """A run that `repeats` or `cv_folds` made: of which run, which kind, the fold (k of folds)."""

    of: str
    kind: str  # "seed" or "fold"
    run: dict  # what it trains: the run's settings, with its own seed for a seed replicate
    fold: int | None = None
    folds: int | None = None


def replicates(params: dict) -> dict[str, Replicate]:
    """Each replicate the runs (named and swept) ask for, by name: `repeats: N` makes N - 1 runs
    <run>-seed<seed + i>, `cv_folds: K` makes K runs <run>-fold<k>. A name that is taken already
    is refused."""
    found = {}
    runs = _named_and_swept(params)
    taken = {name.casefold(): name for name in runs}
    for name, run in runs.items():
        base = {key: value for key, value in run.items() if key not in REPLICATE_KEYS}
        seed = run.get("seed", params["seed"])
        if seed + run.get("repeats", 1) - 1 > MAX_SEED:
            raise ParamsError(
                f"runs.{name}: repeats {run['repeats']} from seed {seed} go past the largest seed, {MAX_SEED}"
            )
        made = {
            f"{name}-seed{seed + i}": Replicate(name, "seed", {**base, "seed": seed + i})
            for i in range(1, run.get("repeats", 1))
        }
        folds = run.get("cv_folds")
        for k in range(1, (folds or 0) + 1):
            made[f"{name}-fold{k}"] = Replicate(name, "fold", base, fold=k, folds=folds)
        for replicate in made:
            if replicate.casefold() in taken:
                raise ParamsError(
                    f"runs.{name}: its replicate {replicate!r} has the name of the run {taken[replicate.casefold()]!r}"
                )
            taken[replicate.casefold()] = replicate
        found.update(made)
        if len(runs) + len(found) > MAX_RUNS:
            raise ParamsError(
                f"runs.{name}: {len(runs) + len(found):,} runs with the replicates, over the limit of {MAX_RUNS:,}"
            )
    return found


def train_jobs(params: dict) -> dict[str, dict]:
    """Run -> what its train job needs besides its config: its `architecture` (its code's
    fingerprint), `data` (the folder it depends on) and `data_path` (the folder it reads): the
    prepared data, or for a fold replicate (`cv_folds`) the folds' folder and its fold in it. In
    all_runs order; configure returns it to the Snakefile, and dvc.yaml's train stage holds it."""
    folds = {name: r for name, r in replicates(params).items() if r.kind == "fold"}
    jobs = {}
    for name, run in all_runs(params).items():
        data = data_path = PREPARED
        if name in folds:
            data = FOLDS.format(folds=folds[name].folds)
            data_path = f"{data}/{FOLD.format(fold=folds[name].fold)}"
        jobs[name] = {"architecture": run["architecture"], "data": data, "data_path": data_path}
    return jobs


def fold_counts(params: dict) -> list[int]:
    """The numbers of folds the runs ask for (`cv_folds`): one folds job each."""
    return sorted({r.folds for r in replicates(params).values() if r.kind == "fold"})


def code_stages(params: dict) -> list[str]:
    """The stages whose code fingerprint configure writes: folds and weights only where a run
    needs them."""
    stages = [stage for stage in CODE_STAGES if stage != "folds" or fold_counts(params)]
    if uses_imagenet(params):
        stages.insert(stages.index("prepare") + 1, "weights")
    return stages


def imagenet_weights(run: dict) -> bool:
    """Whether a run (as params.yaml gives it) starts from the ImageNet weights: a `transfer` run
    whose `weights`, or its builder's default, is imagenet."""
    if run["architecture"] != "transfer":
        return False
    return run.get("weights", builder_default("transfer", "weights")) == "imagenet"


@functools.cache
def builder_default(architecture: str, key: str):
    """The default of one argument of an architecture's builder (written there only)."""
    import inspect

    return inspect.signature(architecture_module(architecture).build).parameters[key].default


def uses_imagenet(params: dict) -> bool:
    """Whether any run needs the weights stage."""
    return any(imagenet_weights(run) for run in all_runs(params).values())


def replicate_groups(params: dict) -> dict[str, dict]:
    """Run -> {"seeds": [the run and its seed replicates], "folds": [its fold replicates]} for each
    run with replicates (the report aggregates each list)."""
    groups = {}
    for name, replicate in replicates(params).items():
        group = groups.setdefault(replicate.of, {"seeds": [replicate.of], "folds": []})
        group["seeds" if replicate.kind == "seed" else "folds"].append(name)
    return groups


def images_outside_test(dataset: str, test_fraction: float) -> int:
    """The images of a published dataset outside its test split: all its training images where the
    test split is official, else what prepare's first cut (scikit-learn's ceil) leaves."""
    _, images, official_test = DATASET_SIZES[dataset]
    return images if official_test else images - math.ceil(test_fraction * images)


def check_split_sizes(data: dict, split: dict) -> None:
    """Refuse fractions that leave a split of a published dataset without an image of every class
    (scikit-learn's rules for a stratified split: each part holds at least one image per class)."""
    classes, images, official_test = DATASET_SIZES[data["dataset"]]
    parts = [("val_fraction", split["val_fraction"], images, "validation")]
    if not official_test:  # the test split comes first, validation from the rest
        rest = images_outside_test(data["dataset"], split["test_fraction"])
        parts = [
            ("test_fraction", split["test_fraction"], images, "test"),
            ("val_fraction", split["val_fraction"] / (1 - split["test_fraction"]), rest, "validation"),
        ]
    for key, fraction, pool, name in parts:
        taken = math.ceil(fraction * pool)
        for count, what in ((taken, f"{name} images"), (pool - taken, "images for the rest")):
            if count < classes:
                raise ParamsError(
                    f"split.{key}: {split[key]} is invalid: of the {images:,} images of {data['dataset']}"
                    f" it leaves {count:,} {what}, fewer than its {classes} classes"
                )
    subsample = data.get("train_subsample")
    if subsample is not None and subsample < classes:
        raise ParamsError(
            f"data.train_subsample: {subsample} is invalid: a stratified subsample keeps"
            f" at least one image of each of the {classes} classes of {data['dataset']}"
        )
    # What the last part leaves is the training split (as prepare cuts it: scikit-learn's ceil).
    key, fraction, pool, _ = parts[-1]
    training = pool - math.ceil(fraction * pool)
    if subsample is not None and subsample > training:
        raise ParamsError(
            f"data.train_subsample: {subsample} is invalid: more than the {training:,} training images"
            f" of {data['dataset']} (split.{key} {split[key]}); lower it, or remove it to train on all"
        )


def check_train_first(params: dict) -> None:
    """Refuse `train_first` where "the first N images of the training pool" has no meaning: beside
    `cv_folds` (the folds re-split the pool), beside `data.train_subsample` (it has dropped images
    of the pool), or beyond the pool of a published dataset."""
    default = params["train"].get("train_first")
    data = params["data"]
    for name, run in _named_and_swept(params).items():
        first = run.get("train_first", default)
        if first is None:
            continue
        key = f"runs.{name}.train_first" if "train_first" in run else "train.train_first"
        if run.get("cv_folds"):
            raise ParamsError(f"{key}: {first} cannot go with cv_folds (the folds re-split the training images)")
        if data.get("train_subsample") is not None:
            raise ParamsError(
                f"{key}: {first} cannot go with data.train_subsample (the subsample has dropped images of the pool)"
            )
        if data["dataset"] in DATASET_SIZES:
            pool = images_outside_test(data["dataset"], params["split"]["test_fraction"])
            if first > pool:
                raise ParamsError(
                    f"{key}: {first} is invalid: more than the {pool:,} images of {data['dataset']}"
                    " outside its test split"
                )


def check_input_sizes(data: dict, runs: dict) -> None:
    """Refuse a run whose network would shrink the dataset's images to nothing."""
    shape = input_shape(data)
    for name, run in runs.items():
        try:
            check_input(run["architecture"], run, shape)
        except ValueError as err:
            raise ParamsError(f"runs.{name}: {err}") from None


def read_yaml(path: Path):
    """params.yaml as DVC reads it: YAML 1.2 (ruamel.yaml's safe loader, as dvc.utils.serialize),
    so both runners see the same values (`1e-3` is 0.001, `yes` a string); duplicate keys refused."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import YAMLError

    try:
        params = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: a folder, not a YAML file") from None
    except OSError as err:
        raise ParamsError(f"{path}: cannot read it ({err.strerror})") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not a text file (not UTF-8)") from None
    except DuplicateKeyError as err:
        key = re.search(r'duplicate key "(.*)" with value', err.problem)
        raise ParamsError(
            f"{path}: line {err.problem_mark.line + 1}: duplicate key {(key[1] if key else err.problem)!r}"
        ) from None
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ParamsError(f"{path}: YAML syntax error at {where}{problem}") from None
    check_expanded_size(params, path)
    return params


# More values than any real params.yaml holds once its YAML aliases are expanded (a few thousand):
# nested aliases can expand to billions, and everything after the loader walks the expanded tree.
# Likewise nesting: the schema's deepest key is a few levels down.
MAX_PARAMS_VALUES = 1_000_000
MAX_PARAMS_DEPTH = 50


def check_expanded_size(tree, path) -> None:
    """Refuse a tree (nested dicts and lists, as YAML aliases share them) that refers to itself,
    nests deeper than MAX_PARAMS_DEPTH or holds more than MAX_PARAMS_VALUES values once expanded
    (counted without expanding it)."""
    sizes: dict[int, int] = {}  # id of a dict or list -> its expanded size, once known
    on_path: set[int] = set()

    def size(node, depth: int = 0) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        if id(node) in sizes:
            return sizes[id(node)]
        if depth > MAX_PARAMS_DEPTH:
            raise ParamsError(f"{path}: nested more than {MAX_PARAMS_DEPTH} levels deep; not a params file")
        if id(node) in on_path:
            raise ParamsError(f"{path}: a YAML alias refers to a node that contains it (an endless value)")
        on_path.add(id(node))
        total = 1 + sum(size(child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
        on_path.discard(id(node))
        if total > MAX_PARAMS_VALUES:
            raise ParamsError(
                f"{path}: over {MAX_PARAMS_VALUES:,} values once its YAML aliases are expanded; not a params file"
            )
        sizes[id(node)] = total
        return total

    size(tree)


def load_params(path: str | Path = "params.yaml", schema_path: str | Path = SCHEMA) -> dict:
    """Read and validate params.yaml; raise ParamsError with a one-line message."""
    path = Path(path)
    params = read_yaml(path)
    if params is None:
        raise ParamsError(f"{path}: empty; it needs the keys seed, data, split, train, runs and report")
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of keys, got {type(params).__name__}")
    try:
        validate_params(params, schema_path)
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
    return params


def resolve_data(params: dict) -> dict[str, DownloadSettings | PrepareSettings | WeightsSettings]:
    """The settings of the download and prepare stages, defaults filled in, and of the weights
    stage where a run needs it.

    Two files, so that a change to the split or the image size reruns prepare
    but does not fetch the dataset again.
    """
    data = params["data"]
    download_keys = {f.name for f in dataclasses.fields(DownloadSettings)}
    stages = {
        "download": DownloadSettings(**{key: value for key, value in data.items() if key in download_keys}),
        "prepare": PrepareSettings(
            seed=params["seed"],
            **params["split"],
            **{key: value for key, value in data.items() if key not in download_keys},
        ),
    }
    if uses_imagenet(params):
        stages["weights"] = WeightsSettings(**(params.get("pretrained") or {}))
    return stages


def resolve_report(params: dict) -> ReportSettings:
    """The report stage's settings: the metric that sorts the runs, and which runs replicate which."""
    return ReportSettings(metric=params["report"]["metric"], replicates=replicate_groups(params) or None)


def resolve_package(params: dict) -> PackageSettings:
    """The package stage's settings: the ranking metric, a run named instead, the exports."""
    return PackageSettings(metric=params["report"]["metric"], **(params.get("package") or {}))


def source_inputs(params: dict) -> list[str]:
    """Inputs of the download stage outside the project: a `folder` dataset's image folder."""
    data = params["data"]
    return [data["folder"]] if data["dataset"] == "folder" and data.get("folder") else []


@functools.cache
def _schema(path: str | Path = SCHEMA) -> dict:
    """The schema, read once per process (validation and resolving both need it; nothing changes it)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def run_name_pattern() -> str:
    """The schema's pattern of a run name, unanchored: every run, a sweep's too, matches it."""
    return _schema()["properties"]["runs"]["propertyNames"]["pattern"].removeprefix("^").removesuffix("$")


def as_floats(value, schema: dict, root: dict):
    """`value` with every integer where `schema` says number made a float: a learning rate
    of 1 is accepted, and Keras, which refuses an integer learning rate, is given 1.0."""
    if "$ref" in schema:  # "#/$defs/...": the referenced schema, with the keys beside $ref
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    kinds = schema.get("type", [])
    if "number" in ([kinds] if isinstance(kinds, str) else kinds):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {key: as_floats(item, properties.get(key, {}), root) for key, item in value.items()}
    return value


def resolve_runs(params: dict) -> dict[str, RunSettings]:
    """Expand the named runs into complete, self-contained run settings."""
    resolved = {}
    schema = _schema()
    defaults = as_floats(params["train"], schema["$defs"]["training"], schema)
    sweeps = sweep_points(params)
    for name, run in all_runs(params).items():
        run = as_floats(run, schema["$defs"]["run"], schema)
        training = {**defaults, **{key: value for key, value in run.items() if key in TRAINING_KEYS}}
        model = {k: v for k, v in run.items() if k not in RUN_KEYS and k not in TRAINING_KEYS}
        if imagenet_weights(run):  # the file it starts from, in its config and so in its provenance
            model.update(weights="imagenet", weights_sha256=IMAGENET_SHA256)
        # The report plots a sweep's metric against the swept values.
        sweep = {"name": sweeps[name][0], "point": sweeps[name][1]} if name in sweeps else None
        resolved[name] = RunSettings(
            run=name,
            architecture=run["architecture"],
            model=model,
            training=TrainingSettings(**training),
            seed=run.get("seed", params["seed"]),
            sweep=sweep,
        )
    return resolved
