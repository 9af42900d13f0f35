"""Conv32-Conv32-Pool-Dropout-Conv64-Conv64-Pool-Dropout-Flatten-Dense512-Dropout-Dense
(Keras' cifar10_cnn: about 1.25 million parameters on CIFAR-10), optional batch normalisation."""

from __future__ import annotations

from stages.lib.architectures._blocks import check_spatial


def spatial_plan(hp: dict) -> list[tuple[str, int, str]]:
    block = [("conv", 3, "same"), ("conv", 3, hp.get("padding", "valid")), ("pool", 2, "")]  # 'same', then `padding`
    return block + block


def build(
    input_shape, num_classes, activation="relu", padding="valid", dropout=0.25, dense_dropout=0.5, batch_norm=False
):
    import keras
    from keras import layers

    check_spatial(input_shape, "cnn_deep", padding=padding)
    model = keras.Sequential([keras.Input(input_shape)], name="cnn_deep")
    for width in (32, 64):
        for conv_padding in ("same", padding):
            model.add(layers.Conv2D(width, (3, 3), padding=conv_padding, use_bias=not batch_norm))
            if batch_norm:
                model.add(layers.BatchNormalization())
            model.add(layers.Activation(activation))
        model.add(layers.MaxPooling2D((2, 2)))
        model.add(layers.Dropout(dropout))
    model.add(layers.Flatten())
    model.add(layers.Dense(512, activation=activation))
    model.add(layers.Dropout(dense_dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model
