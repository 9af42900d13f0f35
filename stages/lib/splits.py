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


def read_metadata(data_dir) -> dict:
    """metadata.json of a prepared folder, refused in one line unless its class names are what
    prepare writes: two or more distinct, non-empty names (a model's outputs are read by them)."""
    path = Path(data_dir) / "metadata.json"
    metadata = read_json(path)
    names = metadata.get("class_names") if isinstance(metadata, dict) else None
    if not isinstance(names, list) or len(names) < 2:
        raise InputError(f"{path}: no list of two or more class_names; not a file prepare wrote")
    if not all(isinstance(n, str) and n.strip() for n in names) or len(set(names)) != len(names):
        raise InputError(f"{path}: class_names must be distinct, non-empty names, not {names}")
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
