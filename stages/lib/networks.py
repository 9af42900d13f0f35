"""The parts of a saved run's model."""

from __future__ import annotations

from stages.lib.layout import AUGMENTATION


def network_of(model):
    """The network a run trained. A run with `augment` is saved as the augmentation layers, then
    the network (stages.train.resume_or_build); outside training the augmentation passes images
    through unchanged. The filters plot and the package's exports look at the network itself:
    traced for export, the augmentation brings random ops ONNX lacks and the network's dropout."""
    if len(model.layers) == 2 and model.layers[0].name == AUGMENTATION:
        return model.layers[1]
    return model
