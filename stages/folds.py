"""Folds stage: the prepared training and validation images in K stratified folds, for the runs
that ask for `cv_folds: K`.

    python -m stages.folds --config configs/data/prepare.json --folds 5 --data data/prepared \
        --out data/folds/5

Writes one folder per fold, fold1 ... fold<K>, laid out as prepare's (stages.lib.splits): x/y_train
hold the images of the other folds, x/y_val those of this fold, and metadata.json the class names
and counts. A run <run>-fold<k> trains on fold<k>'s folder and is validated (early stopping) on
its held-out fold; the test split stays where it is, in data/prepared, for evaluate. The folds
are scikit-learn's StratifiedKFold, shuffled with the global seed: the same for every run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from stages.lib.errors import InputError
from stages.lib.files import atomic_dir, write_json
from stages.lib.joblog import run_stage
from stages.lib.layout import FOLD
from stages.lib.settings import PrepareSettings
from stages.lib.splits import load_split, read_metadata


def make_folds(data_dir, folds: int, seed: int, out_dir) -> dict[str, dict]:
    """Write fold1 ... fold<folds> into `out_dir`; return each fold's counts per split."""
    from sklearn.model_selection import StratifiedKFold

    metadata = read_metadata(data_dir)
    parts = [load_split(data_dir, split, mmap=False) for split in ("train", "val")]
    x, y = np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])
    counts = np.bincount(y, minlength=len(metadata["class_names"]))
    if counts.min() < folds:
        smallest = int(np.argmin(counts))
        raise InputError(
            f"cv_folds {folds}: class {metadata['class_names'][smallest]!r} has {counts[smallest]} training "
            f"and validation images; each of the {folds} folds needs one, so it needs at least {folds}"
        )
    made = {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with atomic_dir(out_dir, f"{FOLD.format(fold=folds)}/metadata.json") as folder:
        for k, (train, held_out) in enumerate(splitter.split(np.zeros(len(y)), y), start=1):
            fold = folder / FOLD.format(fold=k)
            fold.mkdir()
            for split, indices in (("train", train), ("val", held_out)):
                np.save(fold / f"x_{split}.npy", x[indices])
                np.save(fold / f"y_{split}.npy", y[indices])
            made[FOLD.format(fold=k)] = {"train": len(train), "val": len(held_out)}
            write_json(
                fold / "metadata.json",
                {
                    **{key: value for key, value in metadata.items() if key != "checksums"},
                    "fold": {"k": k, "of": folds, "seed": seed, "images": made[FOLD.format(fold=k)]},
                },
            )
    print(f"{folds} folds of {len(y)} images: {', '.join(str(c['val']) for c in made.values())} held out")
    return made


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="configs/data/prepare.json: the seed")
    parser.add_argument("--folds", required=True, type=int)
    parser.add_argument("--data", required=True, help="prepare's folder")
    parser.add_argument("--out", required=True, help="folder for fold1 ... fold<K>")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)
    return run_stage(
        lambda: make_folds(args.data, args.folds, PrepareSettings.from_json(args.config).seed, Path(args.out)),
        args.log,
    )


if __name__ == "__main__":
    sys.exit(main())
