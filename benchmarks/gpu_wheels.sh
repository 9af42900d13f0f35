#!/usr/bin/env bash
# Download the wheels a GPU machine with JAX but no Keras needs for benchmarks/gpu_throughput.py:
# Keras and the two of its dependencies such a machine lacks, at uv.lock's versions, built for its
# Python (3.12 on this workplace's GPU machines; docs/running.md#gpus says how to install them there).
#
#   bash benchmarks/gpu_wheels.sh [FOLDER (default .whl)] [PYTHON_VERSION (default 3.12)]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.whl}
python_version=${2:-3.12}
[ -x .tools/bin/uv ] || { echo "error: .tools/bin/uv is missing; run bash setup.sh first" >&2; exit 1; }
mapfile -t pins < <(.tools/bin/uv export --frozen --no-hashes --no-emit-project | grep -E '^(keras|namex|optree)==' | cut -d' ' -f1)
[ "${#pins[@]}" -eq 3 ] || { echo "error: uv.lock does not pin keras, namex and optree" >&2; exit 1; }
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014; do platforms+=(--platform "${tag}_x86_64"); done
.tools/bin/python -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version "$python_version" --implementation cp "${platforms[@]}" -d "$dest" "${pins[@]}"
echo "${pins[*]} -> $dest"
