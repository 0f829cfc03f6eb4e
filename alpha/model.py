"""Alpha tier: a small fully-convolutional net that learns the colours of one image.

Input: l_norm = L/100, shape (batch, height, width, 1), any size divisible by 8.
Output: ab_norm = ab/128, shape (batch, height, width, 2), in [-1, 1] (regression, the
default: one image is memorised, not guessed); with loss="classification", logits over
the ab bins at a quarter of the size (shared/ab_bins.py).
"""

import keras
from keras import layers

from shared.ab_bins import logits_head, training_loss
from shared.layers import conv


def build_model(learning_rate=1e-3, loss="regression", class_weights=None):
    encoder = [
        keras.Input(shape=(None, None, 1)),
        conv(8, strides=2),
        conv(8),
        conv(16),
        conv(16, strides=2),
        conv(32),
        conv(32, strides=2),
        layers.UpSampling2D(2),
        conv(32),
    ]
    if loss == "classification":  # at a quarter of the size: a colour distribution per pixel
        decoder = [logits_head()]
    else:
        decoder = [layers.UpSampling2D(2), conv(16), layers.UpSampling2D(2), conv(2, activation="tanh")]
    model = keras.Sequential(encoder + decoder, name="alpha")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate), loss=training_loss(loss, class_weights))
    return model
