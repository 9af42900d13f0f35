"""Learned morphological layers: grey-scale dilation and erosion with non-flat structuring elements.

For input x (batch, height, width, channels) and a structuring element w of
shape (k, k, channels, filters), filter f of

    Dilation2D:  y[b, i, j, f] = max over (di, dj, c) of  x[b, i+di, j+dj, c] + w[di, dj, c, f]
    Erosion2D:   y[b, i, j, f] = min over (di, dj, c) of  x[b, i+di, j+dj, c] - w[di, dj, c, f]

(max-plus and min-minus algebra, as in the morpholayers tutorial). "same"
padding pads with -inf for dilation and +inf for erosion (a large finite value,
so gradients stay finite), so the border never wins. Written with keras.ops
only: they run on the TensorFlow, JAX and PyTorch backends.
"""

from __future__ import annotations

import keras
from keras import ops

BIG = 1e9  # stands in for infinity when padding


class _Morphology2D(keras.layers.Layer):
    sign = 1.0  # +1: dilation (max of x + w); -1: erosion (min of x - w)

    def __init__(
        self, filters: int, kernel_size: int, padding: str = "valid", kernel_initializer="glorot_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters, self.kernel_size, self.padding = int(filters), int(kernel_size), padding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, input_shape[-1], self.filters),
            initializer=self.kernel_initializer,
            trainable=True,
        )

    def call(self, x):
        k = self.kernel_size
        if self.padding == "same":
            before, after = (k - 1) // 2, k // 2
            x = ops.pad(x, [[0, 0], [before, after], [before, after], [0, 0]], constant_values=-BIG * self.sign)
        height, width = x.shape[1] - k + 1, x.shape[2] - k + 1
        result = None
        # One shifted view of x per kernel offset: (b, h, w, c, 1) + (c, f), reduced over c.
        for di in range(k):
            for dj in range(k):
                window = x[:, di : di + height, dj : dj + width, :, None]
                term = ops.max(window * self.sign + self.kernel[di, dj], axis=-2)
                result = term if result is None else ops.maximum(result, term)
        return result * self.sign

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        if self.padding == "valid":
            height, width = height - self.kernel_size + 1, width - self.kernel_size + 1
        return (batch, height, width, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "padding": self.padding,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="stages")
class Dilation2D(_Morphology2D):
    """Grey-scale dilation (max-plus) with `filters` learned k x k structuring elements."""

    sign = 1.0


@keras.saving.register_keras_serializable(package="stages")
class Erosion2D(_Morphology2D):
    """Grey-scale erosion (min-minus) with `filters` learned k x k structuring elements."""

    sign = -1.0


def load_model(path) -> keras.Model:
    """Load a .keras file in safe mode (no arbitrary code), knowing this module's layers."""
    return keras.models.load_model(path, safe_mode=True)
