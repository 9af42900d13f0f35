"""The config files both runners read: one per data stage, report, package and run, and the code
fingerprints (configs/code/), each written only when its content changes, so that both runners
see a changed parameter or a changed piece of code as exactly the inputs it changes.
"""

from __future__ import annotations

from pathlib import Path

from stages.lib.codedeps import fingerprint
from stages.lib.dvc_yaml import is_current
from stages.lib.files import write_json_if_changed
from stages.lib.layout import CONFIG_FILES, MODELS_DIR, RUNS_DIR, code_config
from stages.lib.params import (
    ParamsError,
    code_stages,
    resolve_data,
    resolve_package,
    resolve_report,
    resolve_runs,
    train_jobs,
)


def write_configs(params: dict, out_dir, dvc_yaml=None) -> dict[str, dict]:
    """Write the data stages' and each run's config, and the code fingerprints, for validated
    `params`; return run -> what its train job needs (params.train_jobs), in params.yaml order.
    With `dvc_yaml`, refuse a dvc.yaml that was generated for other runs."""
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
    for stage in code_stages(params):
        # train's: one per architecture that a run uses.
        for architecture in sorted({run.architecture for run in runs.values()}) if stage == "train" else [None]:
            write_json_if_changed(code_config(stage, architecture, out_dir), fingerprint(stage, architecture))
    for name, config in runs.items():
        write_json_if_changed(Path(out_dir) / CONFIG_FILES["run"].replace("{run}", name), config.to_dict())
    jobs = train_jobs(params)
    note_left_behind({*runs, *jobs})
    return jobs


def note_left_behind(runs) -> None:
    """Say which result folders belong to runs no longer in params.yaml: neither runner removes a
    run's results, and they would pass for current ones (stages.verify skips them)."""
    left = sorted(
        str(folder)
        for base in (RUNS_DIR, MODELS_DIR)
        if Path(base).is_dir()
        for folder in Path(base).iterdir()
        if folder.is_dir() and folder.name not in runs
    )
    if left:
        print(f"note: {' '.join(left)}: results of runs no longer in params.yaml; remove them or add the runs back")
