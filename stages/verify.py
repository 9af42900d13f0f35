"""Verify: re-evaluate trained models and check them against their recorded metrics.

    python -m stages.verify                            # every run in reports/runs
    python -m stages.verify mlp cnn_intro              # some runs
    python -m stages.verify --package models/package.tar.gz   # the packaged model

What a reviewer runs after `dvc pull`: each model (models/runs/<run>/model.keras,
or the package's model.keras) predicts the prepared test split again and every
metric (accuracy, loss, top-k, precision/recall/F1, per class) is compared with
the recorded metrics.json and scores.json (reports/runs/<run>/evaluation/, or the
package's copies). The test arrays must be the ones recorded in provenance.json
(SHA-256). A package's model.onnx must give every test image the Keras model's
class, and its probabilities within 1e-4. Prints one line per
difference and a summary per model; exits 1 when anything differs or is
missing. Nothing is written.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from stages.lib.archive import ONNX_MODEL, export_difference, onnx_probabilities, onnx_session, opened_package
from stages.lib.backend import check_keras_backend
from stages.lib.errors import InputError
from stages.lib.files import read_json, sha256_file
from stages.lib.joblog import run_stage
from stages.lib.layout import EVALUATION_DIR, EVALUATION_FILES, MODEL, MODELS_DIR, PREPARED, RUN_FILES, RUNS_DIR
from stages.lib.scores import predict_probabilities, score
from stages.lib.splits import load_split, read_metadata


def _flatten(value, prefix=""):
    """{'a': {'b': 1}} -> {'a.b': 1}: one entry per compared number."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}{key}.").items()}
    return {prefix[:-1]: value}


def differences(recorded: dict, recomputed: dict, tolerance: float = 0.0) -> list[str]:
    """The metrics whose recorded and recomputed values differ."""
    old = _flatten(recorded)
    new = _flatten(recomputed)
    found = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            # NaN - x > tolerance is False: a NaN or infinity would pass, so it always differs.
            if not (math.isfinite(a) and math.isfinite(b)) or abs(a - b) > tolerance:
                found.append(f"{key}: recorded {a}, recomputed {b}")
        elif a != b:
            found.append(f"{key}: recorded {a!r}, recomputed {b!r}")
    return found


def verify(
    model_path, recorded: dict, test_sha256: dict, data_dir, tolerance: float = 0.0, onnx=None, package=None
) -> tuple[list[str], list[str] | None]:
    """Re-evaluate `model_path` on the test split of `data_dir`: how it differs from the `recorded`
    metrics and scores (the test arrays must have the checksums `test_sha256`), and how the ONNX
    export at `onnx` (if given; in `package`, which errors name) disagrees with it on the same images
    (None: not checked)."""
    check_keras_backend()
    from stages.lib.layers import load_model  # Keras: imported when used, so --help answers at once

    for path in (model_path, Path(data_dir) / "metadata.json"):
        if not Path(path).is_file():
            raise InputError(f"{path}: not found (run `dvc pull` or the pipeline first)")
    found = []
    for name, digest in sorted(test_sha256.items()):
        actual = sha256_file(Path(data_dir) / name)
        if actual != digest:
            found.append(f"data {name}: recorded sha256 {digest[:12]}..., {data_dir} has {actual[:12]}...")
    if found:  # other data: comparing metrics would say nothing about the model
        return found, None
    x_test, y_test = load_split(data_dir, "test", mmap=False)
    class_names = read_metadata(data_dir)["class_names"]
    probabilities = predict_probabilities(load_model(model_path), x_test)
    found = differences(recorded, score(y_test, probabilities, class_names), tolerance)
    return found, (verify_onnx(onnx, x_test, probabilities, package) if onnx else None)


def verify_onnx(path: Path, x_test, keras, package) -> list[str]:
    """How the ONNX model at `path` (in `package`) disagrees with the Keras model's probabilities `keras`
    on `x_test`."""
    import numpy as np

    session = onnx_session(path, package)
    onnx = np.asarray(onnx_probabilities(session, np.asarray(x_test, dtype=np.float32)), dtype=np.float64)
    if onnx.shape != keras.shape:
        return [f"{ONNX_MODEL}: gives {onnx.shape[1:]} outputs per image, model.keras {keras.shape[1:]}"]
    found = []
    classes = np.flatnonzero(onnx.argmax(axis=1) != keras.argmax(axis=1))
    if classes.size:
        found.append(f"{ONNX_MODEL}: another class than model.keras for {classes.size} test images")
    difference, agrees = export_difference(onnx, keras)
    if not agrees:
        found.append(f"{ONNX_MODEL}: probabilities differ from model.keras by up to {difference:.2g}")
    return found


