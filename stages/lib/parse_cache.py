"""The Snakefile's parse-time work, done again only when one of its files changes.

Every `snakemake` command parses the Snakefile, which validates params.yaml, writes the configs
(configs/code/ too: the checksums of each stage's code) and regenerates dvc.yaml. On a 500-run
grid that work takes 0.35 s of a 1.95 s no-op (benchmarks/runner_overhead.py). `configure` keeps its
result in .snakemake/configured.json beside the size, modification time and inode of every file
the work reads or writes, which is how git's index and DVC's hash cache tell that a file is
unchanged. A parse that finds them all as recorded takes the result from there; any difference
(params.yaml or a stage's code edited, a config edited or deleted by hand, a checkout) does the
work again, which restores the configs and dvc.yaml as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from stages.lib.files import write_text

ROOT = Path(__file__).resolve().parents[2]
RECORD = Path(".snakemake") / "configured.json"
# What the work reads besides params.yaml: the code (stages/, fingerprinted into configs/code/),
# the schema, and the locked environment whose libraries validate and render.
SOURCES = ("stages", "workflow/schemas", "pyproject.toml", "uv.lock")


def file_stats(paths) -> dict[str, list[int]]:
    """{path: [size, mtime_ns, inode]} of each file in `paths`, folders walked (a missing path is
    simply absent, so that its appearance counts as a change)."""
    stats = {}
    for top in map(str, paths):
        files = [top]
        if os.path.isdir(top):
            files = []
            for folder, subfolders, names in os.walk(top):
                subfolders[:] = [name for name in subfolders if name != "__pycache__"]
                files.extend(os.path.join(folder, name) for name in names)
        for path in files:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            stats[path] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return stats


def configure(params_path="params.yaml", config_dir="configs", dvc_yaml="dvc.yaml", record=RECORD):
    """Validated params, each run's architecture (in params.yaml order), the schema's pattern of a run name,
    with every config and dvc.yaml written for them; raises ParamsError as load_params does."""
    key = {"root": str(ROOT), "python": sys.version}
    inputs = file_stats([params_path, *(ROOT / source for source in SOURCES)])  # before reading them
    try:
        kept = json.loads(Path(record).read_text(encoding="utf-8"))
        if (kept["key"], kept["inputs"], kept["outputs"]) == (key, inputs, file_stats([config_dir, dvc_yaml])):
            return kept["params"], kept["runs"], kept["run_pattern"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no record, or one from another version of this module: do the work

    from stages.lib.configs import write_configs
    from stages.lib.dvc_yaml import write_dvc_yaml
    from stages.lib.params import load_params, run_name_pattern

    params = load_params(params_path)
    runs = write_configs(params, config_dir)
    write_dvc_yaml(params, dvc_yaml)
    result = {"params": params, "runs": runs, "run_pattern": run_name_pattern()}
    outputs = file_stats([config_dir, dvc_yaml])
    with contextlib.suppress(TypeError, ValueError):  # params JSON cannot hold (a YAML date) are not kept
        write_text(record, json.dumps({"key": key, "inputs": inputs, "outputs": outputs, **result}))
    return params, runs, result["run_pattern"]
