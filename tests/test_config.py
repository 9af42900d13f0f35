"""params.yaml: validation errors are one line naming the key and value; runs resolve."""

import copy
import inspect
import re

import pytest
import yaml

from stages.lib.params import (
    SCHEMA,
    ParamsError,
    all_runs,
    load_params,
    resolve_runs,
    run_name_pattern,
    validate_params,
)
from stages.lib.settings import TrainingSettings
from tests.conftest import ROOT

PARAMS = load_params(ROOT / "params.yaml")


def broken(edit):
    params = copy.deepcopy(PARAMS)
    edit(params)
    return params


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda p: p.update(colour="red"), "(top level): unknown key 'colour'"),
        (lambda p: p["runs"]["mlp"].update(widths=[3]), "runs.mlp: unknown key 'widths' for architecture 'mlp'"),
        (
            lambda p: p["runs"]["softmax"].update(units=[3]),
            "runs.softmax: unknown key 'units' for architecture 'softmax'",
        ),
        (lambda p: p["runs"]["mlp"].update(architecture="resnet"), "runs.mlp.architecture: 'resnet' is invalid"),
        (lambda p: p["train"].update(epochs="ten"), "train.epochs: 'ten' is invalid: 'ten' is not of type 'integer'"),
        (lambda p: p["train"].update(batch_size=0), "train.batch_size: 0 is invalid"),
        (lambda p: p["train"].update(epochs=0), "train.epochs: 0 is invalid"),
        (lambda p: p["train"].update(activation="relu"), "train: unknown key 'activation'"),
        (lambda p: p["runs"]["mlp"].update(activation="swish2"), "runs.mlp.activation: 'swish2' is invalid"),
        (lambda p: p["split"].update(test_fraction=0), "split.test_fraction: 0 is invalid"),
        (
            lambda p: p["split"].update(val_fraction=0.5, test_fraction=0.5),
            "split: val_fraction 0.5 + test_fraction 0.5 leaves no images for training",
        ),
        (lambda p: p["runs"].update({"a;rm": {"architecture": "mlp"}}), "runs: invalid name 'a;rm'"),
        (lambda p: p["runs"]["mlp"].update(epochs=-1), "runs.mlp.epochs: -1 is invalid"),
        (lambda p: p["split"].update(val_fraction=1.5), "split.val_fraction: 1.5 is invalid"),
        (lambda p: p["data"].update(dataset="imagenet"), "data.dataset: 'imagenet' is invalid"),
        (lambda p: p["data"].update(dataset="folder"), "data.folder: missing: dataset folder needs the path"),
        (
            lambda p: p["data"].update(dataset="folder", folder="images"),
            "data.image_size: missing: dataset folder needs",
        ),
        (
            lambda p: p["data"].update(folder="images"),
            "data.folder: 'images' is invalid: only used with dataset: folder",
        ),
        (
            lambda p: p["data"].update(skip_unreadable=True),
            "data.skip_unreadable: True is invalid: only used with dataset: folder",
        ),
        (lambda p: p["data"].update(image_size=[28]), "data.image_size: [28] is invalid: [28] is too short"),
        (lambda p: p["data"].update(color_mode="cmyk"), "data.color_mode: 'cmyk' is invalid"),
        (lambda p: p["data"].update(train_subsample=0), "data.train_subsample: 0 is invalid"),
        (lambda p: p["train"].update(optimizer="adagrad"), "train.optimizer: 'adagrad' is invalid"),
        (lambda p: p["runs"]["mlp"].update(train_first=0), "runs.mlp.train_first: 0 is invalid"),
        (
            lambda p: p["runs"]["mlp"].update(train_first=1528),
            "runs.mlp.train_first: 1528 is invalid: more than the 1,527 images of digits outside its test split",
        ),
        (
            lambda p: p["runs"]["mlp"].update(train_first=500, cv_folds=3),
            "runs.mlp.train_first: 500 cannot go with cv_folds",
        ),
        (
            lambda p: (p["train"].update(train_first=500), p["data"].update(train_subsample=600)),
            "train.train_first: 500 cannot go with data.train_subsample",
        ),
        (lambda p: p["train"].pop("epochs"), "train: 'epochs' is a required property"),
        (lambda p: p["runs"].update({"two words": {"architecture": "mlp"}}), "runs: invalid name 'two words'"),
        (lambda p: p["runs"].update(package={"architecture": "mlp"}), "runs.package: the name 'package' is reserved"),
        (lambda p: p["package"].update(run="best"), "package.run: 'best' is not a run; the runs are softmax, mlp,"),
        (lambda p: p["package"].update(exports=["tflite"]), "package.exports.0: 'tflite' is invalid"),
    ],
)
def test_invalid_params_name_key_and_value(edit, expected):
    with pytest.raises(ParamsError) as err:
        validate_params(broken(edit))
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_duplicate_run_name_is_refused(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("  mlp:", "  softmax:", 1)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"line \d+: duplicate key 'softmax'"):
        load_params(tmp_path / "params.yaml")


