"""Package stage: the best run's model, with everything needed to use and judge it, in one archive.

    python -m stages.package --config configs/package.json --runs softmax mlp cnn_intro \
        --runs-dir reports/runs --models-dir models/runs --data data/prepared \
        --out-dir models/package --archive models/package.tar.gz

configs/package.json (from params.yaml) names the metric that ranks the runs
(report.metric), or a run to package instead (package.run), and the extra
exports (package.exports: savedmodel, onnx). The best run has the highest
test metric; ties go to the lower loss, then to the run listed first.

The folder holds model.keras, class_names.json, preprocessing.json (the input
contract that stages.predict follows), that run's metrics.json, scores.json,
provenance.json, training.json, confusion matrix (CSV, PNG) and resolved parameters
(params.json), selection.json (the ranking), MODEL_CARD.md, any exports with
exports.json (each checked against the Keras model on test images), and the
SHA256SUMS manifest of every file (`sha256sum -c SHA256SUMS`). It is also
written as a .tar.gz with sorted names, fixed timestamps and owners.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import shutil
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np

from stages.lib.archive import ONNX_MODEL, export_difference, onnx_probabilities, onnx_session
from stages.lib.backend import check_keras_backend
from stages.lib.codedeps import ROOT  # the project root: data files are named relative to it
from stages.lib.errors import InputError, PipelineError
from stages.lib.files import atomic_dir, atomic_path, read_json, sha256_file, write_json, write_text
from stages.lib.joblog import run_stage
from stages.lib.layout import MODEL, PACKAGE_INPUTS, RUN_FILES
from stages.lib.networks import network_of
from stages.lib.provenance import git_revision
from stages.lib.settings import PackageSettings
from stages.lib.splits import load_split, read_metadata
from stages.lib.uncertainty import against, read_predictions, right_answers

VERIFY_IMAGES = 16  # test images each export must reproduce the Keras model's probabilities on


class PackagingError(PipelineError):
    """The runs cannot be ranked, or the selected run cannot be packaged or exported."""


def select_best(runs, metrics_paths, metric: str) -> tuple[str, list[dict]]:
    """Rank runs by `metric` (higher first), then loss (lower first), then listed order."""
    scored = []
    for run, path in zip(runs, metrics_paths, strict=True):
        try:
            metrics = read_json(path)  # refuses text that is not JSON, and NaN/Infinity
        except InputError as err:
            raise PackagingError(f"run {run!r}: {err}") from None
        if not isinstance(metrics, dict):
            raise PackagingError(f"run {run!r}: {path} is a JSON {type(metrics).__name__}, not an object of metrics")
        for key in (metric, "loss"):
            if key not in metrics:
                raise PackagingError(f"run {run!r}: {key} missing from {path}")
            value = metrics[key]
            # A diverged run (NaN loss; 1e999 reads as infinity) or a string would sort anywhere.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise PackagingError(
                    f"run {run!r}: metrics.json has {key} {json.dumps(value)}; "
                    "only runs with finite metrics can be ranked and packaged"
                )
        scored.append(metrics | {"run": run})
    order = sorted(range(len(scored)), key=lambda i: (-scored[i][metric], scored[i]["loss"], i))
    ranking = [{"run": scored[i]["run"], metric: scored[i][metric], "loss": scored[i]["loss"]} for i in order]
    return ranking[0]["run"], ranking


def indistinguishable(run: str, runs, runs_dir: Path) -> dict[str, float]:
    """The other runs that the exact McNemar test (Holm's correction over them) cannot tell from
    `run` on the same test images, with their adjusted p-values (stages.lib.uncertainty)."""
    answers = {other: read_predictions(runs_dir / other / RUN_FILES["predictions"]) for other in runs}
    tests = against(right_answers(answers), run)
    return {other: test["p_holm"] for other, test in tests.items() if not test["differs"]}


def write_archive(folder: Path, archive) -> None:
    """A reproducible .tar.gz of `folder`: sorted names, zero timestamps and owners."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        return info

    top = Path(archive).name.removesuffix(".tar.gz")
    with (
        atomic_path(archive, suffix=".tar.gz") as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w") as tar,
    ):
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=f"{top}/{path.relative_to(folder).as_posix()}", recursive=False, filter=normalise)


