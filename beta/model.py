"""Beta tier: a deeper encoder-decoder that colorizes photos it has never seen.

Input: l_norm = L/100, shape (batch, 256, 256, 1). About 3.9M parameters.
Output, by the loss it is trained with (shared/ab_bins.py):
    classification (default)  logits over the ab bins at a quarter of the size, (batch, 64, 64, n_bins);
                              the saved model decodes them to ab_norm (batch, 256, 256, 2)
    regression                ab_norm = ab/128 directly, (batch, 256, 256, 2), in [-1, 1] (mean-squared error)

Adam rather than the reference's RMSprop: the same adaptive step sizes plus
momentum, which makes the short CPU trainings this tier gets move faster.
"""

import keras
from keras import layers

from shared.ab_bins import logits_head, training_loss
from shared.layers import conv


def build_model(image_size=256, learning_rate=1e-3, loss="classification", class_weights=None):
    encoder = [
        keras.Input(shape=(image_size, image_size, 1)),
        # 256 -> 32
        conv(64),
        conv(64, strides=2),
        conv(128),
        conv(128, strides=2),
        conv(256),
        conv(256, strides=2),
        conv(512),
        conv(256),
        conv(128),
    ]
    if loss == "classification":  # 32 -> 64: a colour distribution per pixel
        decoder = [layers.UpSampling2D(2), conv(64), conv(64), logits_head()]
    else:  # 32 -> 256: one colour per pixel
        decoder = [
            layers.UpSampling2D(2),
            conv(64),
            layers.UpSampling2D(2),
            conv(32),
            conv(2, activation="tanh"),
            layers.UpSampling2D(2),
        ]
    model = keras.Sequential(encoder + decoder, name="beta")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=training_loss(loss, class_weights))
    return model
