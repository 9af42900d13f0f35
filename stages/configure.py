"""Configure stage: validate params.yaml and write the config file of each stage and run.

    python -m stages.configure --params params.yaml \
        --schema workflow/schemas/params.schema.yaml --out-dir configs --dvc-yaml dvc.yaml

Writes configs/data/{download,prepare}.json, configs/{package,report}.json, configs/<run>.json,
configs/code/<stage>.json and configs/code/train/<architecture>.json (the fingerprint of the code
each stage runs, stages.lib.codedeps). A file is rewritten only when its content changes, so both
runners see a changed parameter as exactly one changed input: that run's train job, or the data
stage it belongs to. The Snakefile calls `write_configs` (stages.lib.configs) while it is parsed;
DVC runs this module as its first stage, and `--dvc-yaml` makes it refuse a
dvc.yaml generated for other runs (or another image folder) than params.yaml has.
"""

from __future__ import annotations

import argparse
import sys

from stages.lib.configs import write_configs
from stages.lib.joblog import run_stage
from stages.lib.params import SCHEMA, load_params


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--schema", default=str(SCHEMA))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--dvc-yaml", help="refuse to go on if this dvc.yaml is stale")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)

    def body():
        runs = write_configs(load_params(args.params, args.schema), args.out_dir, args.dvc_yaml)
        print(f"configured {len(runs)} runs: {', '.join(runs)}")

    return run_stage(body, args.log, code=2)


if __name__ == "__main__":
    sys.exit(main())
