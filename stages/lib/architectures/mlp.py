"""Dense layers of the given widths, each followed by dropout; `preset` names a course model."""

from __future__ import annotations

PRESETS = {
    "deep": {"units": [100, 50, 50, 25, 25], "dropout": 0.0},  # the course's 100-50-50-25-25
    "wide": {"units": [512, 512, 512], "dropout": 0.2},  # Keras' mnist_mlp, one layer more
}


def build(input_shape, num_classes, units=None, dropout=None, activation="relu", preset=None):
    import keras
    from keras import layers

    chosen = PRESETS[preset] if preset else {"units": [512, 512], "dropout": 0.2}
    units = chosen["units"] if units is None else units
    dropout = chosen["dropout"] if dropout is None else dropout
    model = keras.Sequential([keras.Input(input_shape), layers.Flatten()], name="mlp")
    for width in units:
        model.add(layers.Dense(width, activation=activation))
        if dropout:
            model.add(layers.Dropout(dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model
