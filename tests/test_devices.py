"""Device choice: each train job its own GPU of a workstation's pool; a clear error without a GPU."""

import os
import subprocess
import sys
import time

import pytest

from stages.lib.devices import DeviceError, claim_gpu, has_gpu
from stages.train import train
from tests.conftest import ROOT, run_config

HOLD = """
import sys, time
from pathlib import Path
from stages.lib.devices import claim_gpu
print(claim_gpu(sys.argv[1].split(','), Path(sys.argv[2])), flush=True)
time.sleep(float(sys.argv[3]))
"""


def claim_in_process(gpus, lock_dir, hold_seconds):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, ",".join(gpus), str(lock_dir), str(hold_seconds)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def test_concurrent_jobs_each_get_their_own_gpu(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    first, first_gpu = claim_in_process(["0", "1"], tmp_path, 30)
    second, second_gpu = claim_in_process(["0", "1"], tmp_path, 30)
    try:
        assert {first_gpu, second_gpu} == {"0", "1"}
        with pytest.raises(DeviceError, match="all 2 GPUs are in use by other train jobs"):
            claim_gpu(["0", "1"], tmp_path)
        first.kill()
        first.wait()
        time.sleep(0.2)
        assert claim_gpu(["0", "1"], tmp_path) == first_gpu  # freed when its job ended
        assert os.environ["CUDA_VISIBLE_DEVICES"] == first_gpu
    finally:
        for process in (first, second):
            process.kill()
            process.wait()


def test_a_gpu_chosen_by_slurm_or_the_user_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert claim_gpu(["0", "1"], tmp_path) is None
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"


def test_device_names_of_every_backend():
    assert has_gpu(["/device:CPU:0", "/device:GPU:0"])  # TensorFlow
    assert has_gpu(["CudaDevice(id=0)"]) and has_gpu(["cuda:0"])  # JAX, PyTorch
    assert not has_gpu(["/device:CPU:0"]) and not has_gpu(["TFRT_CPU_0"])


def test_a_run_that_requires_a_gpu_fails_clearly_without_one(tiny_data, tmp_path):
    config = run_config(training={"require_gpu": True})
    with pytest.raises(
        ValueError,
        match=r"sets require_gpu but the tensorflow backend sees no GPU \(devices: "
        r"/device:CPU:0",
    ):
        train(config, tiny_data, tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "s.json")
    assert not (tmp_path / "m.keras").exists()
