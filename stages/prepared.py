"""The prepared-data layout that prepare writes and the later stages read.

A folder with x_{train,val,test}.npy (float32 in [0, 1], N x H x W x C),
y_*.npy (int64 class indices) and metadata.json. Kept apart from prepare so
that training depends on this contract, not on the dataset parsers: adding a
dataset does not retrain every model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


def load_split(data_dir, split: str, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Read one prepared split (memory-mapped by default)."""
    mode = "r" if mmap else None
    data_dir = Path(data_dir)
    return (np.load(data_dir / f"x_{split}.npy", mmap_mode=mode, allow_pickle=False),
            np.load(data_dir / f"y_{split}.npy", mmap_mode=mode, allow_pickle=False))
