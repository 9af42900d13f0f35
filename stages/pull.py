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

from stages.lib.errors import PipelineError


class PullError(PipelineError):
    """The pull failed, or what it restored does not match dvc.lock."""


def _run(args: list[str], capture: bool = False) -> str:
    result = subprocess.run(args, capture_output=capture, text=True)
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] if capture else []
        raise PullError(f"`{' '.join(args)}` failed (exit {result.returncode})" + (f": {detail[0]}" if detail else ""))
    return result.stdout


def pull(remote: str | None = None) -> None:
    """`dvc pull`, check `dvc status`, then `snakemake --touch`, for this folder's dvc.yaml."""
    # This folder's dvc.yaml: without a target DVC takes every dvc.yaml of the repository, and a
    # study's results need not be on the remote.
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
