"""Confusion matrices and the pairs of classes a model mixes up most.

Rows are the actual class, columns the predicted one, labelled by class name
(confusion_matrix.csv, written by evaluate). The most confused pairs are the
off-diagonal cells with the most images: on Fashion-MNIST, shirt taken for
T-shirt/top and coat for pullover (and back) lead for every model.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

CONFUSED_SHOWN = 3  # pairs named per run in the classification report, heatmap and comparison


class Confusion(NamedTuple):
    actual: str
    predicted: str
    count: int
    share: float  # of the actual class's test images

    def __str__(self) -> str:
        return f"{self.actual} -> {self.predicted}: {self.count} ({100 * self.share:.1f}%)"


def confusion_table(y_true, y_pred, class_names, normalize: bool = False):
    """Rows: actual class, columns: predicted class; counts, or each row's fractions (a DataFrame)."""
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(y_true, y_pred, labels=np.arange(len(class_names)))
    values = counts
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.round(np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0), 4)
    table = pd.DataFrame(values, index=class_names, columns=class_names)
    table.index.name = "actual\\predicted"
    return table


def most_confused(counts, top: int = CONFUSED_SHOWN) -> list[Confusion]:
    """The `top` off-diagonal cells of a counts table with the most images (ties: row, then
    column order); cells with no image are left out."""
    values = np.asarray(counts.values, dtype=np.int64)
    totals = values.sum(axis=1)
    cells = [(i, j) for i in range(len(values)) for j in range(len(values)) if i != j and values[i, j] > 0]
    cells.sort(key=lambda cell: -values[cell])  # stable: ties stay in row, then column order
    return [
        Confusion(str(counts.index[i]), str(counts.columns[j]), int(values[i, j]), float(values[i, j] / totals[i]))
        for i, j in cells[:top]
    ]
