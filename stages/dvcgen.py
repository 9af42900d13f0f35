"""Generate dvc.yaml: the same stages as workflow/rules/*.smk, for `dvc repro`.

    python -m stages.dvcgen            # rewrites dvc.yaml for the runs in params.yaml

Needed after adding, removing or renaming a run, or changing its architecture (the Snakefile
does it too when it is parsed); the pipeline itself is described in stages/lib/dvc_yaml.py.
"""

from __future__ import annotations

import argparse
import sys

from stages.lib.dvc_yaml import render
from stages.lib.files import write_or_check
from stages.lib.params import ParamsError, load_params


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="dvc.yaml")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is stale, write nothing")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return write_or_check(args.out, render(params), args.check, "python -m stages.dvcgen")


if __name__ == "__main__":
    sys.exit(main())
