"""Full version tier: an encoder, a global feature vector fused into every position, a decoder.

Local texture alone cannot tell a green meadow from a brown field, so the
network also sees a summary of the whole image (Iizuka et al. 2016, "Deep
Koalarization" 2017). One vector per image is tiled over the encoder's 32x32
output, concatenated with it, and mixed by a 1x1 convolution (the fusion layer):

    l_norm (N, 256, 256, 1) -> encoder -> (N, 32, 32, 256) --+
                                                             |-> fusion (N, 32, 32, 256) -> decoder -> bin logits (N, 64, 64, n_bins)
    global vector (N, D) --------- tiled to 32x32 -----------+

The saved model decodes the logits to ab_norm (N, 256, 256, 2) (shared/ab_bins.py);
with loss="regression" the decoder predicts ab_norm directly.

The global vector comes from one of two sources (the `embedding`):
    "learned"   a small branch of strided convolutions from the same L input,
                trained jointly with the rest (D = 256); fully offline.
    "imagenet"  a frozen InceptionResNetV2 classifier's 1000 class scores,
                computed outside this model (shared/global_features.py) and fed
                as a second input named "embedding" (D = 1000).

The fusion layer records the embedding in the saved model, so test.py and the
video module know what to feed it.
"""

import keras
from keras import layers

from shared.ab_bins import logits_head, training_loss
from shared.layers import EMBEDDINGS, TileAndConcatenate, conv

IMAGENET_EMBEDDING_SIZE = 1000  # InceptionResNetV2's class scores
LEARNED_EMBEDDING_SIZE = 256
FUSION_FILTERS = 256


def build_encoder(image_size=256):
    """(N, S, S, 1) -> (N, S/8, S/8, 256): local features."""
    return keras.Sequential(
        [
            keras.Input(shape=(image_size, image_size, 1)),
            conv(64, strides=2),
            conv(128),
            conv(128, strides=2),
            conv(256),
            conv(256, strides=2),
            conv(512),
            conv(512),
            conv(256),
        ],
        name="encoder",
    )


def build_global_branch(image_size=256):
    """(N, S, S, 1) -> (N, 256): the learned summary of the whole image (strided convs, average, dense)."""
    return keras.Sequential(
        [
            keras.Input(shape=(image_size, image_size, 1)),
            conv(32, strides=2),
            conv(64, strides=2),
            conv(128, strides=2),
            conv(256, strides=2),
            layers.GlobalAveragePooling2D(),
            layers.Dense(LEARNED_EMBEDDING_SIZE, activation="relu"),
        ],
        name="global_features",
    )


def build_decoder(feature_size=32, loss="classification"):
    """(N, F, F, 256) -> bin logits (N, 2F, 2F, n_bins), or with loss="regression" ab_norm (N, 8F, 8F, 2)."""
    if loss == "classification":
        head = [conv(64), logits_head()]
    else:
        head = [layers.UpSampling2D(2), conv(32), conv(16), conv(2, activation="tanh"), layers.UpSampling2D(2)]
    return keras.Sequential(
        [keras.Input(shape=(feature_size, feature_size, FUSION_FILTERS)), conv(128), layers.UpSampling2D(2), conv(64)]
        + head,
        name="decoder",
    )


def build_model(image_size=256, learning_rate=1e-3, embedding="learned", loss="classification", class_weights=None):
    """The full network, compiled with Adam and the loss (shared/ab_bins.py: classification or regression).

    Inputs: "l_norm" (N, S, S, 1), plus "embedding" (N, 1000) when embedding="imagenet".
    """
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding must be one of {EMBEDDINGS}, got {embedding!r}")
    if image_size % 8:
        raise ValueError(f"image_size must be a multiple of 8, got {image_size}")
    l_norm = keras.Input(shape=(image_size, image_size, 1), name="l_norm")
    if embedding == "learned":
        inputs = l_norm
        global_vector = build_global_branch(image_size)(l_norm)
    else:
        global_vector = keras.Input(shape=(IMAGENET_EMBEDDING_SIZE,), name="embedding")
        inputs = [l_norm, global_vector]

    local_features = build_encoder(image_size)(l_norm)
    fused = TileAndConcatenate(embedding, name="tile_and_concatenate")([local_features, global_vector])
    fused = layers.Conv2D(FUSION_FILTERS, 1, activation="relu", name="fusion")(fused)
    output = build_decoder(image_size // 8, loss)(fused)

    model = keras.Model(inputs, output, name="full_version")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=training_loss(loss, class_weights))
    return model
