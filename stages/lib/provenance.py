"""Provenance recorded next to every result: package versions, backend, devices, git revision."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import subprocess
from pathlib import Path

from stages.lib.codedeps import code_files

PACKAGES = ("keras", "numpy", "scikit-learn", "pandas", "snakemake", "dvc")
# Only the backend that ran is recorded: an installed but unused one (the test
# extra brings JAX) must not make the same result's metrics.json differ.
BACKEND_PACKAGES = {"tensorflow": ("tensorflow-cpu", "tensorflow"), "jax": ("jax", "jaxlib"), "torch": ("torch",)}


def package_versions() -> dict[str, str]:
    """Python's and the packages' versions, with those of the Keras backend in use."""
    import keras

    versions = {"python": platform.python_version()}
    for name in (*PACKAGES, *BACKEND_PACKAGES.get(keras.backend.backend(), ())):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):  # not installed: not listed
            versions[name] = importlib.metadata.version(name)
    return versions


def git_revision(*stages: str, architecture: str | None = None, root: str | Path = ".") -> dict:
    """The last commit that changed the code of `stages` (train's with `architecture`), and whether
    that code differs from it now.

    The commit that last changed the code, not HEAD: rerunning the same code
    at a later commit (a clone, `dvc repro --force`, a DVC experiment) then
    records the same revision, so metrics files reproduce byte for byte.
    Parameters are recorded separately, resolved. None outside git.
    """
    # Resolved: in a study `stages` is a link to the root's, and git does not follow links in paths
    # (`git log -- stages/train.py` there finds no commit).
    files = {path for stage in stages for path in code_files(stage, architecture if stage == "train" else None)}
    paths = sorted({str(Path(root, path).resolve()) for path in files})

    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        revision = git("log", "-1", "--format=%H", "--", *paths) or None
        dirty = bool(git("status", "--porcelain", "--", *paths))
    except (OSError, subprocess.CalledProcessError):
        return {"revision": None, "dirty": None}
    return {"revision": revision, "dirty": dirty}


def backend_devices() -> dict:
    """The Keras backend and the devices it can see."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        devices = [d.name for d in tf.config.list_logical_devices()]
    elif backend == "jax":
        import jax

        devices = [str(d) for d in jax.devices()]
    elif backend == "torch":
        import torch

        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    else:
        devices = []
    return {"backend": backend, "devices": devices}
