"""One runner at a time in a folder: Snakemake takes DVC's own lock on the outputs of dvc.yaml.

`dvc repro` holds the repository's lock (.dvc/tmp/lock) while it decides what to
run, and while a stage's command runs it lists the stage's dependencies and outputs
with its process id in .dvc/tmp/rwlock; another DVC command that would read or
write those paths is refused before it deletes or writes anything. Snakemake's
run (its `onstart:` in workflow/rules/common.smk) joins that scheme: it takes the
repository's lock for a moment, is refused if DVC is running here, and lists
every output of the folder's dvc.yaml as written by the Snakemake process until
the run ends. So `dvc repro` started during a Snakemake run is refused by DVC
("... is busy, it is being blocked by: (PID n): snakemake ..."), a Snakemake run
started during `dvc repro` is refused here in one line, and the jobs of one
Snakemake run, local or submitted to SLURM, never block each other. A killed
runner leaves no lock: DVC drops entries of processes that no longer exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from stages.lib.errors import PipelineError


class RunnerBusy(PipelineError):
    """Another runner (a DVC command) is working in this folder."""


@contextlib.contextmanager
def claim_outputs(dvcfile: str | os.PathLike = "dvc.yaml", cmd: str | None = None) -> Iterator[None]:
    """Hold DVC's write lock on every output of `dvcfile`'s stages inside the block; RunnerBusy
    naming the DVC process if one is running here. Nothing to claim outside a DVC repository."""
    from dvc.dvcfile import load_file
    from dvc.exceptions import NotDvcRepoError
    from dvc.lock import LockError
    from dvc.repo import Repo
    from dvc.rwlock import rwlock

    path = Path(dvcfile).resolve()
    if not path.is_file():
        yield
        return
    try:
        repo = Repo(str(path.parent))
    except NotDvcRepoError:
        yield
        return
    cmd = cmd or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    with repo, contextlib.ExitStack() as held:
        try:
            with repo.lock:  # DVC holds it between its stages' commands
                outputs = [out.fs_path for stage in load_file(repo, str(path)).stages.values() for out in stage.outs]
                hardlink = repo.config["core"].get("hardlink_lock", False)
                held.enter_context(rwlock(repo.tmp_dir, repo.fs, cmd, [], top_folders(outputs, path.parent), hardlink))
        except LockError:
            raise RunnerBusy(f"{dvc_holder(repo.tmp_dir)} is running in {path.parent}: wait for it to end") from None
        yield


def top_folders(paths: list[str], folder: Path) -> list[str]:
    """The entries of `folder` that hold `paths` (configs, data, models, reports): DVC names a
    blocker once per entry that overlaps what it would touch, so few entries make a short refusal."""
    tops = set()
    for path in paths:
        parts = Path(os.path.relpath(path, folder)).parts
        tops.add(path if parts[0] == ".." else str(folder / parts[0]))
    return sorted(tops)


def dvc_holder(tmp_dir: str) -> str:
    """The DVC command that holds the repository's lock or a path in its rwlock, as 'dvc repro (pid n)'."""
    pids = []
    with contextlib.suppress(OSError, ValueError):
        lock = json.loads(Path(tmp_dir, "rwlock").read_text())
        infos = [*lock.get("write", {}).values(), *(info for infos in lock.get("read", {}).values() for info in infos)]
        pids += [info["pid"] for info in infos]
    with contextlib.suppress(OSError, ValueError, IndexError):
        pids.append(int(Path(tmp_dir, "lock").read_text().split()[0]))  # zc.lockfile writes the pid
    for pid in [pid for pid in dict.fromkeys(pids) if pid != os.getpid()]:
        with contextlib.suppress(OSError, IndexError):
            words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]  # Linux
            if len(words) > 1 and Path(words[0]).name.startswith("python"):  # python .venv/bin/dvc repro
                words = words[2:] if words[1] == "-m" else words[1:]
            return f"{' '.join([Path(words[0]).name, *words[1:]])} (pid {pid})"
    return "a DVC command"
