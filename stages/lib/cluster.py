"""First contact with a SLURM cluster (workflow/rules/common.smk): what would fail job by job,
or leave Snakemake waiting on jobs that were never queued, is refused in one line first.

- A site setting still at the profiles' placeholder (`slurm_partition: "CHANGE-ME"`) is
  refused while the workflow is parsed, so a dry run says so too.
- Before a real run submits anything through the slurm executor, the controller must
  answer `scontrol ping` (an unreachable one made sbatch fail and the run hang).
"""

from __future__ import annotations

import shutil
import subprocess

PLACEHOLDER = "CHANGE-ME"
PING_TIMEOUT_S = 30


def placeholders(settings: dict[str, dict[str, object]]) -> list[str]:
    """The settings left at PLACEHOLDER, as 'default-resources: slurm_partition'.
    `settings`: where the resources were set (default-resources, set-resources of a rule) ->
    name -> raw value."""
    return [
        f"{where}: {name}"
        for where, resources in settings.items()
        for name, value in resources.items()
        if str(value).strip("'\"") == PLACEHOLDER
    ]


def site_settings(resource_settings) -> dict[str, dict[str, object]]:
    """Snakemake's resource settings (`workflow.resource_settings`) as placeholders() reads them:
    the raw value each was given in the profile, before Snakemake evaluates it."""
    given = [("default-resources", resource_settings.default_resources or {})]
    given += [(f"set-resources of {rule}", res) for rule, res in resource_settings.overwrite_resources.items()]
    return {where: {name: getattr(value, "raw", value) for name, value in res.items()} for where, res in given}


def placeholder_error(found: list[str]) -> str:
    return (
        f"error: the profile's site settings are still {PLACEHOLDER} ({', '.join(found)}): set them in the "
        "profile's config.yaml (your partition: sinfo -s; your account: sshare -U, or delete the line); "
        "Snakemake submitted no job"
    )


def controller_problem(timeout: float = PING_TIMEOUT_S) -> str | None:
    """Why no job could be submitted to SLURM from here, or None when its controller answers."""
    if shutil.which("sbatch") is None or shutil.which("scontrol") is None:
        return "sbatch or scontrol is not on PATH: this machine is not a SLURM submit host"
    try:
        result = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"the SLURM controller gave no answer to `scontrol ping` in {timeout:g} s"
    said = (result.stdout + result.stderr).strip().splitlines()
    if result.returncode != 0 or "is UP" not in result.stdout:
        return f"the SLURM controller does not answer (`scontrol ping`: {said[-1] if said else 'no output'})"
    return None
