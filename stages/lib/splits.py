"""The prepared-data layout that prepare writes and the later stages read.

A folder with x_{train,val,test}.npy (float32 in [0, 1], N x H x W x C),
y_*.npy (int64 class indices) and metadata.json. Kept apart from prepare so
that training depends on this contract, not on the dataset parsers: adding a
dataset does not retrain every model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.lib.errors import InputError
from stages.lib.files import read_json

SPLITS = ("train", "val", "test")


def names_classes(names) -> bool:
    """Whether `names` can name a classifier's outputs, one each: a list of two or more distinct,
    non-empty strings (prepare writes them; train, evaluate, package and predict read outputs by them)."""
    return (
        isinstance(names, list)
        and len(names) >= 2
        and all(isinstance(n, str) and n.strip() for n in names)
        and len(set(names)) == len(names)
    )


def read_metadata(data_dir) -> dict:
    """metadata.json of a prepared folder, refused in one line unless its class names are what
    prepare writes (`names_classes`)."""
    path = Path(data_dir) / "metadata.json"
    metadata = read_json(path)
    names = metadata.get("class_names") if isinstance(metadata, dict) else None
    if not names_classes(names):
        raise InputError(f"{path}: class_names must be two or more distinct, non-empty names, not {names}")
    return metadata


def load_split(data_dir, split: str, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Read one prepared split (memory-mapped by default)."""
    return tuple(_load_array(Path(data_dir) / f"{kind}_{split}.npy", mmap) for kind in ("x", "y"))


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    # allow_pickle=False: an .npy of Python objects would run code while loading.
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (run the prepare stage)") from None
    except ValueError as err:
        raise InputError(f"{path}: not a plain numeric array ({err})") from None
