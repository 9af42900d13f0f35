"""Folder stamps: what makes Snakemake see a change inside a folder input (stages/lib/stamps.py)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from stages.lib.stamps import stamp, stamp_path

HOUR = 3600 * 10**9


def make_folder(root):
    for name in ("cat/a.png", "cat/deep/b.png", "dog/c.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())
    old = time.time_ns() - 2 * HOUR  # as if written two hours ago, before the jobs that read it
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, ns=(old, old))
    os.utime(root, ns=(old, old))
    return old


def stamp_time(tmp_path, folder):
    path = stamp(folder, tmp_path / "stamps")
    return os.stat(path).st_mtime_ns


def test_an_unchanged_folder_keeps_its_stamp_untouched(tmp_path):
    written = make_folder(tmp_path / "images")
    first = stamp_time(tmp_path, tmp_path / "images")
    assert first == written  # the newest time inside: jobs that ran since stay current
    os.utime(stamp_path(tmp_path / "images", tmp_path / "stamps"), ns=(first + 5, first + 5))
    assert stamp_time(tmp_path, tmp_path / "images") == first + 5  # not rewritten


def test_an_edit_deep_inside_moves_the_stamp_to_its_time(tmp_path):
    make_folder(tmp_path / "images")
    before = stamp_time(tmp_path, tmp_path / "images")
    (tmp_path / "images" / "cat" / "deep" / "b.png").write_bytes(b"edited")
    after = stamp_time(tmp_path, tmp_path / "images")
    assert after == (tmp_path / "images" / "cat" / "deep" / "b.png").stat().st_mtime_ns > before


def test_a_change_that_carries_an_old_time_stamps_now(tmp_path):
    """A file copied over with its old time, a file added with an old time, a file deleted, a file
    renamed: nothing inside is newer, and yet the folder changed."""
    written = make_folder(tmp_path / "images")
    changes = [
        lambda f: ((f / "cat/a.png").write_bytes(b"other bytes"), os.utime(f / "cat/a.png", ns=(written, written))),
        lambda f: ((f / "dog/d.png").write_bytes(b"new"), os.utime(f / "dog/d.png", ns=(written, written))),
        lambda f: (f / "dog/c.png").unlink(),
        lambda f: (f / "cat/deep/b.png").rename(f / "cat/deep/e.png"),
    ]
    for change in changes:
        stamp_time(tmp_path, tmp_path / "images")
        started = time.time_ns()
        change(tmp_path / "images")
        for path in [tmp_path / "images", *(tmp_path / "images").rglob("*")]:  # no newer time anywhere
            if path.is_dir():
                os.utime(path, ns=(written, written))
        assert stamp_time(tmp_path, tmp_path / "images") >= started


def test_a_project_copied_with_its_times_keeps_its_stamps(tmp_path, monkeypatch):
    make_folder(tmp_path / "a" / "images")
    monkeypatch.chdir(tmp_path / "a")
    kept = os.stat(stamp("images", "stamps")).st_mtime_ns
    shutil.copytree(tmp_path / "a", tmp_path / "b", symlinks=True)  # cp -a: the times travel with the files
    monkeypatch.chdir(tmp_path / "b")
    path = stamp("images", "stamps")
    assert os.stat(path).st_mtime_ns == kept
    assert Path(path).read_text() == (tmp_path / "a" / path).read_text()


def test_a_folder_not_made_yet_has_a_stamp_from_1970(tmp_path):
    assert os.stat(stamp(tmp_path / "later", tmp_path / "stamps")).st_mtime_ns == 0
    assert Path(stamp_path(tmp_path / "later", tmp_path / "stamps")).read_text() == "missing\n"


def test_stamps_live_under_the_stamps_folder_for_folders_inside_and_outside(tmp_path):
    assert stamp_path("data/raw", ".snakemake/stamps").as_posix() == ".snakemake/stamps/data/raw.stamp"
    assert stamp_path("/srv/images", "s").as_posix() == "s/outside/srv/images.stamp"
    assert stamp_path("../images", "s").as_posix().startswith("s/outside/")