def _recorded(path: Path, shown: str) -> dict:
    """A JSON object that evaluate wrote; errors name it as `shown` (a package's file: not its temporary path)."""
    if not path.is_file():
        raise InputError(f"{shown}: not found (run `dvc pull` or the pipeline first)")
    value = read_json(path, shown)  # refuses text that is not JSON, and NaN/Infinity
    if not isinstance(value, dict):
        raise InputError(f"{shown}: a JSON {type(value).__name__}, not an object; not a file evaluate wrote")
    return value


def _check(name: str, model_path, results: Path, data_dir, tolerance: float, package=None) -> bool:
    """Verify one model against the metrics recorded in the folder `results` (and a `package`'s
    model.onnx against its model) and print the outcome; True when nothing differs.

    `name` may say `{run}`: the run recorded in the provenance (a package's run). Errors
    name the files of a `package` as `<package>: <file>`.
    """

    def shown(path: Path) -> str:
        return f"{package}: {path.name}" if package else str(path)

    if not Path(model_path).is_file():
        raise InputError(f"{shown(Path(model_path))}: not found (run `dvc pull` or the pipeline first)")
    paths = {key: results / EVALUATION_FILES[key] for key in ("metrics", "scores", "provenance")}
    recorded, scores, provenance = (_recorded(path, shown(path)) for path in paths.values())
    if "accuracy" not in recorded:
        raise InputError(f"{shown(paths['metrics'])}: no accuracy; not a file evaluate wrote")
    try:
        test_sha256, run = provenance["data"]["sha256"], provenance["config"]["run"]
        if not isinstance(test_sha256, dict):
            raise TypeError
    except (KeyError, TypeError):
        raise InputError(
            f"{shown(paths['provenance'])}: no data.sha256 or config.run; not a file evaluate wrote"
        ) from None
    onnx = results / ONNX_MODEL if package and (results / ONNX_MODEL).is_file() else None
    found, onnx_found = verify(model_path, {**recorded, **scores}, test_sha256, data_dir, tolerance, onnx, package)
    name = name.format(run=run)
    for line in found:
        print(f"{name}: {line}")
    print(
        f"{name}: DIFFERS ({len(found)} values)"
        if found
        else f"{name}: ok, every metric equals the recorded one (accuracy {recorded['accuracy']})"
    )
    if onnx_found is not None:
        for line in onnx_found or [f"{ONNX_MODEL} gives the classes of model.keras on every test image"]:
            print(f"package: {line}")
    return not found and not onnx_found


def _tolerance(text: str) -> float:
    """A finite, non-negative number: with NaN every comparison would pass."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text!r}")
    return value


def default_runs(runs_dir) -> list[str]:
    """The runs with recorded metrics: those of params.yaml where there is one (a run removed from
    it leaves its folder behind, which is named, not verified), else every folder of `runs_dir`."""
    recorded = sorted(path.relative_to(runs_dir).parts[0] for path in Path(runs_dir).glob(f"*/{RUN_FILES['metrics']}"))
    if not Path("params.yaml").is_file():
        return recorded
    from stages.lib.params import all_runs, load_params

    wanted = all_runs(load_params("params.yaml"))
    left = [run for run in recorded if run not in wanted]
    if left:
        folders = " ".join(f"{Path(runs_dir) / run}" for run in left)
        print(f"not verified: {folders}: no longer runs of params.yaml (remove them: git rm -r {folders})", flush=True)
    return [run for run in recorded if run in wanted]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="runs to verify (default: every run in --runs-dir)")
    parser.add_argument("--package", help="verify this package (folder or .tar.gz) instead of runs")
    parser.add_argument("--data", default=PREPARED, help=f"prepared data (default {PREPARED})")
    parser.add_argument("--runs-dir", default=RUNS_DIR, help=f"recorded metrics (default {RUNS_DIR})")
    parser.add_argument("--models-dir", default=MODELS_DIR, help=f"trained models (default {MODELS_DIR})")
    parser.add_argument(
        "--tolerance",
        type=_tolerance,
        default=0.0,
        help="largest accepted difference per value (default 0: equal); other hardware or backends may need 1e-6",
    )
    args = parser.parse_args(argv)
    results = []

    def body():
        if args.package:
            with opened_package(args.package) as folder:
                results.append(
                    _check("package {run}", folder / "model.keras", folder, args.data, args.tolerance, args.package)
                )
            return
        runs = args.runs or default_runs(args.runs_dir)
        if not runs:
            raise InputError(f"{args.runs_dir}: no runs with {RUN_FILES['metrics']}")
        for run in runs:
            model = Path(args.models_dir) / run / Path(MODEL).name
            results.append(_check(run, model, Path(args.runs_dir) / run / EVALUATION_DIR, args.data, args.tolerance))

    # One line for a user's mistake or Ctrl-C, a traceback for a bug: as every stage.
    status = run_stage(body, None, interrupted="nothing was verified or written")
    return status or (0 if all(results) else 1)


if __name__ == "__main__":
    sys.exit(main())
