# Parameters and helpers shared by the rules.
#
# params.yaml is loaded by stages.config rather than `configfile:` so that any
# error (duplicate key, unknown key, bad value) stops the run with one line.
# The per-stage and per-run configs are written here, while the workflow is parsed and only
# when their content changes: a changed run is then one newer input file, and
# exactly that run's jobs rerun. Under DVC the `configure` stage writes them.
import re
from pathlib import Path
import sys

# The stages package is the project root's, not an installed copy.
sys.path.insert(0, str(Path(workflow.basedir).parent))

from stages.codedeps import code_files
from stages.config import ParamsError, load_params, source_inputs
from stages.configure import write_configs
from stages.dvcgen import write_dvc_yaml
from stages.layout import EVALUATION_FILES, REPORT_FILES

try:
    PARAMS = load_params("params.yaml")
    RUNS = list(write_configs(PARAMS, "configs"))
except ParamsError as err:
    sys.exit(f"error: {err}")

config.update(PARAMS)
# Keep dvc.yaml's runs (and image folder) in step with params.yaml (rewritten only if it changed).
write_dvc_yaml(PARAMS, "dvc.yaml")


wildcard_constraints:
    run="|".join(re.escape(run) for run in RUNS),


def per_run(path):
    """One path per run, in params.yaml order (`path` is a rule output with {run})."""
    return expand(path, run=RUNS)

