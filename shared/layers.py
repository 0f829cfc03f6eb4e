"""Layers the tiers' networks share, and what a saved model says about itself through them.

Every saved model is loaded by `shared/` alone: the custom layers it may hold
(`TileAndConcatenate` here, `AnnealedMean` in shared/ab_bins.py) are registered
when `shared` is imported, and their configs say what inference needs (where the
global vector comes from, how colours are decoded).
"""

import collections
import io

import keras
import numpy as np
from keras import layers, ops
from keras.src.utils import naming

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


def fold_batch_norms(model, rewrite=None):
    """The same network for inference with each BatchNormalization that directly follows a bias-free
    convolution folded into it (kernel * gamma / sqrt(var + eps), bias beta - mean * that scale), in
    nested models too; `model` itself when there is none and no `rewrite`. BatchNorm runs as its own
    elementwise ops, which cost EfficientNet-Lite0 in bfloat16 more than its convolutions
    (shared/efficientnet.py); Keras has no pass that does this to a loaded model.

    `rewrite`: another change to the serialized model, made in the same rebuild (accel.for_inference's
    precision), which keeps the layers and their weights."""
    folds = {}  # BatchNorm layer name -> the convolution it folds into
    config = keras.saving.serialize_keras_object(model)
    config = _without_batch_norms(rewrite(config) if rewrite else config, folds)
    if not folds and rewrite is None:
        return model
    clone = keras.saving.deserialize_keras_object(config)
    originals = {layer.name: layer for layer in all_layers(model)}
    batch_norm_of = {conv: originals[batch_norm] for batch_norm, conv in folds.items()}
    kept = [layer for layer in all_layers(model) if layer.name not in folds]
    for original, layer in zip(kept, all_layers(clone), strict=True):
        assert original.name == layer.name, (original.name, layer.name)
        if layer.name in batch_norm_of:
            layer.set_weights(_folded(original, batch_norm_of[layer.name]))
        elif layer.weights and not hasattr(layer, "layers"):
            layer.set_weights(original.get_weights())
    return clone


class UnknownLayout(ValueError):
    """A .keras file whose weights `load_folded` cannot place (then load the model and fold it instead)."""


def load_folded(path, rewrite=None):
    """What `fold_batch_norms(keras.models.load_model(path), rewrite)` returns, built once: the folded
    architecture straight from the file's config, its weights read from the file (BatchNorms folded into
    their convolutions on the way), skipping the build of the unfolded model and the second rebuild.
    Raises UnknownLayout where the file's weights are not where Keras 3's saving puts a functional
    model's layers (layers/<class name, numbered in layer order>/vars/<i>), or do not fit."""
    import json
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    stored = _stored_names(config)  # before the BatchNorms are left out of it
    folds = {}
    clone = keras.saving.deserialize_keras_object(_without_batch_norms(rewrite(config) if rewrite else config, folds))
    epsilons = _batch_norm_epsilons(config)
    conv_of = {conv: batch_norm for batch_norm, conv in folds.items()}
    for layer, group_path in _weighted_layers(clone, stored, ""):
        try:
            values = _stored_vars(weights, group_path)
            if layer.name in conv_of:
                batch_norm = conv_of[layer.name]
                values = _folded_weights(values[0], _stored_vars(weights, stored[batch_norm]), epsilons[batch_norm],
                                         depthwise=isinstance(layer, layers.DepthwiseConv2D))
            layer.load_own_variables({str(i): value for i, value in enumerate(values)})
        except (KeyError, ValueError) as error:
            raise UnknownLayout(f"{path}: the weights of {layer.name} ({error})") from error
    return clone


def _stored_names(config, prefix=""):
    """layer name -> its group in a .keras file's weights (Keras 3 names each by its class, numbered in the
    order of the model's layers), for a serialized functional model and the models nested in it."""
    names, used = {}, collections.Counter()
    for layer in config["config"]["layers"]:
        class_name = naming.to_snake_case(layer["class_name"])  # as keras.src.saving.saving_lib names them
        name = class_name if not used[class_name] else f"{class_name}_{used[class_name]}"
        used[class_name] += 1
        names[layer["name"]] = f"{prefix}layers/{name}"
        if layer["class_name"] in ("Functional", "Model") and "layers" in layer.get("config", {}):
            names.update(_stored_names(layer, f"{prefix}layers/{name}/"))
    return names


def _batch_norm_epsilons(config):
    """BatchNorm layer name -> its epsilon, in a serialized model and the models nested in it."""
    epsilons = {}
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "BatchNormalization":
            epsilons[layer["name"]] = layer["config"]["epsilon"]
        elif layer["class_name"] in ("Functional", "Model") and "layers" in layer.get("config", {}):
            epsilons.update(_batch_norm_epsilons(layer))
    return epsilons


