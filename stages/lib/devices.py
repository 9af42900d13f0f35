"""Which device a training job uses: its own GPU of a workstation's pool, and a clear error without one.

On a SLURM GPU node the scheduler sets CUDA_VISIBLE_DEVICES for the job. On a
workstation with several GPUs, Snakemake's `gpu` resource (workflow/profiles/local)
caps how many train jobs run at once; `claim_gpu` then gives each job a GPU
no other job holds (an exclusive lock per GPU, released when the job's process
ends) and hides the others from it through CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from pathlib import Path

from stages.lib.errors import PipelineError

LOCK_DIR = Path(tempfile.gettempdir()) / "pipeline-gpu-locks"
_held = []  # open lock files: a GPU stays claimed as long as this process lives


def installed_gpus() -> list[str]:
    """Indices of the NVIDIA GPUs of this machine (none without nvidia-smi)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def claim_gpu(gpus: list[str] | None = None, lock_dir: Path = LOCK_DIR) -> str | None:
    """Claim a free GPU of `gpus` (default: all installed) and make it the only one this process sees.

    Does nothing where CUDA_VISIBLE_DEVICES is set already (SLURM, or the user) or
    there is no GPU; returns the claimed index, or None.
    """
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return None
    gpus = installed_gpus() if gpus is None else gpus
    if not gpus:
        return None
    lock_dir.mkdir(parents=True, exist_ok=True)
    for index in gpus:
        handle = open(lock_dir / f"gpu-{index}.lock", "w")  # noqa: SIM115 - held open: the lock lives with the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held.append(handle)
        os.environ["CUDA_VISIBLE_DEVICES"] = index
        return index
    raise DeviceError(
        f"all {len(gpus)} GPUs are in use by other train jobs; give Snakemake "
        f"--resources gpu={len(gpus)} (workflow/profiles/local) so that it waits"
    )


class DeviceError(PipelineError):
    """No device is free for the job."""


def has_gpu(devices: list[str]) -> bool:
    """Whether any of the backend's device names (TensorFlow, JAX or PyTorch) is a GPU."""
    return any("gpu" in name.lower() or "cuda" in name.lower() for name in devices)