def _verify(name: str, predicted, expected: np.ndarray) -> dict:
    difference, agrees = export_difference(predicted, expected)
    if not agrees:
        raise PackagingError(f"export {name}: its probabilities differ from the Keras model's by {difference:.2g}")
    return {"verified_on_test_images": len(expected), "max_abs_difference": difference}


def export_model(model, kind: str, folder: Path, x: np.ndarray) -> dict:
    """Export `model` as `kind` into `folder`, run the export on `x`, compare with Keras."""
    expected = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    model = network_of(model)  # the augmentation layers, if any, are not exported
    if kind == "savedmodel":
        import tensorflow as tf  # SavedModel is TensorFlow's format

        model.export(str(folder / "savedmodel"), format="tf_saved_model", verbose=False)
        loaded = tf.saved_model.load(str(folder / "savedmodel"))
        return {"path": "savedmodel", **_verify(kind, loaded.serve(x).numpy(), expected)}
    if kind == "onnx":
        import onnx  # tf2onnx, onnx and onnxruntime are dependencies of the project

        path = folder / ONNX_MODEL
        with warnings.catch_warnings():  # Keras' copy of tf2onnx probes np.object, which NumPy 2 warns about
            warnings.filterwarnings("ignore", "In the future `np.object`", FutureWarning)
            model.export(str(path), format="onnx", verbose=False)
        path.write_bytes(canonical_onnx(onnx.load(str(path))).SerializeToString(deterministic=True))
        output = onnx_probabilities(onnx_session(path, "export onnx"), x)
        return {"path": ONNX_MODEL, **_verify(kind, output, expected)}
    raise PackagingError(f"unknown export {kind!r}")


def canonical_onnx(model):
    """The exported ONNX graph with its generated names numbered in graph order.

    tf2onnx names tensors and nodes from a process-wide counter and in an order that
    varies with Python's hash seed, so two exports of one model differ byte for byte;
    renamed, they are identical, and dvc.lock does not change when package reruns.
    """
    graph = model.graph
    kept = {value.name for value in [*graph.input, *graph.output]}
    names = {}

    def rename(name: str) -> str:
        return name if not name or name in kept else names.setdefault(name, f"t{len(names)}")

    for number, node in enumerate(graph.node):
        node.name = f"node{number}"
        node.input[:] = [rename(name) for name in node.input]
        node.output[:] = [rename(name) for name in node.output]
    for tensor in graph.initializer:
        tensor.name = rename(tensor.name)
    graph.initializer.sort(key=lambda tensor: tensor.name)
    del graph.value_info[:]  # shape hints named after the old tensors; onnxruntime infers them
    for value in [*graph.input, *graph.output]:
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_param"):
                dim.dim_param = "batch" if axis == 0 else f"dim{axis}"
    graph.doc_string = model.doc_string = ""  # "converted from __inference_..._<counter>"
    return model


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


# Files this stage reads besides its code: stages.lib.codedeps declares them as the stage's inputs.
DATA_FILES = ("stages/templates/model_card.md.j2",)
MODEL_CARD_TEMPLATE = DATA_FILES[0]


