"""Layers the tiers' networks share, and what a saved model says about itself through them.

Every saved model is loaded by `shared/` alone: the custom layers it may hold
(`TileAndConcatenate` here, `AnnealedMean` in shared/ab_bins.py) are registered
when `shared` is imported, and their configs say what inference needs (where the
global vector comes from, how colours are decoded).
"""

import keras
from keras import layers, ops

EMBEDDINGS = ("learned", "imagenet", "efficientnet")  # where a model's global vector comes from


def conv(filters, strides=1, activation="relu", name=None):
    """A 3x3 convolution that keeps the size (or divides it by `strides`), ReLU by default."""
    return layers.Conv2D(filters, 3, strides=strides, padding="same", activation=activation, name=name)


# Registered under "full_version", the package it was first saved under, so those files still load.
@keras.saving.register_keras_serializable(package="full_version")
class TileAndConcatenate(layers.Layer):
    """[features (N, h, w, C), vector (N, D)] -> (N, h, w, C + D): each image's vector at every position.

    `embedding` names where the vector comes from; it is stored in the saved model.
    """

    def __init__(self, embedding="learned", **kwargs):
        super().__init__(**kwargs)
        if embedding not in EMBEDDINGS:
            raise ValueError(f"embedding must be one of {EMBEDDINGS}, got {embedding!r}")
        self.embedding = embedding

    def call(self, inputs):
        features, vector = inputs
        height, width = ops.shape(features)[1], ops.shape(features)[2]
        tiled = ops.tile(vector[:, None, None, :], (1, height, width, 1))
        return ops.concatenate([features, ops.cast(tiled, features.dtype)], axis=-1)

    def compute_output_shape(self, input_shapes):
        features, vector = input_shapes
        return (*features[:3], features[3] + vector[1])

    def get_config(self):
        return {**super().get_config(), "embedding": self.embedding}


def embedding_of(model):
    """"learned" or "imagenet" for a model with a global vector (full_version), None for any other."""
    for layer in model.layers:
        if isinstance(layer, TileAndConcatenate):
            return layer.embedding
    return None


def total_stride(model):
    """How much the network downsamples L on its way to the colours: the product of its convolutions'
    strides, within its "encoder" when it has one (the first full_version models had a global branch
    of their own that downsampled further but ended in one vector). The smallest image side a
    fully-convolutional model can take."""
    names = [layer.name for layer in model.layers]
    part = model.get_layer("encoder") if "encoder" in names else model
    stride = 1
    for layer in all_layers(part):
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)):
            stride *= layer.strides[0]
    return stride


def all_layers(model):
    """Every layer of `model`, those inside its nested models too (each model before its layers)."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


@keras.saving.register_keras_serializable(package="colorize")
class StopGradient(layers.Layer):
    """Its input, unchanged, with no gradient flowing back through it: what comes after learns from
    these features without changing what made them."""

    def call(self, inputs):
        return ops.stop_gradient(inputs)
