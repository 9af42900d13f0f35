"""Configure stage: validate params.yaml and write the config file of each stage and run.

    python -m stages.configure --params params.yaml \
        --schema workflow/schemas/params.schema.yaml --out-dir configs --dvc-yaml dvc.yaml

Writes configs/data/{download,prepare}.json, configs/{package,report}.json, configs/<run>.json and
configs/code/<stage>.json (the checksums of the code each stage runs). A file is
rewritten only when its content changes, so both runners see a changed
parameter as exactly one changed input: that run's train job, or the data
stage it belongs to. The Snakefile calls `write_configs` while it is parsed;
DVC runs this module as its first stage, and `--dvc-yaml` makes it refuse a
dvc.yaml generated for other runs (or another image folder) than params.yaml has.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stages.dvcgen import is_current
from stages.lib.codedeps import fingerprints
from stages.lib.files import write_json_if_changed
from stages.lib.joblog import run_stage
from stages.lib.layout import CODE_FILES, CODE_STAGES, CONFIG_FILES
from stages.lib.params import (
    SCHEMA,
    ParamsError,
    load_params,
    resolve_data,
    resolve_package,
    resolve_report,
    resolve_runs,
)


def write_configs(params: dict, out_dir, dvc_yaml=None) -> dict[str, Path]:
    """Write the data stages' and each run's config for validated `params`; return run -> path."""
    runs = resolve_runs(params)
    if dvc_yaml is not None and not is_current(params, dvc_yaml):
        raise ParamsError(
            f"{dvc_yaml} does not match the runs or data of params.yaml; "
            "regenerate dvc.yaml with `python -m stages.dvcgen`"
        )
    for stage, config in resolve_data(params).items():
        write_json_if_changed(Path(out_dir) / CONFIG_FILES[stage], config.to_dict())
    write_json_if_changed(Path(out_dir) / CONFIG_FILES["package"], resolve_package(params).to_dict())
    write_json_if_changed(Path(out_dir) / CONFIG_FILES["report"], resolve_report(params).to_dict())
    for stage, checksums in fingerprints(CODE_STAGES).items():
        write_json_if_changed(Path(out_dir) / CODE_FILES[stage], checksums)
    paths = {}
    for name, config in runs.items():
        paths[name] = Path(out_dir) / CONFIG_FILES["run"].replace("{run}", name)
        write_json_if_changed(paths[name], config.to_dict())
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--schema", default=str(SCHEMA))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--dvc-yaml", help="refuse to go on if this dvc.yaml is stale")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)

    def body():
        paths = write_configs(load_params(args.params, args.schema), args.out_dir, args.dvc_yaml)
        print(f"configured {len(paths)} runs: {', '.join(paths)}")

    return run_stage(body, args.log, code=2)


if __name__ == "__main__":
    sys.exit(main())
