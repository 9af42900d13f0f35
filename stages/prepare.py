"""Prepare stage: parse the raw files, scale to [0, 1], split train/val/test.

    python -m stages.prepare --config configs/data/prepare.json --raw data/raw \
        --out data/prepared --samples reports/data/samples.png \
        --balance reports/data/class_balance.csv

A dataset with an official test split (MNIST, CIFAR, an image folder published
as train/ and test/) keeps it, and validation is its val/ folder where it has one,
else split from its training images; one without (digits, image folders of class
folders) is split three ways.
Both splits are stratified by class and seeded. The training split may be
subsampled (stratified) to `train_subsample` images, and every image may be
resized and converted (`image_size`, `color_mode`; required for folders).

Writes x_{train,val,test}.npy (float32 in [0, 1], N x H x W x C) and y_*.npy
(int64), which training memory-maps; index_*.npy (int64), each image's position in
the published split it came from (metadata's `sources`: train, test, val or all);
and metadata.json: class names, image shape, counts per class per split, skipped
files, and the checksums of the raw and prepared files. Beside them for people: a grid of sample images with their
labels and a class-balance table.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from pathlib import Path

import numpy as np

from stages.lib.datasets import PARSERS, DataError, convert_image
from stages.lib.figures import pyplot, save_png
from stages.lib.files import atomic_dir, read_json, sha256_file, write_json, write_text
from stages.lib.joblog import run_stage
from stages.lib.settings import PrepareSettings
from stages.lib.splits import SPLITS, load_split, names_classes

WORDS = {"train": "training", "val": "validation", "test": "test"}


def split_stratified(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int, class_names=None):
    """Return index arrays (train, val, test), stratified by label and seeded."""
    if val_fraction + test_fraction >= 1:
        raise DataError(f"split.val_fraction {val_fraction} + split.test_fraction {test_fraction} must be below 1")
    index = np.arange(len(labels))
    rest, test = _split(index, labels, test_fraction, seed, "test_fraction", class_names)
    val_share = val_fraction / (1 - test_fraction)
    # Of the images left after the test split: errors name the user's val_fraction, not val_share.
    train, val = _split(
        rest,
        labels[rest],
        val_share,
        seed,
        "val_fraction",
        class_names,
        shown=val_fraction,
        total=len(index),
        pool=" outside the test split",
    )
    return np.sort(train), np.sort(val), np.sort(test)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _split(index, labels, fraction, seed, name, class_names=None, shown=None, total=None, pool=""):
    """train_test_split by class, checked first against sklearn's rules so that a failure names
    the class and the user's setting (`shown`: the value as written; `total`: the images it is
    a fraction of)."""
    shown, total = fraction if shown is None else shown, len(index) if total is None else total
    key = f"split.{name} {shown}"
    part = "test" if name == "test_fraction" else "validation"
    rest = "training and validation" if name == "test_fraction" else "training"
    classes, counts = np.unique(labels, return_counts=True)
    for label, count in zip(classes, counts, strict=True):
        if count < 2:  # the least populated class needs one image on each side
            class_name = class_names[label] if class_names is not None else str(label)
            raise DataError(
                f"class {class_name!r} has {_plural(int(count), 'image')}{pool}; "
                f"{key} by class needs at least 2 per class"
            )
    n_part = math.ceil(fraction * len(index))  # as sklearn counts them
    if n_part < len(classes):
        raise DataError(
            f"{key} of {_plural(total, 'image')} gives {_plural(n_part, part + ' image')}, "
            f"fewer than the {len(classes)} classes"
        )
    if len(index) - n_part < len(classes):
        raise DataError(
            f"{key} of {_plural(total, 'image')} leaves "
            f"{_plural(len(index) - n_part, rest + ' image')}, fewer than the {len(classes)} classes"
        )
    from sklearn.model_selection import train_test_split  # imported when used: --help stays quick

    try:
        return train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as err:  # a rule not checked above
        raise DataError(f"cannot split off {key} by class from {_plural(total, 'image')}: {err}") from None


def subsample(index: np.ndarray, labels: np.ndarray, size: int, seed: int, class_names=None) -> np.ndarray:
    """A stratified, seeded subset of `size` entries of `index` (all of them if as many)."""
    if size > len(index):  # keeping all of them would look like the subsample asked for
        raise DataError(
            f"data.train_subsample {size:,} is more than the {_plural(len(index), 'training image')}; "
            "lower it, or remove it to train on all of them"
        )
    if size == len(index):
        return index
    present, counts = np.unique(labels[index], return_counts=True)
    if counts.min() < 2:  # sklearn cannot stratify a class of one
        label = present[np.argmin(counts)]
        class_name = class_names[label] if class_names is not None else str(label)
        raise DataError(
            f"data.train_subsample {size}: class {class_name!r} has 1 training image; "
            "a stratified subsample needs at least 2 per class"
        )
    surplus = len(index) - size
    if surplus < len(present):
        # sklearn wants at least one left-out image per class: drop one (seeded) from each of
        # the `surplus` largest classes instead, which keeps the class shares as close.
        rng = np.random.default_rng(seed)
        largest = present[np.argsort(-counts, kind="stable")[:surplus]]
        dropped = [rng.choice(index[labels[index] == label]) for label in largest]
        return np.setdiff1d(index, dropped)
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(index, train_size=size, stratify=labels[index], random_state=seed)
    return np.sort(kept)


def split_indices(
    labels: dict[str, np.ndarray], config: PrepareSettings, class_names
) -> dict[str, tuple[str, np.ndarray]]:
    """Where train, val and test come from: split -> (the parsed split, indices into it).

    `labels` holds the parsed splits' labels: "all" (split three ways), or "train" and
    "test" (validation comes from training), or "train", "val" and "test" (all kept).
    The training split is then subsampled to `train_subsample` images if set.
    """
    seed = config.seed
    if "val" in labels:  # a folder published with train/, val/ and test/
        plan = {split: (split, np.arange(len(labels[split]))) for split in SPLITS}
    elif "test" in labels:  # keep the official test split
        train, val = _split(
            np.arange(len(labels["train"])),
            labels["train"],
            config.val_fraction,
            seed,
            "val_fraction",
            class_names,
            pool=" for training",
        )
        plan = {
            "train": ("train", np.sort(train)),
            "val": ("train", np.sort(val)),
            "test": ("test", np.arange(len(labels["test"]))),
        }
    else:
        index = split_stratified(labels["all"], config.val_fraction, config.test_fraction, seed, class_names)
        plan = {split: ("all", idx) for split, idx in zip(SPLITS, index, strict=True)}
    size = config.train_subsample
    if size:
        if size < len(class_names):  # a stratified subsample keeps every class
            raise DataError(
                f"data.train_subsample {size} is fewer than the "
                f"{len(class_names)} classes; keep at least one image per class"
            )
        source, index = plan["train"]
        plan["train"] = (source, subsample(index, labels[source], size, seed, class_names))
    check_every_class_in_every_split(plan, labels, class_names, config)
    return plan


def check_every_class_in_every_split(plan: dict, labels: dict, class_names, config: PrepareSettings) -> None:
    """Refuse a class that a split lacks: a class never validated or never tested would be reported
    with an F1 of 0 (or as a weakest class) that no test image measured."""
    counts = {
        split: np.bincount(labels[source][index], minlength=len(class_names)) for split, (source, index) in plan.items()
    }
    for label, name in enumerate(class_names):
        if all(counts[split][label] for split in SPLITS):
            continue
        held = ", ".join(f"{counts[split][label]:,} {WORDS[split]}" for split in SPLITS)
        total = sum(int(counts[split][label]) for split in SPLITS)
        fractions = [f"split.val_fraction {config.val_fraction}"]
        smallest = config.val_fraction
        if plan["test"][0] == "all":  # the test split is cut from the same images
            fractions.append(f"split.test_fraction {config.test_fraction}")
            smallest = min(smallest, config.test_fraction)
        raise DataError(
            f"class {name!r} has {_plural(total, 'image')} ({held}); every split needs at least one image "
            f"of every class: with {' and '.join(fractions)} give it about {math.ceil(1 / smallest)} or more, "
            "or remove the class"
        )


def check_raw(raw_dir: Path) -> dict:
    """Read the download manifest and check that every raw file is still what was fetched."""
    path = raw_dir / "manifest.json"
    manifest = read_json(path)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("contents"), dict):
        raise DataError(f"{path}: no contents; not a manifest the download stage wrote")
    if manifest.get("format") not in PARSERS:
        raise DataError(f"{path}: format {manifest.get('format')!r} is none of {', '.join(PARSERS)}")
    for name, expected in manifest["contents"].items():
        path = raw_dir / name
        if not path.is_file():
            raise DataError(f"{path}: missing (download it again)")
        if sha256_file(path) != expected:
            raise DataError(f"{path}: changed since it was downloaded (SHA-256 differs from manifest.json)")
    return manifest


def prepare(raw_dir, out_dir, config: PrepareSettings, samples_png=None, balance_csv=None) -> dict:
    """Split, convert and scale the raw dataset into `out_dir`; return its metadata."""
    raw_dir = Path(raw_dir)
    manifest = check_raw(raw_dir)
    parse = PARSERS[manifest["format"]]
    if manifest["format"] == "image_folder":
        parsed = parse(
            raw_dir, manifest, config.image_size, config.color_mode, config.skip_unreadable, config.max_image_pixels
        )
    else:
        parsed = parse(raw_dir, manifest)
    names = parsed.class_names
    num_classes = len(names)
    if not names_classes(list(names)):
        raise DataError(f"{manifest['dataset']}: class names must be two or more distinct names, not {names}")
    for split, (_, y) in parsed.splits.items():
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise DataError(f"{manifest['dataset']} {split}: labels outside 0..{num_classes - 1}")
    present = set().union(*(np.unique(y).tolist() for _, y in parsed.splits.values()))
    empty = [name for label, name in enumerate(names) if label not in present]
    if empty:  # the model would have an output that nothing trains, and a class too many in every report
        more = f" (and of {len(empty) - 1} more)" if len(empty) > 1 else ""
        raise DataError(f"{manifest['dataset']}: no images of class {empty[0]!r}{more}")

    if "val" in parsed.splits:
        print("validation: the folder's val/ images (split.val_fraction is not used)", flush=True)
    plan = split_indices({name: y for name, (_, y) in parsed.splits.items()}, config, parsed.class_names)
    arrays = {split: (*parsed.splits[source], index) for split, (source, index) in plan.items()}
    sources = {split: source for split, (source, _) in plan.items()}

    metadata = {
        "dataset": manifest["dataset"],
        "description": manifest["description"],
        "class_names": list(parsed.class_names),
        "scaling": f"pixel / {parsed.max_value}",
        "official_test_split": "test" in parsed.splits,
        "settings": config.to_dict(),
        "raw_checksums": manifest["contents"],
        "skipped_unreadable": parsed.skipped,
        "ignored_non_images": manifest.get("ignored", []),
        "counts": {},
        "sources": sources,
        "checksums": {},
    }
    with atomic_dir(out_dir, "metadata.json") as tmp:
        for split, (images, labels, idx) in arrays.items():
            write_split(tmp, split, images[idx], labels[idx], parsed, config, metadata)
            # Where each image came from: its position in the published split `sources` names
            # (a run's `train_first` picks the first images of the training pool by it).
            np.save(tmp / f"index_{split}.npy", idx.astype(np.int64))
            metadata["checksums"][f"index_{split}.npy"] = sha256_file(tmp / f"index_{split}.npy")
            print(f"{split}: {len(idx):,} images of {tuple(metadata['image_shape'])}", flush=True)
        if parsed.skipped:
            print(f"skipped {len(parsed.skipped)} unreadable image(s): {', '.join(parsed.skipped)}", flush=True)
        write_json(tmp / "metadata.json", metadata)
        if balance_csv:
            write_text(balance_csv, balance_table(metadata))
        if samples_png:
            plot_samples(tmp, metadata, samples_png)
    return metadata


def write_split(
    folder: Path, split: str, x: np.ndarray, y: np.ndarray, parsed, config: PrepareSettings, metadata: dict
) -> None:
    """Convert and scale one split's images, save x_/y_<split>.npy, record shape, counts and checksums."""
    size, mode = config.image_size, config.color_mode
    if size or mode:  # folders were converted while decoding; arrays are converted here
        x = np.stack([convert_image(image, size, mode) for image in x]) if len(x) else x
    x = x.astype(np.float32) / np.float32(parsed.max_value)
    y = y.astype(np.int64)
    np.save(folder / f"x_{split}.npy", x)
    np.save(folder / f"y_{split}.npy", y)
    metadata["image_shape"] = list(x.shape[1:])
    counts = np.bincount(y, minlength=len(parsed.class_names))
    metadata["counts"][split] = {name: int(c) for name, c in zip(parsed.class_names, counts, strict=True)}
    for name in (f"x_{split}.npy", f"y_{split}.npy"):
        metadata["checksums"][name] = sha256_file(folder / name)


