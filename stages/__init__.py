"""The pipeline's stages: one module per stage, each `python -m stages.<name> ...`.

Stage modules get every path and value as command-line arguments; only
`stages.lib.params` (used by the Snakefile and by the `configure` stage) reads
params.yaml.
"""

import os

# TensorFlow's C++ start-up chatter (CPU feature notes) buries the training log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
