"""Snakemake's view of a change inside a folder input.

Snakemake judges a folder by its own modification time (or that of the `.snakemake_timestamp`
it leaves in a folder a rule made), which changes when an entry is added or removed at its
top, not when an image three levels down is edited, added or replaced. DVC hashes folders,
so it sees every change. To make Snakemake see them too, every rule that reads a folder also
reads the folder's stamp, a small file under .snakemake/stamps/: a digest of the path, size and
modification time of everything inside the folder. When the digest changes, the stamp is
rewritten, and its modification time says when the folder changed:

- the newest modification time inside the folder, when that is newer than the stamp was (a
  job, or DVC, wrote the folder anew: the jobs downstream ran after it, and stay current);
- now, when nothing inside is newer (a file copied in or over with an older time, `cp -p`,
  `rsync -a`, an unpacked archive; a file deleted or renamed): the jobs that read the folder
  are older than the change.

An unchanged folder costs one `lstat` per entry and no write, and a project copied with its
times (`cp -a`) keeps its stamps and stays current. The stamp's content is the digest, so
Snakemake's input checksums (which excuse a newer input whose content was seen before) cannot
excuse a change.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

STAMPS = Path(".snakemake") / "stamps"
# Snakemake's own mark in a folder it made: touched after the folder's files, it is not a change.
NOT_CONTENT = {".snakemake_timestamp"}


def folder_state(folder) -> tuple[str, int, int] | None:
    """(digest of every entry's relative path, size and mtime; number of entries; newest mtime in ns
    of the folder and everything inside) of `folder` (links inside not followed), or None when it
    does not exist."""
    try:
        top = os.stat(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISDIR(top.st_mode):
        return f"{top.st_size} {top.st_mtime_ns}", 1, top.st_mtime_ns
    root = os.fspath(folder)
    cut = len(os.path.join(root, ""))  # entry.path[cut:] is the path relative to the folder
    entries, newest, pending = [], top.st_mtime_ns, [root]
    while pending:
        with os.scandir(pending.pop()) as found:
            for entry in found:
                if entry.name in NOT_CONTENT:
                    continue
                info = entry.stat(follow_symlinks=False)
                newest = max(newest, info.st_mtime_ns)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(entry.path)
                    entries.append(f"{entry.path[cut:]}/")
                else:
                    entries.append(f"{entry.path[cut:]}\0{info.st_size}\0{info.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(sorted(entries)).encode("utf-8", "surrogateescape")).hexdigest()
    return digest, len(entries), newest


def stamp_path(folder, stamps=STAMPS) -> Path:
    """Where `folder`'s stamp lives: its relative path under `stamps`, or for a folder outside
    the project (absolute, or reached through ..) its absolute path under `stamps`/outside."""
    path = Path(folder)
    if path.is_absolute() or ".." in path.parts:
        path = Path("outside", *Path(os.path.abspath(path)).parts[1:])
    return Path(stamps) / f"{path}.stamp"


def stamp(folder, stamps=STAMPS) -> str:
    """`folder`'s stamp, brought up to date (see the module's docstring); a folder that does not
    exist yet has a stamp from 1970, which never makes a job look out of date."""
    path = stamp_path(folder, stamps)
    state = folder_state(folder)
    content = f"{state[0]} {state[1]}\n" if state else "missing\n"
    try:
        if path.read_text(encoding="utf-8") == content:
            return str(path)
        stamped = path.stat().st_mtime_ns
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
        stamped = -1
    when = 0 if state is None else state[2] if state[2] > stamped else time.time_ns()
    # Atomic: SLURM jobs parse the workflow too, and may refresh the same stamp at once.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(content, encoding="utf-8")
    os.utime(tmp, ns=(when, when))
    os.replace(tmp, path)
    return str(path)
