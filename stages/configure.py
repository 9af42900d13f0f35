"""Configure stage: validate params.yaml and write one config file per run.

    python -m stages.configure --params params.yaml \
        --schema workflow/schemas/params.schema.yaml --out-dir configs \
        --expect-runs softmax mlp cnn_intro

A file is rewritten only when its content changes, so both runners see a
changed parameter as exactly one changed input: that run's train job. The
Snakefile calls `write_run_configs` while it is parsed; DVC runs this module
as its first stage. `--expect-runs` is the run list dvc.yaml was generated
for: a different list in params.yaml means dvc.yaml is stale.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stages.config import SCHEMA, ParamsError, load_params, resolve_runs
from stages.files import write_json_if_changed


def write_run_configs(params: dict, out_dir, expect_runs=None) -> dict[str, Path]:
    """Write configs/<run>.json for each run of validated `params`; return run -> path."""
    runs = resolve_runs(params)
    if expect_runs is not None and list(expect_runs) != list(runs):
        raise ParamsError(
            f"the runs of params.yaml {list(runs)} differ from those of dvc.yaml {list(expect_runs)}; "
            "regenerate dvc.yaml with `python -m stages.dvcgen`"
        )
    paths = {}
    for name, config in runs.items():
        paths[name] = Path(out_dir) / f"{name}.json"
        write_json_if_changed(paths[name], config)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--schema", default=str(SCHEMA))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--expect-runs", nargs="+", help="run names dvc.yaml was generated for")
    args = parser.parse_args(argv)
    try:
        paths = write_run_configs(load_params(args.params, args.schema), args.out_dir, args.expect_runs)
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"configured {len(paths)} runs: {', '.join(paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