def _weighted_layers(model, stored, prefix):
    """(layer, its group in the file) for each layer of `model` that has variables of its own."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _weighted_layers(layer, stored, prefix)
        elif layer.weights:
            if layer.name not in stored:
                raise UnknownLayout(f"no stored weights for {layer.name}")
            yield layer, stored[layer.name]


def _stored_vars(weights, group_path):
    """The arrays of one layer's group (vars/0, vars/1, ...), in order."""
    group = weights[f"{group_path}/vars"]
    return [group[str(i)][()] for i in range(len(group))]


def _without_batch_norms(node, folds):
    """A serialized model with its foldable BatchNorms left out, their consumers reading the convolution
    instead; records them in `folds`."""
    if isinstance(node, (list, tuple)):
        return [_without_batch_norms(value, folds) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: _without_batch_norms(value, folds) for key, value in node.items()}
    if node.get("class_name") not in ("Functional", "Model") or "layers" not in node.get("config", {}):
        return node
    config = node["config"]
    by_name = {layer["name"]: layer for layer in config["layers"]}
    sources_of = {layer["name"]: list(_history_names(layer.get("inbound_nodes", []))) for layer in config["layers"]}
    uses = collections.Counter(name for sources in sources_of.values() for name in sources)  # reads of each layer
    renames = {}
    for layer in config["layers"]:
        sources = sources_of[layer["name"]]
        if layer["class_name"] != "BatchNormalization" or len(sources) != 1:
            continue
        options = layer["config"]
        if not (options.get("center", True) and options.get("scale", True) and options.get("axis") in (-1, 3, [-1], [3])):
            continue
        conv = by_name[sources[0]]
        if (conv["class_name"] in ("Conv2D", "DepthwiseConv2D") and not conv["config"]["use_bias"]
                and conv["config"]["activation"] == "linear" and uses[conv["name"]] == 1):
            conv["config"]["use_bias"] = True
            renames[layer["name"]] = conv["name"]
    folds.update(renames)
    if renames:
        kept = [layer for layer in config["layers"] if layer["name"] not in renames]
        node["config"] = _renamed({**config, "layers": kept}, renames)
    return node


def _history_names(node):
    """The names of the layers a serialized node's tensors come from."""
    if isinstance(node, dict):
        history = node.get("config", {}).get("keras_history") if node.get("class_name") == "__keras_tensor__" else None
        if history:
            yield history[0]
        else:
            for value in node.values():
                yield from _history_names(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _history_names(value)


def _renamed(node, renames):
    """`node` with tensors from a renamed layer read from its new name (keras_history and output_layers)."""
    if isinstance(node, dict):
        node = {key: _renamed(value, renames) for key, value in node.items()}
        if node.get("class_name") == "__keras_tensor__" and node["config"]["keras_history"][0] in renames:
            history = node["config"]["keras_history"]
            node["config"] = {**node["config"], "keras_history": [renames[history[0]], *history[1:]]}
        return node
    if isinstance(node, (list, tuple)):
        if len(node) == 3 and isinstance(node[0], str) and node[0] in renames and isinstance(node[1], int):
            return [renames[node[0]], *node[1:]]  # an entry of output_layers
        return [_renamed(value, renames) for value in node]
    return node


def _folded(conv, batch_norm):
    """[kernel, bias] of `conv` with `batch_norm` (inference mode) folded in."""
    return _folded_weights(conv.get_weights()[0], batch_norm.get_weights(), batch_norm.epsilon,
                           depthwise=isinstance(conv, layers.DepthwiseConv2D))


def _folded_weights(kernel, batch_norm_weights, epsilon, depthwise):
    """[kernel, bias]: a bias-free convolution's `kernel` with a BatchNorm's [gamma, beta, mean, variance]
    (inference mode) folded in."""
    gamma, beta, mean, variance = (np.asarray(w, np.float32) for w in batch_norm_weights)
    scale = gamma / np.sqrt(variance + epsilon)  # per output channel
    if depthwise:  # kernel (kh, kw, channels, multiplier)
        kernel = kernel * scale.reshape(1, 1, kernel.shape[2], kernel.shape[3])
    else:  # (kh, kw, in, out)
        kernel = kernel * scale
    return [kernel, beta - mean * scale]


@keras.saving.register_keras_serializable(package="colorize")
class StopGradient(layers.Layer):
    """Its input, unchanged, with no gradient flowing back through it: what comes after learns from
    these features without changing what made them."""

    def call(self, inputs):
        return ops.stop_gradient(inputs)
