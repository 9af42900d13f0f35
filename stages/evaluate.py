"""Evaluate stage: score one trained run on the test split.

    python -m stages.evaluate --config configs/cnn_intro.json \
        --model models/runs/cnn_intro/model.keras --data data/prepared \
        --metrics reports/runs/cnn_intro/metrics.json \
        --confusion reports/runs/cnn_intro/confusion_matrix.csv \
        --heatmap reports/runs/cnn_intro/confusion_matrix.png \
        --report-json reports/runs/cnn_intro/classification_report.json \
        --report-text reports/runs/cnn_intro/classification_report.txt \
        --predictions reports/runs/cnn_intro/predictions.csv

Metrics (accuracy, loss, macro and weighted precision/recall/F1) go to a JSON
file with their provenance; the confusion matrix to a CSV with class names on
both axes and a PNG heatmap; predictions.csv (actual, predicted) feeds DVC's
confusion plot. Nothing here depends on time, so the same model gives the
same files byte for byte.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support

from stages.files import atomic_path, read_json, write_json, write_text
from stages.layers import load_model
from stages.prepared import load_split
from stages.provenance import git_revision, package_versions


def score(y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, cross-entropy and averaged precision/recall/F1 from predicted probabilities."""
    y_pred = probabilities.argmax(axis=1)
    labels = np.arange(len(class_names))
    # Cross-entropy as Keras computes it: probabilities clipped to [1e-7, 1].
    p_true = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    metrics = {
        "accuracy": float(np.mean(y_pred == y_true)),
        "loss": float(-np.mean(np.log(p_true))),
        "test_images": int(len(y_true)),
    }
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        metrics.update({f"{average}_precision": float(precision), f"{average}_recall": float(recall),
                        f"{average}_f1": float(f1)})
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in metrics.items()}


def confusion_table(y_true, y_pred, class_names) -> pd.DataFrame:
    counts = confusion_matrix(y_true, y_pred, labels=np.arange(len(class_names)))
    table = pd.DataFrame(counts, index=class_names, columns=class_names)
    table.index.name = "actual\\predicted"
    return table


def plot_confusion(table: pd.DataFrame, title: str, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.45 * len(table) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(table.values, cmap="Blues")
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(table.index)), table.index)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    threshold = table.values.max() / 2
    for (i, j), count in np.ndenumerate(table.values):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > threshold else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, metadata={"Software": None})
    plt.close(fig)


def evaluate(config: dict, model_path, data_dir, outputs: dict) -> dict:
    """Score the model on the test split; write every file named in `outputs`; return the metrics."""
    metadata = read_json(f"{data_dir}/metadata.json")
    class_names = metadata["class_names"]
    x_test, y_test = load_split(data_dir, "test", mmap=False)
    model = load_model(model_path)
    probabilities = np.asarray(model.predict(x_test, batch_size=256, verbose=0), dtype=np.float64)
    y_pred = probabilities.argmax(axis=1)

    metrics = {"run": config["run"], **score(y_test, probabilities, class_names)}
    metrics["provenance"] = {
        "config": config,
        "data": {"dataset": metadata["dataset"],
                 "sha256": {k: v for k, v in metadata["checksums"].items() if k.endswith("_test.npy")}},
        "versions": package_versions(),
        "git": git_revision(),
    }
    write_json(outputs["metrics"], metrics)

    table = confusion_table(y_test, y_pred, class_names)
    write_text(outputs["confusion"], table.to_csv(lineterminator="\n"))
    plot_confusion(table, f"{config['run']}: accuracy {metrics['accuracy']:.3f}", outputs["heatmap"])

    kwargs = dict(labels=np.arange(len(class_names)), target_names=class_names, zero_division=0)
    write_json(outputs["report_json"], classification_report(y_test, y_pred, output_dict=True, **kwargs))
    write_text(outputs["report_text"], classification_report(y_test, y_pred, digits=4, **kwargs))

    names = np.asarray(class_names)
    predictions = pd.DataFrame({"actual": names[y_test], "predicted": names[y_pred]})
    write_text(outputs["predictions"], predictions.to_csv(index=False, lineterminator="\n"))
    print(f"run {config['run']}: test accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.4f}")
    return metrics


OUTPUTS = ("metrics", "confusion", "heatmap", "report_json", "report_text", "predictions")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    for name in OUTPUTS:
        parser.add_argument(f"--{name.replace('_', '-')}", required=True)
    args = parser.parse_args(argv)
    try:
        evaluate(read_json(args.config), args.model, args.data, {k: getattr(args, k) for k in OUTPUTS})
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
