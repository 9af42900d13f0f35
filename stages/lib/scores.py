"""Test metrics from predicted class probabilities: what evaluate records and verify checks.

Every metric comes with its 95% interval (stages.lib.uncertainty). Two rules keep a metric
from flattering a model:

- top-k accuracy shares ties fairly: an image whose true class is tied with others at the
  k-th place counts as the chance that a random order of the tied classes puts it among
  the first k (a model whose outputs are all equal gets k / classes, chance, not 1.0);
- a class with fewer than MIN_SCORED test images has no precision, recall or F1 (one image
  makes its F1 0 or 1 by luck): it is reported as not scored, and the macro and weighted
  averages are over the classes that are scored.
"""

from __future__ import annotations

import numpy as np

from stages.lib.uncertainty import METHODS, bootstrap_intervals, proportion_interval

TOP_K = (3, 5)  # reported where there are more classes than k
MIN_SCORED = 2  # test images a class needs for its precision, recall and F1
# In metrics.json, what `dvc metrics` lists: with dvclive's summary of the run's last epoch, 12
# numbers a run. The intervals are in scores.json: `dvc metrics diff` stays readable.
HEADLINE = ("accuracy", "loss", *(f"top_{k}_accuracy" for k in TOP_K), "macro_f1", "weighted_f1")
AVERAGES = ("macro", "weighted")
PER_CLASS = ("precision", "recall", "f1")


def _rounded(value: float) -> float:
    return round(float(value), 6)


def split_scores(scores: dict) -> tuple[dict, dict]:
    """The headline numbers (metrics.json) and the rest (scores.json) of `score`'s result."""
    headline = {key: value for key, value in scores.items() if key in HEADLINE}
    return headline, {key: value for key, value in scores.items() if key not in HEADLINE}


