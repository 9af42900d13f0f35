"""Prepare stage: parse the raw files, scale to [0, 1], split train/val/test.

    python -m stages.prepare --raw data/raw --out data/prepared \
        --seed 42 --val-fraction 0.15 --test-fraction 0.15

Writes x_{train,val,test}.npy (float32, N x H x W x C) and y_*.npy (int64),
which training can memory-map, plus metadata.json: class names, image shape,
counts per class per split, and the checksums of the raw and prepared files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from stages.datasets import DataError, get_source
from stages.files import atomic_dir, read_json, sha256_file, write_json

SPLITS = ("train", "val", "test")


def split_stratified(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int):
    """Return index arrays (train, val, test), stratified by label and seeded."""
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be below 1, got {val_fraction + test_fraction}")
    index = np.arange(len(labels))
    rest, test = train_test_split(index, test_size=test_fraction, stratify=labels, random_state=seed)
    val_share = val_fraction / (1 - test_fraction)
    train, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def prepare(raw_dir, out_dir, seed: int, val_fraction: float, test_fraction: float) -> dict:
    """Split and scale the raw dataset into `out_dir`; return its metadata."""
    raw_dir = Path(raw_dir)
    record = read_json(raw_dir / "checksums.json")
    source = get_source(record["dataset"])
    images, labels, max_value = source.parse(raw_dir)
    num_classes = len(source.class_names)
    index = dict(zip(SPLITS, split_stratified(labels, val_fraction, test_fraction, seed)))
    metadata = {
        "dataset": source.name,
        "description": source.description,
        "class_names": list(source.class_names),
        "image_shape": list(images.shape[1:]),
        "scaling": f"pixel / {max_value}",
        "seed": seed,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "raw_checksums": {name: f["sha256"] for name, f in record["files"].items()},
        "counts": {},
        "checksums": {},
    }
    with atomic_dir(out_dir) as tmp:
        for split, idx in index.items():
            x = (images[idx].astype(np.float32) / max_value).astype(np.float32)
            y = labels[idx].astype(np.int64)
            np.save(tmp / f"x_{split}.npy", x)
            np.save(tmp / f"y_{split}.npy", y)
            counts = np.bincount(y, minlength=num_classes)
            metadata["counts"][split] = {name: int(c) for name, c in zip(source.class_names, counts)}
            for name in (f"x_{split}.npy", f"y_{split}.npy"):
                metadata["checksums"][name] = sha256_file(tmp / name)
            print(f"{split}: {len(idx)} images", flush=True)
        write_json(tmp / "metadata.json", metadata)
    return metadata


def load_split(data_dir, split: str, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Read one prepared split (memory-mapped by default)."""
    mode = "r" if mmap else None
    data_dir = Path(data_dir)
    return (np.load(data_dir / f"x_{split}.npy", mmap_mode=mode, allow_pickle=False),
            np.load(data_dir / f"y_{split}.npy", mmap_mode=mode, allow_pickle=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--val-fraction", type=float, required=True)
    parser.add_argument("--test-fraction", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        prepare(args.raw, args.out, args.seed, args.val_fraction, args.test_fraction)
    except (DataError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