def model_card(
    run: str,
    selection: dict,
    metrics: dict,
    scores: dict,
    provenance: dict,
    training: dict,
    metadata: dict,
    preprocessing: dict,
    exports: dict,
    git: dict,
) -> str:
    """MODEL_CARD.md: what the model is, what it was trained on, how well it does, how to use it."""
    import jinja2

    config, classes, per_class = provenance["config"], metadata["class_names"], scores["per_class"]
    scored = [c for c in classes if per_class[c].get("scored", True)]
    intervals = scores.get("intervals", {})
    metrics = {**metrics, **scores}
    height, width, channels = preprocessing["image_shape"]
    template = jinja2.Environment(
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    ).from_string((ROOT / MODEL_CARD_TEMPLATE).read_text(encoding="utf-8"))
    return template.render(
        run=run,
        config=config,
        git=git,
        training=training,
        metadata=metadata,
        preprocessing=preprocessing,
        classes=classes,
        height=height,
        width=width,
        channels=channels,
        test_images=metrics["test_images"],
        chosen=_selected_as(run, selection),
        model_settings=", ".join(f"{k}={v}" for k, v in config["model"].items()),
        counts={split: sum(metadata["counts"][split].values()) for split in ("train", "val", "test")},
        raw_checksums=sorted(metadata.get("raw_checksums", {}).items()),
        weakest_f1=", ".join(
            f"{c} ({per_class[c]['f1']:.3f})"
            for c in sorted(scored, key=lambda c: (per_class[c]["f1"], classes.index(c)))[:3]
        )
        or "none scored",
        unscored=", ".join(f"{c} ({per_class[c]['why']})" for c in classes if c not in scored),
        training_table=_training_table(config, training),
        metrics_table=_table(
            ["metric", "value", "95% interval"],
            [
                (name, f"{metrics[name]:.4f}", _interval(intervals.get(name)))
                for name in (
                    "accuracy",
                    "top_3_accuracy",
                    "top_5_accuracy",
                    "macro_precision",
                    "macro_recall",
                    "macro_f1",
                    "weighted_f1",
                    "loss",
                )
                if name in metrics
            ],
        ),
        classes_table=_table(
            ["class", "precision", "recall", "F1 (95% interval)", "support"],
            [
                (
                    c,
                    f"{per_class[c]['precision']:.4f}",
                    f"{per_class[c]['recall']:.4f}",
                    f"{per_class[c]['f1']:.4f} {_interval(per_class[c].get('f1_interval'))}",
                    per_class[c]["support"],
                )
                if c in scored
                else (c, "-", "-", f"not scored: {per_class[c]['why']}", per_class[c]["support"])
                for c in classes
            ],
        ),
        interval_method=intervals.get("method", "No intervals recorded"),
        indistinguishable=", ".join(
            f"`{other}` (p = {p:.2g})" for other, p in selection.get("indistinguishable", {}).items()
        ),
        export_lines=[
            f"`{name}`: `{record['path']}`, same probabilities as the Keras model on "
            f"{record['verified_on_test_images']} test images (max difference {record['max_abs_difference']:.1e})"
            for name, record in exports.items()
        ],
        versions_table=_table(["package", "version"], sorted(provenance["versions"].items())),
    )


def _interval(pair) -> str:
    return f"[{pair[0]:.4f}, {pair[1]:.4f}]" if pair else "-"


def _selected_as(run: str, selection: dict) -> str:
    rank = [r["run"] for r in selection["ranking"]].index(run) + 1
    ranked = f"{len(selection['ranking'])} runs by test {selection['metric']}"
    return (
        f"named in params.yaml (`package.run`), rank {rank} of {ranked}"
        if selection["chosen"]
        else f"the best of {ranked} (ties: lower loss)"
    )


def _training_table(config: dict, training: dict) -> str:
    settings = config["training"]
    return _table(
        ["setting", "value"],
        [
            ("optimizer", settings["optimizer"]),
            ("learning rate", settings["learning_rate"]),
            ("batch size", settings["batch_size"]),
            ("epochs (maximum)", settings["epochs"]),
            ("epochs run", training["epochs_run"]),
            ("best epoch (weights kept)", training.get("best_epoch", "")),
            ("early stopping", f"{settings['monitor']}, patience {settings['patience']}"),
            ("augmentation", settings["augment"] or "none"),
            ("seed", config["seed"]),
            ("backend", training.get("backend", "")),
        ],
    )


def check_export_backend(exports) -> None:
    """Refuse, before anything is written, exports under a backend other than TensorFlow: they are made
    and checked under TensorFlow only (tf2onnx, SavedModel). Under JAX, Keras exports ONNX with
    jax2onnx, whose graphs of these models onnxruntime was seen to refuse (MaxPool)."""
    if not exports:
        return
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise PackagingError(
            f"package.exports {', '.join(exports)} needs the tensorflow backend, not {backend}: run the package"
            " stage with KERAS_BACKEND=tensorflow (the models load under any backend), or set package.exports: []"
        )


