"""Evaluate stage: score one trained run on the test split.

    python -m stages.evaluate --config configs/cnn_intro.json \
        --model models/runs/cnn_intro/model.keras --data data/prepared \
        --out-dir reports/runs/cnn_intro/evaluation

Writes the files of EVALUATION_FILES into --out-dir:

- metrics.json: the headline numbers only, what `dvc metrics` and `dvc exp show`
  list: accuracy, loss, top-k accuracy, macro and weighted F1;
- scores.json: macro and weighted precision and recall, per-class
  precision/recall/F1/support, the number of test images, and the 95% interval of
  every metric (`intervals`, and per class; stages.lib.scores says how);
- provenance.json: the run config, test-data checksums, package versions, the
  git revision of the train and evaluate code;
- the confusion matrix as counts and row-normalised CSVs (class names on both
  axes) and a PNG heatmap with the most confused pairs framed in red;
  predictions.csv (one row per test image: actual, predicted, class
  probabilities) also feeds DVC's `confusion` plot;
- scikit-learn's classification report as text (followed by the pairs of classes
  mixed up most) and JSON;
- misclassified.png: the most confidently misclassified test images;
- filters.png: the first layer's learned filters and their responses to one
  test image.

Nothing here depends on time, so the same model gives the same files byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from stages.lib.backend import check_keras_backend
from stages.lib.confusion import confusion_table, most_confused
from stages.lib.errors import InputError
from stages.lib.figures import pyplot, save_png
from stages.lib.files import atomic_dir, write_json, write_text
from stages.lib.joblog import run_stage
from stages.lib.layout import EVALUATION_FILES
from stages.lib.networks import network_of
from stages.lib.provenance import git_revision, package_versions
from stages.lib.scores import MIN_SCORED, class_support, predict_probabilities, score, split_scores
from stages.lib.settings import RunSettings
from stages.lib.splits import load_split, read_metadata

MISCLASSIFIED_SHOWN = 16
FILTERS_SHOWN = 16


def _show_image(ax, image: np.ndarray, cmap="gray") -> None:
    """An (H, W, C) image in [0, 1]: grey for one channel, colour for three."""
    ax.imshow(image[..., 0] if image.shape[-1] == 1 else np.clip(image, 0, 1), cmap=cmap)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_confusion(counts, fractions, title: str, path, framed=()) -> None:
    """Heatmap coloured by row fraction (so rare classes show too), annotated with counts; the
    pairs `framed` (most_confused's) in red."""
    from matplotlib.patches import Rectangle

    plt = pyplot()
    size = max(4.0, 0.45 * len(counts) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(fractions.values, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(counts.columns)), counts.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(counts.index)), counts.index)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    for (i, j), count in np.ndenumerate(counts.values):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if fractions.values[i, j] > 0.5 else "black",
        )
    rows, columns = list(counts.index), list(counts.columns)
    for pair in framed:
        i, j = rows.index(pair.actual), columns.index(pair.predicted)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the actual class")
    fig.tight_layout()
    save_png(fig, path)


def plot_misclassified(x, y_true, probabilities, class_names, title: str, path) -> None:
    """The test images the model got wrong with the highest confidence, most confident first."""
    plt = pyplot()
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    confidence = probabilities[wrong, y_pred[wrong]]
    shown = wrong[np.argsort(-confidence, kind="stable")][:MISCLASSIFIED_SHOWN]
    cols = 8 if len(shown) > 4 else max(len(shown), 1)
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown, strict=False):
        ax.axis("on")
        _show_image(ax, x[i])
        ax.set_title(
            f"true {class_names[y_true[i]]}\npred {class_names[y_pred[i]]} {probabilities[i, y_pred[i]]:.2f}",
            fontsize=7,
        )
    if len(shown) == 0:
        axes[0, 0].text(0.5, 0.5, "no misclassified test image", ha="center", va="center")
    fig.suptitle(
        f"{title}: {len(wrong)} of {len(y_true)} test images misclassified"
        + (f", the {len(shown)} most confident shown" if len(shown) else ""),
        fontsize=9,
    )
    fig.tight_layout()
    save_png(fig, path)