def balance_table(metadata: dict) -> str:
    """CSV of images per class per split, with a total column and row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", *SPLITS, "total"])
    for name in metadata["class_names"]:
        counts = [metadata["counts"][split][name] for split in SPLITS]
        writer.writerow([name, *counts, sum(counts)])
    totals = [sum(metadata["counts"][split].values()) for split in SPLITS]
    writer.writerow(["total", *totals, sum(totals)])
    return out.getvalue()


def plot_samples(data_dir: Path, metadata: dict, path, per_class: int = 8, max_classes: int = 10) -> None:
    """A grid of training images: one row per class (the first `max_classes`), labelled."""
    plt = pyplot()
    x, y = load_split(data_dir, "train")
    classes = metadata["class_names"][:max_classes]
    fig, axes = plt.subplots(
        len(classes), per_class, squeeze=False, figsize=(per_class * 0.9 + 1.6, len(classes) * 0.9 + 0.4)
    )
    for row, name in enumerate(classes):
        picks = np.flatnonzero(y == row)[:per_class]
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(picks):
                image = x[picks[col]]
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        axes[row][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"{metadata['dataset']}: training images by class", fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="prepare config (configs/data/prepare.json)")
    parser.add_argument("--raw", required=True, help="folder written by the download stage")
    parser.add_argument("--out", required=True, help="folder for the prepared arrays")
    parser.add_argument("--samples", help="PNG grid of sample images")
    parser.add_argument("--balance", help="CSV of images per class per split")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)
    return run_stage(
        lambda: prepare(args.raw, args.out, PrepareSettings.from_json(args.config), args.samples, args.balance),
        args.log,
    )


if __name__ == "__main__":
    sys.exit(main())
