"""Atomic file writes and checksums shared by the stages.

Every output is written to a temporary name in the same folder and renamed
into place, so a killed stage never leaves a file that a later run trusts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from stages.lib.errors import InputError, PipelineError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps `suffix` last: Keras insists on a ".keras" ending.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600 files
        try:
            os.replace(tmp, path)
        except OSError as err:  # a folder at `path`, say: name it, not the temporary file
            raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def dumps_json(obj) -> str:
    """The project's JSON: sorted keys, and no NaN or Infinity (a result that holds one is wrong)."""
    found = first_non_finite(obj)
    if found is not None:
        where = ".".join(map(str, found[0])) or "value"
        raise PipelineError(f"refusing to write a non-finite number: {where} = {found[1]}")
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def first_non_finite(obj, path=()) -> tuple[tuple, float] | None:
    """(key path, value) of the first NaN or infinity in nested dicts and lists, or None."""
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return (path, obj) if isinstance(obj, float) and not math.isfinite(obj) else None
    return next((found for key, item in items if (found := first_non_finite(item, (*path, key)))), None)


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, dumps_json(obj))


def has_text(path: str | os.PathLike, text: str) -> bool:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8") == text
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def write_text_if_changed(path: str | os.PathLike, text: str) -> bool:
    """Write only when the content differs, so mtimes move only on real changes."""
    if has_text(path, text):
        return False
    write_text(path, text)
    return True


def write_or_check(path: str | os.PathLike, text: str, check: bool, command: str) -> int:
    """The end of a command that generates `path` as `text` (an exit status): with `check`, 1 and
    one line naming it if it is stale; else rewrite it if it changed, and say which."""
    try:
        if check:
            if has_text(path, text):
                return 0
            print(f"error: {path} is stale; run `{command}`", file=sys.stderr)
            return 1
        print(f"{path}: {'rewritten' if write_text_if_changed(path, text) else 'unchanged'}")
    except OSError as err:  # a folder at `path`, no permission
        print(f"error: {path}: {err.strerror}", file=sys.stderr)
        return 1
    return 0


def write_json_if_changed(path: str | os.PathLike, obj) -> bool:
    return write_text_if_changed(path, dumps_json(obj))


def _refuse_constant(name: str):
    raise ValueError(f"non-finite number {name}")


def read_json(path: str | os.PathLike, shown: str | None = None):
    """Parse a JSON file; InputError in one line naming it (as `shown`, e.g. a file inside an
    archive the user gave) when it is missing, not JSON, or holds NaN or Infinity (Python's json
    reads those, and they would pass on as results)."""
    path = Path(path)
    shown = shown or str(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise InputError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{shown}: a folder, not a JSON file") from None
    except UnicodeDecodeError:
        raise InputError(f"{shown}: not a text file (not UTF-8)") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{shown}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    except ValueError as err:
        raise InputError(f"{shown}: {err}") from None


def check_replaceable(path: Path, marker: str) -> None:
    """Refuse, in one line, to replace `path` unless it is absent, empty, or holds `marker` (the file
    every output of its writer holds): a mistyped output folder must not delete what a stage did not
    write (`--out .`, `--out /`, `--out ~/photos`)."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        raise PipelineError(f"{path}: exists and is not a folder; give a folder path for this output")
    if Path.cwd().resolve().is_relative_to(path.resolve()):
        raise PipelineError(f"{path}: holds the current folder; refusing to replace it with this output")
    if any(path.iterdir()) and not (path / marker).is_file():
        raise PipelineError(
            f"{path}: not empty and holds no {marker}, so this stage did not write it; refusing to replace it"
        )


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, marker: str) -> Iterator[Path]:
    """Yield an empty temporary folder; it replaces `path` only on success, and only if `path` is
    absent, empty or an earlier output of the same writer (it holds `marker`: check_replaceable)."""
    path = Path(path)
    check_replaceable(path, marker)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PipelineError(f"{path}: cannot create the folder {path.parent} ({err.strerror})") from None
    # A killed writer leaves its temporary folder behind; one job writes `path` at a time, so clear them.
    stale = re.compile(rf"\.{re.escape(path.name)}\.\w{{8}}\.tmp")
    for leftover in path.parent.iterdir():
        if stale.fullmatch(leftover.name) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if not (tmp / marker).is_file():  # the next run must recognise this folder as its own
            raise AssertionError(f"atomic_dir: the writer of {path} did not write {marker}")
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700 folders
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