def first_layer(model):
    """The first layer with a kernel (conv, morphological or dense), and whether its responses
    can be computed from the model's input (not for a layer inside a nested backbone)."""
    for layer in model.layers:
        if hasattr(layer, "kernel") and len(layer.kernel.shape) in (2, 4):
            return layer, True
        if hasattr(layer, "layers"):  # a nested model, e.g. a transfer backbone
            inner, _ = first_layer(layer)
            if inner is not None:
                return inner, False
    return None, False


def plot_filters(model, image: np.ndarray, title: str, path) -> None:
    """The first layer's filters (channel mean) and, for a top-level spatial layer, their
    responses to `image`. A dense first layer's weights are shown as images of the input."""
    import keras

    plt = pyplot()
    model = network_of(model)
    layer, reachable = first_layer(model)
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype=np.float32) if layer else None
    if kernel is None:
        filters, responses, kind = [], None, "no layer with weights"
    elif kernel.ndim == 4:  # (k, k, channels, filters)
        filters = [kernel[..., f].mean(axis=-1) for f in range(min(kernel.shape[-1], FILTERS_SHOWN))]
        kind = f"{type(layer).__name__} '{layer.name}', {kernel.shape[0]}x{kernel.shape[1]} filters"
        responses = None
        if reachable:
            probe = keras.Model(model.inputs, layer.output)
            responses = np.asarray(probe.predict(image[None], verbose=0), dtype=np.float32)[0]
    else:  # dense: (inputs, units); each unit's weights over the flattened image
        units = min(kernel.shape[1], FILTERS_SHOWN)
        filters = [kernel[:, u].reshape(image.shape).mean(axis=-1) for u in range(units)]
        kind = f"Dense '{layer.name}', weights of each unit over the image"
        responses = None
    label = "unit" if kernel is not None and kernel.ndim == 2 else "filter"
    cols = min(max(len(filters), 1), 8)
    per_block = 2 if responses is not None else 1  # a row of filters, then their responses
    rows = per_block * max(1, -(-len(filters) // cols))
    fig, axes = plt.subplots(rows, cols + 1, figsize=(1.3 * (cols + 1), 1.5 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].axis("on")
    _show_image(axes[0, 0], image)
    axes[0, 0].set_title("input", fontsize=7)
    for f, weights in enumerate(filters):
        row, col = per_block * (f // cols), f % cols + 1
        axes[row, col].axis("on")
        _show_image(axes[row, col], weights[..., None], cmap="viridis")
        axes[row, col].set_title(f"{label} {f}", fontsize=7)
        if responses is not None:
            axes[row + 1, col].axis("on")
            _show_image(axes[row + 1, col], responses[..., f : f + 1], cmap="magma")
            axes[row + 1, col].set_title(f"response {f}", fontsize=7)
    fig.suptitle(f"{title}: first layer, {kind}", fontsize=9)
    fig.tight_layout()
    save_png(fig, path)


def evaluate(config: RunSettings, model_path, data_dir, out_dir) -> dict:
    """Score the model on the test split; write EVALUATION_FILES into `out_dir`; return the metrics."""
    check_keras_backend()
    from stages.lib.layers import load_model  # Keras: imported once the job's log is open

    metadata = read_metadata(data_dir)
    class_names = metadata["class_names"]
    x_test, y_test = load_split(data_dir, "test", mmap=False)
    model = load_model(model_path)
    probabilities = predict_probabilities(model, x_test)
    if probabilities.shape[1] != len(class_names):  # a class too many or too few: every score would lie
        raise InputError(
            f"run {config.run}: {model_path} has {probabilities.shape[1]} outputs, {data_dir}/metadata.json "
            f"names {len(class_names)} classes; nothing is written"
        )
    if len(y_test) and not 0 <= int(y_test.min()) <= int(y_test.max()) < len(class_names):
        raise InputError(f"{data_dir}/y_test.npy: labels outside 0..{len(class_names) - 1}; nothing is written")
    broken = ~np.isfinite(probabilities).all(axis=1)
    if broken.any():  # NaN probabilities would still give an accuracy and a top-k score
        raise InputError(
            f"run {config.run}: {model_path} gives non-finite probabilities for {broken.sum()} of "
            f"{len(broken)} test images (did training diverge?); nothing is written"
        )

    # Written into a temporary folder that replaces `out_dir` at the end: the runners see one output,
    # the folder, so a killed evaluate must leave no folder (a partial one would look done to Snakemake).
    with atomic_dir(out_dir, EVALUATION_FILES["metrics"]) as folder:
        paths = {key: folder / name for key, name in EVALUATION_FILES.items()}
        metrics, scores = split_scores(score(y_test, probabilities, class_names))
        write_json(paths["metrics"], metrics)
        write_json(paths["scores"], scores)
        write_json(
            paths["provenance"],
            {
                "config": config.to_dict(),
                "data": {
                    "dataset": metadata["dataset"],
                    "sha256": {k: v for k, v in metadata["checksums"].items() if k.endswith("_test.npy")},
                },
                "versions": package_versions(),
                "git": git_revision("train", "evaluate", architecture=config.architecture),
            },
        )
        write_tables(paths, y_test, probabilities, class_names, f"{config.run}: accuracy {metrics['accuracy']:.3f}")
        plot_misclassified(x_test, y_test, probabilities, class_names, config.run, paths["misclassified"])
        plot_filters(model, x_test[0], config.run, paths["filters"])
    print(f"run {config.run}: test accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.4f}")
    return metrics


def write_tables(paths: dict, y_test, probabilities, class_names, title: str) -> None:
    """The confusion matrices (CSVs and heatmap), scikit-learn's classification report and
    the per-image predictions."""
    import pandas as pd
    from sklearn.metrics import classification_report

    y_pred = probabilities.argmax(axis=1)
    counts = confusion_table(y_test, y_pred, class_names)
    fractions = confusion_table(y_test, y_pred, class_names, normalize=True)
    write_text(paths["confusion"], counts.to_csv(lineterminator="\n"))
    write_text(paths["confusion_normalized"], fractions.to_csv(lineterminator="\n"))
    pairs = most_confused(counts)
    plot_confusion(counts, fractions, title, paths["heatmap"], framed=pairs)

    # Classes with too few test images are left out, as in scores.json: their F1 would be luck.
    support, scored = class_support(y_test, len(class_names))
    kwargs = {"labels": scored, "target_names": [class_names[c] for c in scored], "zero_division": 0}
    unscored = [f"{class_names[c]} ({support[c]})" for c in np.flatnonzero(support < MIN_SCORED)]
    write_json(paths["report_json"], classification_report(y_test, y_pred, output_dict=True, **kwargs))
    write_text(
        paths["report_text"],
        classification_report(y_test, y_pred, digits=4, **kwargs)
        + (f"\nNot scored, fewer than {MIN_SCORED} test images: {', '.join(unscored)}\n" if unscored else "")
        + "\nMost confused (actual -> predicted: images, share of the actual class):\n"
        + ("".join(f"  {pair}\n" for pair in pairs) or "  none: every test image is right\n"),
    )

    names = np.asarray(class_names)
    predictions = pd.DataFrame({"image": np.arange(len(y_test)), "actual": names[y_test], "predicted": names[y_pred]})
    for c, name in enumerate(class_names):
        predictions[f"p_{name}"] = probabilities[:, c]
    write_text(paths["predictions"], predictions.to_csv(index=False, lineterminator="\n", float_format="%.6f"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out-dir", required=True, help="folder for the files of EVALUATION_FILES")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)
    # configs/<run>.json: the console lines of the job start with the run's name.
    return run_stage(
        lambda: evaluate(RunSettings.from_json(args.config), args.model, args.data, args.out_dir),
        args.log,
        prefix=Path(args.config).stem,
    )


if __name__ == "__main__":
    sys.exit(main())
