"""The prepared-data layout that prepare writes and the later stages read.

A folder with x_{train,val,test}.npy (float32 in [0, 1], N x H x W x C),
y_*.npy (int64 class indices), index_*.npy (each image's position in the published
split that metadata.json's `sources` names) and metadata.json. Kept apart from prepare so
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


def first_of_training_pool(data_dir, first: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(training, validation) for a run's `train_first`: the first `first` images, in published
    order, of the training and validation splits together (for MNIST: official training images
    0 .. first - 1), and the validation images that are not among them."""
    data_dir = Path(data_dir)
    sources = read_metadata(data_dir).get("sources") or {}
    if "train" not in sources or sources.get("train") != sources.get("val"):
        raise InputError(
            f"{data_dir}/metadata.json: train_first needs validation images drawn from the training images "
            f"(sources: {sources or 'not recorded; run the prepare stage'})"
        )
    (x_train, y_train), (x_val, y_val) = (load_split(data_dir, split, mmap=False) for split in ("train", "val"))
    index_train, index_val = (_load_array(data_dir / f"index_{split}.npy", False) for split in ("train", "val"))
    pool = np.sort(np.concatenate([index_train, index_val]))
    if first > len(pool):
        raise InputError(
            f"{data_dir}: train_first {first:,} is more than the {len(pool):,} training and validation images"
        )
    last = pool[first - 1]
    taken_train, taken_val = index_train <= last, index_val <= last
    if taken_val.all():
        raise InputError(f"{data_dir}: train_first {first:,} takes every validation image; none is left to validate on")
    order = np.argsort(np.concatenate([index_train[taken_train], index_val[taken_val]]), kind="stable")
    x = np.concatenate([x_train[taken_train], x_val[taken_val]])[order]
    y = np.concatenate([y_train[taken_train], y_val[taken_val]])[order]
    names = read_metadata(data_dir)["class_names"]
    # A class never trained on would still get its row in every report, as if it had been learnt.
    if missing := [name for label, name in enumerate(names) if label not in set(y.tolist())]:
        raise InputError(f"{data_dir}: the first {first:,} training images hold no {', no '.join(map(repr, missing))}")
    return (x, y), (x_val[~taken_val], y_val[~taken_val])
