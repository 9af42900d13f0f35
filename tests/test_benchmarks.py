"""The GPU benchmark, run on this CPU as a GPU machine here would run it.

A GPU machine lent to a session has JAX with CUDA and no TensorFlow, and the
benchmark waits for one: so it runs here under KERAS_BACKEND=jax with
TensorFlow made unimportable, on tiny data, and its figures reach
reports/bench.md through run_all.summary. The figures themselves are not
checked (a CPU says nothing of a GPU), only that each is measured.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_all  # noqa: E402


def without_tensorflow(tmp_path: Path) -> dict:
    """The environment of a machine where `import tensorflow` fails, with the JAX backend."""
    blocker = tmp_path / "no-tensorflow" / "tensorflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no TensorFlow on this machine')\n")
    return {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(blocker.parent)}


def gpu_benchmark(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "benchmarks/gpu_throughput.py", *args],
        cwd=ROOT,
        env=without_tensorflow(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_gpu_benchmark_measures_each_case_under_jax_without_tensorflow(tmp_path):
    out = tmp_path / "gpu_throughput.json"
    done = gpu_benchmark(
        tmp_path, "--architecture", "cnn_intro", "--batch-size", "64", "256", "--images", "256", "--epochs", "2",
        "--rounds", "1", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["machine"]["backend"] == "jax" and result["machine"]["devices"] == ["cpu:0"]
    assert [(c["architecture"], c["batch_size"]) for c in result["cases"]] == [("cnn_intro", 64), ("cnn_intro", 256)]
    for case in result["cases"]:
        assert case["pipeline_images_per_second"] > 0 and case["bare_images_per_second"] > 0
        assert case["pipeline_to_bare"] == pytest.approx(
            case["pipeline_images_per_second"] / case["bare_images_per_second"], abs=1e-3
        )
        assert case["peak_accelerator_memory_bytes"] is None  # a CPU has none to report
        assert case["parameters"] == result["cases"][0]["parameters"] > 0
    assert result["target"] == {
        "architecture": "cnn_intro",
        "batch_size": 1024,
        "images_per_second": 100_000,
        "met": None,
    }
    summary = run_all.summary({"gpu_throughput": result})
    assert "| cnn_intro | 256 | " in summary and "jax on cpu:0" in summary
    assert "Target: cnn_intro at batch 1024, 100,000 img/s or more through the pipeline: not measured." in summary


def test_the_gpu_benchmark_refuses_a_case_it_cannot_time(tmp_path):
    done = gpu_benchmark(tmp_path, "--batch-size", "2048", "--images", "1000", "--out", str(tmp_path / "g.json"))
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(
        "give batch sizes >= 1, --images >= the largest batch size, --epochs >= 2, --rounds >= 1"
    )
    assert not (tmp_path / "g.json").exists()


def test_the_summary_says_whether_the_target_is_met():
    case = {
        "architecture": "cnn_intro",
        "batch_size": 1024,
        "parameters": 136874,
        "pipeline_images_per_second": 120_000.0,
        "pipeline_images_per_second_per_round": [120_000.0],
        "bare_images_per_second": 150_000.0,
        "pipeline_to_bare": 0.8,
        "peak_accelerator_memory_bytes": 3 * 2**30,
    }
    result = {
        "images": 50_000,
        "epochs": 4,
        "rounds": 3,
        "cases": [case],
        "target": {"architecture": "cnn_intro", "batch_size": 1024, "images_per_second": 100_000, "met": True},
        "machine": {"platform": "Linux", "backend": "jax", "devices": ["cuda:0"]},
    }
    summary = run_all.summary({"gpu_throughput": result})
    assert "| cnn_intro | 1024 | 120,000 | 150,000 | 0.80 | 3.00 GiB |" in summary
    assert "through the pipeline: met." in summary
