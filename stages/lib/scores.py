"""Test metrics from predicted class probabilities: what evaluate records and verify checks."""

from __future__ import annotations

import numpy as np

TOP_K = (3, 5)  # reported where there are more classes than k


def _rounded(value: float) -> float:
    return round(float(value), 6)


HEADLINE = ("accuracy", "loss", *(f"top_{k}_accuracy" for k in TOP_K), "macro_f1", "weighted_f1")


def split_scores(scores: dict) -> tuple[dict, dict]:
    """The headline numbers (metrics.json) and the rest (scores.json) of `score`'s result."""
    headline = {key: value for key, value in scores.items() if key in HEADLINE}
    return headline, {key: value for key, value in scores.items() if key not in HEADLINE}


def score(y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, cross-entropy, top-k accuracy and precision/recall/F1 from predicted probabilities."""
    from sklearn.metrics import precision_recall_fscore_support  # imported when used: --help stays quick

    y_pred = probabilities.argmax(axis=1)
    labels = np.arange(len(class_names))
    p_true = probabilities[np.arange(len(y_true)), y_true]
    # Cross-entropy as Keras computes it: probabilities clipped to [1e-7, 1].
    metrics = {
        "accuracy": _rounded(np.mean(y_pred == y_true)),
        "loss": _rounded(-np.mean(np.log(np.clip(p_true, 1e-7, 1.0)))),
        "test_images": len(y_true),
    }
    # Top-k: the true class is among the k most probable ones (ties count in its favour).
    rank = (probabilities > p_true[:, None]).sum(axis=1)
    for k in TOP_K:
        if k < len(class_names):
            metrics[f"top_{k}_accuracy"] = _rounded(np.mean(rank < k))
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        metrics.update(
            {
                f"{average}_precision": _rounded(precision),
                f"{average}_recall": _rounded(recall),
                f"{average}_f1": _rounded(f1),
            }
        )
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    metrics["per_class"] = {
        name: {"precision": _rounded(p), "recall": _rounded(r), "f1": _rounded(f), "support": int(s)}
        for name, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)
    }
    return metrics


def predict_probabilities(model, x: np.ndarray) -> np.ndarray:
    """Class probabilities for `x`, in float64 for the metrics (verify predicts the same way)."""
    return np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=np.float64)
