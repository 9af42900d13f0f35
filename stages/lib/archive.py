"""A packaged model: its folder or .tar.gz, checked against SHA256SUMS, and its input contract.

The package stage writes it; predict classifies images with it and verify re-checks it.
"""

from __future__ import annotations

import contextlib
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from stages.lib.errors import InputError, PipelineError
from stages.lib.files import read_json, sha256_file
from stages.lib.splits import names_classes


class PackageError(PipelineError):
    """The package is missing, incomplete or does not match its manifest."""


def verify_package(folder: Path, label=None) -> None:
    """Every file listed in SHA256SUMS has its checksum, and every file is listed.

    Errors name `label` (the package as the user gave it), not the temporary folder
    an archive was extracted into.
    """
    label = label or folder
    manifest = folder / "SHA256SUMS"
    if not manifest.is_file():
        raise PackageError(f"{label}: no SHA256SUMS manifest; not a package")
    listed = {}
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise PackageError(f"{label}: SHA256SUMS is not a text file; not a package") from None
    for line in lines:
        digest, _, name = line.partition("  ")
        if not name:
            raise PackageError(f"{label}: SHA256SUMS has a line that is not '<sha256>  <file>'")
        listed[name] = digest
    # Snakemake marks a directory() output with .snakemake_timestamp after the stage wrote the manifest.
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {
        "SHA256SUMS",
        ".snakemake_timestamp",
    }
    if present - set(listed):
        raise PackageError(f"{label}: {sorted(present - set(listed))[0]} is not in SHA256SUMS")
    for name, digest in listed.items():
        if name not in present:
            raise PackageError(f"{label}: {name} is listed in SHA256SUMS but missing")
        if sha256_file(folder / name) != digest:
            raise PackageError(f"{label}: {name} does not match its SHA-256 in SHA256SUMS")


def open_package(path: Path, scratch: Path) -> Path:
    """The package folder: `path` itself, or the folder inside a .tar.gz extracted into `scratch`."""
    label, path = str(path), Path(path)  # errors name the package as the user typed it
    if path.is_dir():
        return path
    if not path.is_file():
        raise PackageError(f"{label}: no such package (a folder or a .tar.gz)")
    try:
        with tarfile.open(path, "r:gz") as tar:
            tar.extractall(scratch, filter="data")  # refuses links and paths outside `scratch`
    # A cut or damaged archive: EOFError (gzip stream ends early), zlib.error, BadGzipFile (an OSError).
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PackageError(f"{label}: not a readable package archive, truncated or damaged ({reason})") from None
    folders = [p for p in scratch.iterdir() if p.is_dir()]
    if len(folders) != 1:
        raise PackageError(f"{label}: expected one package folder in the archive")
    return folders[0]


@contextlib.contextmanager
def opened_package(path) -> Iterator[Path]:
    """The package folder (a .tar.gz extracted into a temporary folder), checked against SHA256SUMS."""
    with tempfile.TemporaryDirectory(prefix="package-") as scratch:
        folder = open_package(path, Path(scratch))
        verify_package(folder, str(path))
        yield folder


def package_json(folder: Path, name: str, label):
    """A JSON file of the package; errors name the package `label`, not the temporary folder."""
    if not (folder / name).is_file():
        raise PackageError(f"{label}: no {name}; not a complete package")
    try:
        return read_json(folder / name)
    except InputError:  # not JSON, or NaN/Infinity in it
        raise PackageError(f"{label}: {name} is not valid JSON") from None


def read_contract(folder: Path, label) -> tuple[list[int], list[str], str | None]:
    """The image shape [height, width, channels], the class names and the training images'
    background (dark, light or None): checked, since a package made elsewhere may hold anything
    that has its checksum."""
    contract = package_json(folder, "preprocessing.json", label)
    shape = contract.get("image_shape") if isinstance(contract, dict) else None
    if not (
        isinstance(shape, list)
        and len(shape) == 3
        and all(type(n) is int and n > 0 for n in shape)
        and shape[2] in (1, 3)
    ):
        raise PackageError(f"{label}: preprocessing.json has no image_shape [height, width, 1 or 3]")
    class_names = package_json(folder, "class_names.json", label)
    if not names_classes(class_names):
        raise PackageError(f"{label}: class_names.json must be a list of two or more distinct, non-empty class names")
    return shape, class_names, contract.get("background")


# How far an export's probabilities may be from the Keras model's (the package stage and verify check).
EXPORT_TOLERANCE = 1e-4
ONNX_MODEL = "model.onnx"


def export_difference(predicted, expected) -> tuple[float, bool]:
    """The largest absolute difference between an export's probabilities and the Keras model's, and
    whether it is within EXPORT_TOLERANCE (a NaN is not)."""
    import numpy as np

    difference = float(np.max(np.abs(np.asarray(predicted, dtype=np.float64) - np.asarray(expected, np.float64))))
    return difference, difference <= EXPORT_TOLERANCE


def onnx_session(path: Path, label):
    """An onnxruntime session of the ONNX model at `path`: imports in a fraction of a second, where
    Keras with TensorFlow takes about 4 (benchmarks/predict_latency.py)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings would mix with predict's CSV on a terminal
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - onnxruntime's own exception types are not exported
        raise PackageError(f"{label}: {path.name} does not load in onnxruntime") from None


def onnx_probabilities(session, x):
    """The class probabilities (an array) of the ONNX model for the images `x` (float32, batch first)."""
    return session.run(None, {session.get_inputs()[0].name: x})[0]
