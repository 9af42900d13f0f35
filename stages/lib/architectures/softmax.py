"""Multinomial logistic regression: flatten, one dense softmax layer."""

from __future__ import annotations


def build(input_shape, num_classes):
    import keras
    from keras import layers

    return keras.Sequential(
        [keras.Input(input_shape), layers.Flatten(), layers.Dense(num_classes, activation="softmax")],
        name="softmax",
    )
