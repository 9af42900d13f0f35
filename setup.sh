#!/usr/bin/env bash
# Install the locked environment (uv.lock) into .venv.
#   bash setup.sh          the pipeline's packages
#   bash setup.sh --test   plus the test tools
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
extras=()
[ "${1:-}" = "--test" ] && extras=(--extra test)
.tools/bin/uv sync --frozen --python "$(command -v python3)" "${extras[@]}"