def test_yaml_syntax_error_names_line(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: [1\n")
    with pytest.raises(ParamsError, match=r"params.yaml: YAML syntax error at line 2"):
        load_params(tmp_path / "params.yaml")


def test_runs_merge_training_defaults():
    runs = resolve_runs(broken(lambda p: p["runs"]["mlp"].update(epochs=7, learning_rate=0.01)))
    assert runs["mlp"].training.epochs == 7
    assert runs["mlp"].training.learning_rate == 0.01
    # Keys params.yaml leaves out take the defaults written in stages/lib/settings.py.
    assert runs["softmax"].training == TrainingSettings(**PARAMS["train"])
    assert runs["softmax"].training.monitor == "val_loss" and "monitor" not in PARAMS["train"]
    assert runs["mlp"].model == {k: v for k, v in PARAMS["runs"]["mlp"].items() if k != "architecture"}
    assert list(runs)[: len(PARAMS["runs"])] == list(PARAMS["runs"])  # then the sweeps


def test_default_params_have_three_architectures():
    assert {run["architecture"] for run in PARAMS["runs"].values()} >= {"softmax", "mlp", "cnn_intro"}
    assert PARAMS["data"]["dataset"] == "digits"


def test_schema_describes_every_builder_argument_and_params_checks_them():
    """The schema names every architecture and describes every builder argument (and no other run
    key); which architecture takes which is its builder's signature, checked by stages.lib.params."""
    from stages.lib.architectures import module, names
    from stages.lib.params import RUN_KEYS, TRAINING_KEYS, run_keys

    run = yaml.safe_load(SCHEMA.read_text())["$defs"]["run"]
    assert set(run["properties"]["architecture"]["enum"]) == set(names())
    arguments = set()
    for name in names():
        signature = list(inspect.signature(module(name).build).parameters)
        assert signature[:2] == ["input_shape", "num_classes"], name
        assert run_keys(name) == (*RUN_KEYS, *TRAINING_KEYS, *signature[2:])
        arguments |= set(signature[2:])
    described = {key for key, value in run["properties"].items() if "$ref" not in value} - set(RUN_KEYS)
    assert described == arguments
    assert all(run["properties"][key].get("description") for key in (*RUN_KEYS, *arguments))


def test_sweeps_expand_into_named_runs():
    params = broken(
        lambda p: p.update(
            sweeps={
                "dropout": {
                    "run": {"architecture": "cnn_dropout", "padding": "same"},
                    "grid": {"dropout": [0.15, 0.75]},
                },
                "opt": {
                    "run": {"architecture": "mlp"},
                    "grid": {"optimizer": ["sgd", "adam"], "units": [[32], [64, 32]]},
                },
            }
        )
    )
    validate_params(params)
    runs = resolve_runs(params)
    assert list(runs)[-6:] == [
        "dropout-0.15",
        "dropout-0.75",
        "opt-optimizer_sgd-units_32",
        "opt-optimizer_sgd-units_64_32",
        "opt-optimizer_adam-units_32",
        "opt-optimizer_adam-units_64_32",
    ]
    assert runs["dropout-0.75"].model == {"padding": "same", "dropout": 0.75}
    assert runs["opt-optimizer_sgd-units_64_32"].training.optimizer == "sgd"
    assert runs["opt-optimizer_sgd-units_64_32"].model == {"units": [64, 32]}


@pytest.mark.parametrize(
    "sweep, expected",
    [
        (
            {"run": {"architecture": "mlp"}, "grid": {"padding": ["same"]}},
            "runs.s-same: unknown key 'padding' for architecture 'mlp'",
        ),
        ({"run": {"architecture": "mlp"}, "grid": {"dropout": [0.5, 1.5]}}, "runs.s-1.5.dropout: 1.5 is invalid"),
        (
            {"run": {"architecture": "cnn_intro"}, "grid": {"dense_units": [8]}},
            "runs.s-8: input 8x8 is too small for cnn_intro with padding valid",
        ),
        ({"run": {"architecture": "mlp"}, "grid": {}}, "sweeps.s.grid: {} is invalid"),
    ],
)
def test_bad_sweeps_name_the_run_they_make(sweep, expected):
    with pytest.raises(ParamsError) as err:
        validate_params(broken(lambda p: p.update(sweeps={"s": sweep})))
    assert str(err.value).startswith(expected)


@pytest.mark.parametrize("params_file", ["params.yaml", "studies/fashion-mnist/params.yaml"])
def test_every_run_name_fits_the_snakemake_run_wildcard(params_file):
    """The Snakefile constrains {run} to run_name_pattern(): a run outside it would have no rule."""
    names = list(all_runs(load_params(ROOT / params_file)))
    assert [name for name in names if not re.fullmatch(run_name_pattern(), name)] == []
    assert any("." in name for name in names)  # sweep names carry the value's dot: dropout-0.15
    assert not re.fullmatch(run_name_pattern(), "t-my weights/x.h5")  # which params refuse: next test


def test_a_sweep_name_outside_the_run_name_pattern_is_refused():
    params = broken(
        lambda p: (
            p["data"].update(image_size=[32, 32]),
            p.update(sweeps={"t": {"run": {"architecture": "transfer"}, "grid": {"weights": ["my weights/x.h5"]}}}),
        )
    )
    with pytest.raises(ParamsError, match=r"invalid name 't-my weights/x\.h5'.*\(from a sweep\)"):
        validate_params(params)


def test_sweep_run_names_must_not_collide():
    params = broken(
        lambda p: (
            p["runs"].update({"s-0.5": {"architecture": "mlp"}}),
            p.update(sweeps={"s": {"run": {"architecture": "mlp"}, "grid": {"dropout": [0.5]}}}),
        )
    )
    with pytest.raises(ParamsError, match=r"sweeps\.s: run name 's-0\.5' is taken already"):
        validate_params(params)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda p: p["split"].update(val_fraction=0.001),
            "split.val_fraction: 0.001 is invalid: of the 1,797 images of digits it leaves 2 validation images, "
            "fewer than its 10 classes",
        ),
        (
            lambda p: p["split"].update(test_fraction=0.004),
            "split.test_fraction: 0.004 is invalid: of the 1,797 images of digits it leaves 8 test images",
        ),
        (
            lambda p: p["data"].update(dataset="cifar100") or p["split"].update(val_fraction=0.001),
            "split.val_fraction: 0.001 is invalid: of the 50,000 images of cifar100 it leaves 50 validation images, "
            "fewer than its 100 classes",
        ),
    ],
)
def test_fractions_that_leave_a_published_datasets_split_without_every_class_are_refused(edit, expected):
    with pytest.raises(ParamsError) as caught:
        validate_params(broken(edit))
    assert str(caught.value).startswith(expected)


def test_fractions_that_keep_every_class_in_every_split_are_accepted():
    validate_params(broken(lambda p: p["split"].update(val_fraction=0.006, test_fraction=0.006)))
