"""Provenance recorded next to every result: package versions, backend, devices, git revision."""
from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

PACKAGES = ("keras", "tensorflow-cpu", "tensorflow", "jax", "torch", "numpy", "scikit-learn",
            "pandas", "snakemake", "dvc")
# Files whose uncommitted changes make a result's git revision an incomplete description.
CODE_PATHS = ("stages", "workflow", "params.yaml", "pyproject.toml", "uv.lock", "dvc.yaml")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def git_revision(root: str | Path = ".") -> dict:
    """The commit of the working tree and whether its code differs from it (None outside git)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        revision = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", *CODE_PATHS))
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
