"""The Keras backend a command will run on, checked before Keras is imported.

Keras 3 takes its backend from KERAS_BACKEND, else from "backend" in
$KERAS_HOME/keras.json (~/.keras/keras.json), else TensorFlow, and an unknown or
uninstalled one fails inside `import keras` with a traceback. The commands that
load Keras (train, evaluate, package, verify, predict) call `check_keras_backend`
first, so that a wrong setting is one line naming where it came from and the
backends this environment has.
"""

from __future__ import annotations

import json
import os
from importlib.util import find_spec
from pathlib import Path

from stages.lib.errors import PipelineError

# Keras 3's backends (keras/src/backend/__init__.py) and the module each one imports.
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy", "openvino": "openvino"}
INFERENCE_ONLY = ("numpy", "openvino")  # Keras cannot fit a model on these
HOW_TO_INSTALL = {"jax": "bash setup.sh --extra jax"}  # pyproject.toml's optional dependency group


def configured_backend() -> tuple[str, str]:
    """The backend Keras would import, and where that setting comes from."""
    if name := os.environ.get("KERAS_BACKEND"):  # Keras ignores an empty one too
        return name, "KERAS_BACKEND"
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    config = Path(home, "keras.json")
    try:
        name = json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):  # Keras ignores a file it cannot read, too
        return "tensorflow", "Keras' default backend"
    return str(name), f'"backend" in {config}'


def check_keras_backend(training: bool = False) -> str:
    """The configured backend's name; a PipelineError if Keras cannot run it (or, with
    `training`, cannot fit models on it)."""
    name, source = configured_backend()
    installed = [backend for backend, module in BACKEND_MODULES.items() if find_spec(module) is not None]
    choices = [backend for backend in installed if not (training and backend in INFERENCE_ONLY)]
    if name not in BACKEND_MODULES:
        raise PipelineError(
            f"{source} is {name!r}, not a Keras backend ({', '.join(BACKEND_MODULES)}); "
            f"installed here: {', '.join(choices)}"
        )
    if name not in installed:
        how = HOW_TO_INSTALL.get(name, f".tools/bin/uv pip install --python .venv {BACKEND_MODULES[name]}")
        raise PipelineError(
            f"{source} is {name}, but {BACKEND_MODULES[name]} is not installed in this environment "
            f"(installed: {', '.join(choices)}); install it ({how}) or choose an installed one"
        )
    if training and name in INFERENCE_ONLY:
        raise PipelineError(f"{source} is {name}: Keras cannot train on it; choose one of {', '.join(choices)}")
    return name
