"""Pull: fetch the results from the DVC remote, then make Snakemake agree with DVC.

    python -m stages.pull                  # the default remote (.dvc/config)
    python -m stages.pull --remote shared  # another one

`dvc pull` restores data, models and reports exactly as dvc.lock records them
(DVC checks their checksums), but with new modification times, and a fresh
clone has no Snakemake records: `snakemake -n` would rerun everything. So when,
and only when, `dvc status` is clean afterwards (every stage's dependencies and
outputs match dvc.lock), this runs `snakemake --touch`, which marks the outputs
up to date and writes Snakemake's records, with checksums (the default
profile's max-checksum-file-size), so that later pulls and `dvc commit`s are
judged by content. Also right after `git checkout <rev>`: it checks out that
revision's files. Exits 1, touching nothing, when the pull fails or a stage is
not up to date.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from stages.lib.errors import PipelineError


class PullError(PipelineError):
    """The pull failed, or what it restored does not match dvc.lock."""


def _run(args: list[str], capture: bool = False) -> str:
    result = subprocess.run(args, capture_output=capture, text=True)
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] if capture else []
        raise PullError(f"`{' '.join(args)}` failed (exit {result.returncode})" + (f": {detail[0]}" if detail else ""))
    return result.stdout


def remote_problem(remote: str | None) -> str | None:
    """Why the DVC remote cannot be reached from here, where that can be told without DVC's
    own long error: no remote configured, or a folder remote (the default one sits beside
    the repository it was made for) that does not exist in this clone."""
    from dvc.repo import Repo

    with Repo(".") as repo:
        name = remote or repo.config["core"].get("remote")
        url = repo.config["remote"].get(name, {}).get("url") if name else None
    setup = f"point it at the shared copy: dvc remote modify --local {name} url /path/to/imgclf-dvc-storage"
    if not name:
        return "this project has no default DVC remote: add one (dvc remote add -d storage /path/to/storage)"
    if url is None:
        return f"this project has no DVC remote named {name} (dvc remote list names those it has)"
    if "://" not in url and not Path(url).is_dir():
        return (
            f"the DVC remote {name} is the folder {url}, which does not exist on this machine: {setup} "
            "(docs/sharing.md), or rerun the pipeline instead"
        )
    return None


def pull(remote: str | None = None) -> None:
    """`dvc pull`, check `dvc status`, then `snakemake --touch`, for this folder's dvc.yaml."""
    if problem := remote_problem(remote):
        raise PullError(problem)  # one line, before DVC's list of every file it could not fetch
    # This folder's dvc.yaml: the project's own stages (a study is a DVC project of its own).
    _run(["dvc", "pull", *(["--remote", remote] if remote else []), "dvc.yaml"])
    changed = json.loads(_run(["dvc", "status", "--json", "dvc.yaml"], capture=True) or "{}")
    if changed:
        raise PullError(
            f"dvc status is not clean after the pull ({', '.join(sorted(changed))}): these results "
            "are not the committed ones; run the pipeline instead of marking them up to date"
        )
    # --forceall: every job, also those whose outputs already look newer than their
    # inputs (download), so that every output gets a record.
    _run(["snakemake", "--touch", "--forceall", "--cores", "1", "--quiet", "all"])
    print("pulled: dvc status is clean and Snakemake's records now agree (snakemake -n has nothing to do)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remote", help="DVC remote to pull from (default: core.remote in .dvc/config)")
    args = parser.parse_args(argv)
    try:
        pull(args.remote)
    except PullError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
