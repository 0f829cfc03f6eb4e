"""Beta tier: a deeper encoder-decoder that colorizes photos it has never seen.

Input: l_norm = L/100, shape (batch, 256, 256, 1). Output: ab_norm = ab/128,
shape (batch, 256, 256, 2), in [-1, 1]. About 3.9M parameters.

Adam rather than the reference's RMSprop: the same adaptive step sizes plus
momentum, which makes the short CPU trainings this tier gets move faster.
"""

import keras
from keras import layers


def conv(filters, strides=1, activation="relu"):
    return layers.Conv2D(filters, 3, strides=strides, padding="same", activation=activation)


def build_model(image_size=256, learning_rate=1e-3):
    model = keras.Sequential(
        [
            keras.Input(shape=(image_size, image_size, 1)),
            # encoder: 256 -> 32
            conv(64),
            conv(64, strides=2),
            conv(128),
            conv(128, strides=2),
            conv(256),
            conv(256, strides=2),
            conv(512),
            conv(256),
            conv(128),
            # decoder: 32 -> 256
            layers.UpSampling2D(2),
            conv(64),
            layers.UpSampling2D(2),
            conv(32),
            conv(2, activation="tanh"),
            layers.UpSampling2D(2),
        ],
        name="beta",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model