def package(config: PackageSettings, runs, runs_dir, models_dir, data_dir, out_dir, archive) -> dict:
    """Package the selected run into `out_dir` and `archive`; return the selection record."""
    check_keras_backend()
    check_export_backend(config.exports)
    runs_dir, models_dir, data_dir = Path(runs_dir), Path(models_dir), Path(data_dir)
    metric = config.metric
    best, ranking = select_best(runs, [runs_dir / r / RUN_FILES["metrics"] for r in runs], metric)
    run = config.run or best
    if run not in runs:
        raise PackagingError(f"package.run {run!r} is not one of the runs: {', '.join(runs)}")
    selection = {
        "run": run,
        "chosen": bool(config.run),
        "metric": metric,
        "ranking": ranking,
        "indistinguishable": indistinguishable(run, runs, runs_dir),
    }
    metadata = read_metadata(data_dir)
    x_test, _ = load_split(data_dir, "test", mmap=True)
    preprocessing = {
        "image_shape": metadata["image_shape"],
        "color_mode": "grayscale" if metadata["image_shape"][-1] == 1 else "rgb",
        "input_range": [0.0, 1.0],
        "image_file_scaling": "pixel / 255",
        "dataset_scaling": metadata["scaling"],
        "resize": "bilinear",
        # Which way round the images are: predict's --invert is for the other way.
        "background": "dark" if float(np.mean(x_test)) < 0.5 else "light",
    }
    # The selected run's files, copied into the package: its results and its model.
    inputs = {key: runs_dir / run / RUN_FILES[key] for key in PACKAGE_INPUTS}
    inputs["model"] = models_dir / run / Path(MODEL).name
    metrics, scores, provenance = (read_json(inputs[key]) for key in ("metrics", "scores", "provenance"))
    with atomic_dir(out_dir, "SHA256SUMS") as tmp:
        for path in inputs.values():
            shutil.copyfile(path, tmp / path.name)
        write_json(tmp / "class_names.json", metadata["class_names"])
        write_json(tmp / "preprocessing.json", preprocessing)
        write_json(
            tmp / "params.json",
            {"run": provenance["config"], "data": {"dataset": metadata["dataset"], **metadata["settings"]}},
        )
        write_json(tmp / "selection.json", selection)
        exports = {}
        if config.exports:
            from stages.lib.layers import load_model

            model = load_model(tmp / inputs["model"].name)
            sample = np.asarray(x_test[:VERIFY_IMAGES], dtype=np.float32)
            exports = {kind: export_model(model, kind, tmp, sample) for kind in config.exports}
            write_json(tmp / "exports.json", exports)
        write_text(
            tmp / "MODEL_CARD.md",
            model_card(
                run,
                selection,
                metrics,
                scores,
                provenance,
                read_json(inputs["summary"]),
                metadata,
                preprocessing,
                exports,
                git_revision("train", "evaluate", "package", architecture=provenance["config"]["architecture"]),
            ),
        )
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        write_text(tmp / "SHA256SUMS", "".join(f"{sha256_file(p)}  {p.relative_to(tmp).as_posix()}\n" for p in files))
        write_archive(tmp, archive)
    how = "named in params.yaml" if selection["chosen"] else f"best by {metric}"
    print(f"packaged run {run} ({how}; {metric} {metrics[metric]:.4f}) into {archive}")
    return selection


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="configs/package.json: metric, run, exports")
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--runs-dir", required=True, help="reports/runs: each run's metrics and figures")
    parser.add_argument("--models-dir", required=True, help="models/runs: each run's model.keras")
    parser.add_argument("--data", required=True, help="prepared data folder")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--archive", required=True)
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)
    return run_stage(
        lambda: package(
            PackageSettings.from_json(args.config),
            args.runs,
            args.runs_dir,
            args.models_dir,
            args.data,
            args.out_dir,
            args.archive,
        ),
        args.log,
    )


if __name__ == "__main__":
    sys.exit(main())
