"""Dataset sources (where the files come from, their pinned checksums) and parsers.

A source lists the files exactly as they are published; `download` fetches and
verifies them, `prepare` parses them with the parser named here. Parsers return
(images as uint8 arrays N x H x W x C, labels as int64, the pixel maximum of the
format) and never unpickle anything.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


class DataError(ValueError):
    """A data file is missing, corrupt or in the wrong format; one-line message."""


def _sklearn_data_dir() -> Path:
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "data"


def parse_digits_csv(raw_dir: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """scikit-learn's digits.csv.gz: one image per row, 64 pixels (0-16) then the label."""
    path = raw_dir / "digits.csv.gz"
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as err:
        raise DataError(f"{path}: not a readable digits CSV ({err})") from None
    if table.shape[1] != 65:
        raise DataError(f"{path}: expected 65 columns (64 pixels + label), found {table.shape[1]}")
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16:
        raise DataError(f"{path}: pixel values outside 0..16")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: labels outside 0..9")
    images = pixels.reshape(-1, 8, 8, 1).astype(np.uint8)
    return images, labels, 16


@dataclass(frozen=True)
class Source:
    name: str
    files: dict[str, str]              # file name -> pinned SHA-256 of the published file
    location: Callable[[], Path]       # where the files are fetched from
    parse: Callable[[Path], tuple[np.ndarray, np.ndarray, int]]
    class_names: tuple[str, ...]
    description: str


SOURCES = {
    "digits": Source(
        name="digits",
        files={"digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"},
        location=_sklearn_data_dir,
        parse=parse_digits_csv,
        class_names=tuple(str(i) for i in range(10)),
        description="UCI optical recognition of handwritten digits, 8x8, as bundled with scikit-learn",
    ),
}


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r} (known: {', '.join(SOURCES)})") from None
