"""Published results to hold runs against: stages/data/published_results.csv.

One row per published figure: the dataset (a key of stages.lib.datasets.SOURCES), the
architecture of this project whose family it belongs to, the model as published, its test
accuracy (a fraction), the test set it was measured on and how (one run, a mean, a best of
several), where it was published, and a locator a reader can open: an https address, for a
GitHub file pinned to a commit (`/blob/<40 hex digits>/`), with the table row or line. Each row
was checked at its locator; a row without one is refused.
The report shows each run next to the best published figure for its dataset and
architecture, and the difference; a dataset or architecture with no row shows none.
Morphological networks on Fashion-MNIST have no published figure here: none was found.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from stages.lib.codedeps import ROOT
from stages.lib.errors import InputError

DATA_FILES = ("stages/data/published_results.csv",)  # the report stage's input (stages.lib.codedeps)
TABLE = ROOT / DATA_FILES[0]
COLUMNS = ("dataset", "architecture", "model", "accuracy", "test_set", "source", "locator")
# A GitHub file at a commit: the figure stays where the locator says, whatever the branch does later.
PINNED_GITHUB = re.compile(r"https://github\.com/[^/\s]+/[^/\s]+/blob/[0-9a-f]{40}/\S+")


@dataclass(frozen=True)
class Reference:
    dataset: str
    architecture: str
    model: str
    accuracy: float
    test_set: str
    source: str
    locator: str

    @property
    def label(self) -> str:
        """E.g. '92.5%: two convolutions < 100k parameters, official test set (10,000 images), one run
        (zalandoresearch/fashion-mnist README benchmark: https://github.com/...)'."""
        return f"{100 * self.accuracy:.1f}%: {self.model}, {self.test_set} ({self.source}: {self.locator})"


def _row(row: dict, where: str) -> Reference:
    if None in row or any(row.get(column) in (None, "") for column in COLUMNS):
        raise InputError(f"{where}: needs exactly the columns {', '.join(COLUMNS)}, each filled in")
    try:
        accuracy = float(row["accuracy"])
    except ValueError:
        raise InputError(f"{where}: accuracy {row['accuracy']!r} is not a number") from None
    if not (math.isfinite(accuracy) and 0 < accuracy <= 1):
        raise InputError(f"{where}: accuracy {row['accuracy']!r} is not a fraction in (0, 1] (92.5% is 0.925)")
    locator = row["locator"].strip()
    if not locator.startswith("https://") or (
        locator.startswith("https://github.com/") and not PINNED_GITHUB.match(locator)
    ):
        raise InputError(
            f"{where}: locator {locator!r} is not an https address (a GitHub file pinned to a commit: "
            "https://github.com/<owner>/<repo>/blob/<commit>/<path>) where a reader finds the figure"
        )
    return Reference(**{**{column: row[column].strip() for column in COLUMNS}, "accuracy": accuracy})


def load_references(path: str | Path = TABLE) -> list[Reference]:
    """Every row of the table; InputError naming the file and line for a bad one."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise InputError(f"{path}: header must be {','.join(COLUMNS)}, got {','.join(reader.fieldnames or [])}")
            return [_row(row, f"{path}: line {reader.line_num}") for row in reader]
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the published results ({err.__class__.__name__})") from None


def best_reference(references: list[Reference], dataset: str, architecture: str) -> Reference | None:
    """The highest published accuracy for this dataset and architecture, or None."""
    found = [r for r in references if r.dataset == dataset and r.architecture == architecture]
    return max(found, key=lambda r: r.accuracy, default=None)
