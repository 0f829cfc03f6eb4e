"""Beta tier: a deeper encoder-decoder that colorizes photos it has never seen.

Input: l_norm = L/100, shape (batch, 256, 256, 1). About 3.9M parameters.
Output, by the loss it is trained with (shared/ab_bins.py):
    classification (default)  logits over the ab bins at a quarter of the size, (batch, 64, 64, n_bins);
                              the saved model decodes them to ab_norm (batch, 256, 256, 2)
    regression                ab_norm = ab/128 directly, (batch, 256, 256, 2), in [-1, 1] (mean-squared error)

Adam rather than the reference's RMSprop: the same adaptive step sizes plus
momentum, which makes the short CPU trainings this tier gets move faster.
full_version reuses this encoder and decoder around its global features.
"""

import keras
from keras import layers

from shared.ab_bins import logits_head, training_loss
from shared.layers import conv

ENCODER_FILTERS = 128  # channels of the encoder's output, at 1/8 of the input size


def encoder_layers():
    """(N, S, S, 1) -> (N, S/8, S/8, 128): local features."""
    return [
        conv(64),
        conv(64, strides=2),
        conv(128),
        conv(128, strides=2),
        conv(256),
        conv(256, strides=2),
        conv(512),
        conv(256),
        conv(ENCODER_FILTERS),
    ]


def decoder_layers(loss="classification"):
    """(N, S/8, S/8, C) -> bin logits (N, S/4, S/4, n_bins), or with loss="regression" ab_norm (N, S, S, 2)."""
    if loss == "classification":  # a colour distribution per pixel
        return [layers.UpSampling2D(2), conv(64), conv(64), logits_head()]
    return [  # one colour per pixel
        layers.UpSampling2D(2),
        conv(64),
        layers.UpSampling2D(2),
        conv(32),
        conv(2, activation="tanh"),
        layers.UpSampling2D(2),
    ]


def build_model(image_size=256, learning_rate=1e-3, loss="classification", class_weights=None):
    model = keras.Sequential(
        [keras.Input(shape=(image_size, image_size, 1))] + encoder_layers() + decoder_layers(loss), name="beta"
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=training_loss(loss, class_weights))
    return model