def class_support(y_true: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Test images per class, and the classes with enough of them to be scored (MIN_SCORED)."""
    support = np.bincount(y_true, minlength=classes)
    return support, np.flatnonzero(support >= MIN_SCORED)


def top_k_credit(probabilities: np.ndarray, y_true: np.ndarray, k: int) -> np.ndarray:
    """Per image, the chance that the true class is among the k most probable when ties are
    put in a random order: 1 or 0 without ties."""
    p_true = probabilities[np.arange(len(y_true)), y_true][:, None]
    above = (probabilities > p_true).sum(axis=1)
    tied = (probabilities == p_true).sum(axis=1)  # the true class and the classes tied with it
    return np.clip((k - above) / tied, 0.0, 1.0)


def _resampler(y_true: np.ndarray, y_pred: np.ndarray, classes: int, scored: np.ndarray, per_image: dict):
    """The bootstrap's statistic: for a batch of resamples (rows of image indices), the means of
    `per_image`, the macro and weighted averages (AVERAGES x PER_CLASS), then precision, recall
    and F1 of each `scored` class; an array of one column per resample. It counts as
    precision_recall_fscore_support(labels=scored, zero_division=0) does, for 1,000 resamples
    at once (a test holds the two equal)."""

    def statistic(indices: np.ndarray, axis: int = -1) -> np.ndarray:
        indices = np.atleast_2d(indices)
        batch = len(indices)
        cells = (np.arange(batch)[:, None] * classes + y_true[indices]) * classes + y_pred[indices]
        confusion = np.bincount(cells.ravel(), minlength=batch * classes * classes).reshape(batch, classes, classes)
        right = np.diagonal(confusion, axis1=1, axis2=2)[:, scored]
        actual, predicted = confusion.sum(axis=2)[:, scored], confusion.sum(axis=1)[:, scored]
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class = [
                np.where(predicted > 0, right / predicted, 0.0),
                np.where(actual > 0, right / actual, 0.0),
                np.where(actual + predicted > 0, 2 * right / (actual + predicted), 0.0),
            ]
        total = actual.sum(axis=1)
        weighted = [(values * actual).sum(axis=1) / np.where(total > 0, total, 1) for values in per_class]
        return np.vstack(
            [
                *(values[indices].mean(axis=1) for values in per_image.values()),
                *(values.mean(axis=1) if len(scored) else np.zeros(batch) for values in per_class),
                *weighted,
                *(values.T for values in per_class),
            ]
        )

    return statistic


def score(y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, cross-entropy, top-k accuracy and precision/recall/F1 from predicted
    probabilities, each with its interval (`intervals`: metric -> [low, high])."""
    from sklearn.metrics import precision_recall_fscore_support  # imported when used: --help stays quick

    y_pred = probabilities.argmax(axis=1)
    images = len(y_true)
    support, scored = class_support(y_true, len(class_names))
    p_true = probabilities[np.arange(images), y_true]
    # Per image: cross-entropy as Keras computes it (probabilities clipped to [1e-7, 1]), top-k credit.
    per_image = {"loss": -np.log(np.clip(p_true, 1e-7, 1.0))}
    for k in TOP_K:
        if k < len(class_names):
            per_image[f"top_{k}_accuracy"] = top_k_credit(probabilities, y_true, k)
    names = [*per_image, *(f"{a}_{m}" for a in AVERAGES for m in PER_CLASS)]
    intervals = bootstrap_intervals(_resampler(y_true, y_pred, len(class_names), scored, per_image), images)

    right = int(np.sum(y_pred == y_true))
    metrics = {
        "accuracy": _rounded(right / images),
        **{name: _rounded(values.mean()) for name, values in per_image.items()},
        "test_images": images,
    }
    for average in AVERAGES:
        found = precision_recall_fscore_support(y_true, y_pred, labels=scored, average=average, zero_division=0)
        metrics.update({f"{average}_{key}": _rounded(value) for key, value in zip(PER_CLASS, found, strict=False)})
    metrics["intervals"] = {
        "method": METHODS,
        "accuracy": proportion_interval(right, images),
        **{name: interval.tolist() for name, interval in zip(names, intervals, strict=False)},
    }
    per_class = precision_recall_fscore_support(y_true, y_pred, labels=scored, zero_division=0)
    per_class_intervals = intervals[len(names) :].reshape(len(PER_CLASS), len(scored), 2)
    metrics["per_class"] = {}
    for c, name in enumerate(class_names):
        if support[c] < MIN_SCORED:
            metrics["per_class"][name] = {
                "support": int(support[c]),
                "scored": False,
                "why": f"{support[c]} test image{'' if support[c] == 1 else 's'}, fewer than {MIN_SCORED}",
            }
            continue
        i = int(np.searchsorted(scored, c))
        metrics["per_class"][name] = {
            **{key: _rounded(per_class[j][i]) for j, key in enumerate(PER_CLASS)},
            "support": int(support[c]),
            **{f"{key}_interval": per_class_intervals[j, i].tolist() for j, key in enumerate(PER_CLASS)},
        }
    return metrics


def answer_intervals(actual, predicted) -> dict[str, list[float]]:
    """The intervals of accuracy and macro F1 from a run's answers alone (the actual and predicted
    class of each test image, as its predictions.csv holds them): the ones `score` records, so that
    the report can show them for results scored before intervals were (no model needed)."""
    classes, codes = np.unique(np.concatenate([np.asarray(actual), np.asarray(predicted)]), return_inverse=True)
    y_true, y_pred = codes[: len(actual)], codes[len(actual) :]
    _, scored = class_support(y_true, len(classes))
    intervals = bootstrap_intervals(_resampler(y_true, y_pred, len(classes), scored, {}), len(y_true))
    macro_f1 = intervals[PER_CLASS.index("f1")]  # after the per-image means (none here): macro P, R, F1
    return {"accuracy": proportion_interval(int(np.sum(y_true == y_pred)), len(y_true)), "macro_f1": macro_f1.tolist()}


def predict_probabilities(model, x: np.ndarray) -> np.ndarray:
    """Class probabilities for `x`, in float64 for the metrics (verify predicts the same way)."""
    return np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=np.float64)
