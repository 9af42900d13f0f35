"""Shared fixtures: a throw-away copy of the project in which both runners can run."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What a fresh clone holds; results are made by the runners inside the copy.
PROJECT_FILES = ["stages", "workflow", "params.yaml", "dvc.yaml", "pyproject.toml", ".dvcignore", ".gitignore"]


def run(args, cwd, check=True, env_extra=None) -> subprocess.CompletedProcess:
    """Run a command with the test environment's tools first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env_extra or {})}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


def init_git(folder: Path) -> Path:
    """A git repository in `folder` with a committer's name and email (CI's machines have none)."""
    run(["git", "init", "-q"], folder)
    run(["git", "config", "user.email", "test@example.org"], folder)
    run(["git", "config", "user.name", "test"], folder)
    return folder


def make_project(dest: Path, edit_params=None) -> Path:
    """Copy the project to `dest`, apply `edit_params(dict)`, and init git and DVC there."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    if edit_params:
        set_params(dest, edit_params)
    init_git(dest)
    run(["dvc", "init", "-q"], dest)
    shutil.copy2(ROOT / ".dvc" / "config", dest / ".dvc" / "config")  # the offline plots template
    run(["python", "-m", "stages.dvcgen"], dest)
    return dest


def copy_project(source: Path, dest: Path) -> Path:
    """A copy of a project the runners have worked in, for a test that changes it: git, DVC's
    cache and records, Snakemake's records, and the files with their modification times."""
    shutil.copytree(source, dest, symlinks=True)
    return dest


def set_params(project: Path, edit) -> None:
    """Load params.yaml, let `edit` change the dict, write it back."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@contextlib.contextmanager
def edited_params(project: Path, edit):
    """params.yaml's text as `edit(text)` returns it (None: no params.yaml) inside the block;
    the original text again after it."""
    path = project / "params.yaml"
    good = path.read_text()
    changed = edit(good)
    assert changed != good, "the edit changed nothing"
    path.unlink() if changed is None else path.write_text(changed)
    try:
        yield
    finally:
        path.write_text(good)


# What runs the whole pipeline, per runner.
RUNNER_COMMANDS = {"snakemake": ["snakemake", "--cores", "1"], "dvc": ["dvc", "repro"]}


def tiny(params: dict) -> None:
    """Few epochs: the smoke runs test the plumbing, not the accuracy."""
    params["train"].update(epochs=3, patience=2, batch_size=64)


@pytest.fixture
def server(monkeypatch):
    """tests/test_datasets.py's Server on 127.0.0.1, with no proxy from the environment in the way."""
    from tests.test_datasets import Server, clear_proxies

    clear_proxies(monkeypatch)
    srv = Server()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "project", tiny)


def make_tiny_data(folder: Path, sizes=(("train", 90), ("val", 30), ("test", 30))) -> Path:
    """A prepared-data folder of 8x8 images of 3 classes: the class is the bright row block."""
    from stages.lib.files import sha256_file, write_json

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in sizes:
        y = np.arange(n) % 3
        x = rng.uniform(0, 0.3, size=(n, 8, 8, 1)).astype(np.float32)
        for i, label in enumerate(y):
            x[i, label * 2 : label * 2 + 2] += 0.7
        np.save(folder / f"x_{split}.npy", x)
        np.save(folder / f"y_{split}.npy", y.astype(np.int64))
    # Positions in one published set of all the images (a `train_first` run picks by them): the
    # training and validation images interleaved, the test images after them.
    pool = np.random.default_rng(1).permutation(sizes[0][1] + sizes[1][1])
    for split, index in (("train", pool[: sizes[0][1]]), ("val", pool[sizes[0][1] :])):
        np.save(folder / f"index_{split}.npy", np.sort(index))
    np.save(folder / "index_test.npy", len(pool) + np.arange(sizes[2][1]))
    # The keys prepare writes (stages/prepare.py).
    write_json(
        folder / "metadata.json",
        {
            "dataset": "tiny",
            "description": "8x8 test images of 3 classes",
            "class_names": ["a", "b", "c"],
            "image_shape": [8, 8, 1],
            "scaling": "none",
            "official_test_split": False,
            "sources": dict.fromkeys(("train", "val", "test"), "all"),
            "counts": {split: dict.fromkeys("abc", n // 3) for split, n in sizes},
            "settings": {"seed": 0, "val_fraction": 0.2, "test_fraction": 0.2},
            "checksums": {p.name: sha256_file(p) for p in sorted(folder.glob("*.npy"))},
        },
    )
    return folder


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return make_tiny_data(tmp_path_factory.mktemp("prepared"))


def run_config(architecture="cnn_intro", training=None, **model):
    """A resolved run config (RunSettings) as `configure` writes it, with short training."""
    from stages.lib.settings import RunSettings

    model = model or ({"padding": "same"} if architecture == "cnn_intro" else {})
    return RunSettings.from_dict(
        {
            "run": f"tiny_{architecture}",
            "architecture": architecture,
            "model": model,
            "seed": 1,
            "training": {
                "epochs": 3,
                "batch_size": 16,
                "optimizer": "adam",
                "learning_rate": 0.01,
                "patience": 2,
                **(training or {}),
            },
        }
    )
