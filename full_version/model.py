"""Full version tier: beta's encoder, a global feature vector fused into every position, beta's decoder.

Local texture alone cannot tell a green meadow from a brown field, so the
network also sees a summary of the whole image (Iizuka et al. 2016, "Deep
Koalarization" 2017). One vector per image is tiled over the encoder's output,
concatenated with it, and mixed by a 1x1 convolution (the fusion layer):

    l_norm (N, 256, 256, 1) -> encoder -> (N, 32, 32, 128) ----+---------------------+
                                  global features (N, 256) <---+                     |-> fusion (N, 32, 32, 128)
                                  dropout, tiled to 32x32 -----------------------------+     -> decoder -> bin logits (N, 64, 64, n_bins)

The encoder and decoder are beta's (beta/model.py), so a trained beta can start
this network (`start_from_beta`): the fusion then passes beta's features through
unchanged, and training only the global features and the fusion learns what the
whole image adds to beta (`full_version/train.py --init-from beta`). The saved
model decodes the logits to ab_norm (N, 256, 256, 2) (shared/ab_bins.py); with
loss="regression" the decoder predicts ab_norm directly.

The global vector comes from one of two sources (the `embedding`):
    "learned"   the encoder's own features averaged over the image, then a dense
                layer (D = 256): like Iizuka et al.'s, the global path shares the
                local path's features; fully offline.
    "imagenet"  a frozen InceptionResNetV2 classifier's 1000 class scores,
                computed outside this model (shared/global_features.py) and fed
                as a second input named "embedding" (D = 1000).
A separate branch of its own convolutions from L, learned from about a hundred
photos, memorised them and painted whole regions in one training photo's colours
(it was this tier's first design); dropout on the vector keeps the decoder from
leaning on it alone.

The fusion layer records the embedding in the saved model, so test.py and the
video module know what to feed it.
"""

import keras
import numpy as np
from keras import layers

from beta.model import ENCODER_FILTERS, decoder_layers, encoder_layers
from shared.ab_bins import training_loss
from shared.data import InputError
from shared.layers import EMBEDDINGS, TileAndConcatenate, all_layers

IMAGENET_EMBEDDING_SIZE = 1000  # InceptionResNetV2's class scores
LEARNED_EMBEDDING_SIZE = 256
GLOBAL_DROPOUT = 0.5  # share of the global vector's entries zeroed at each training step


def build_encoder(image_size=256):
    """(N, S, S, 1) -> (N, S/8, S/8, 128): local features (beta's encoder)."""
    return keras.Sequential([keras.Input(shape=(image_size, image_size, 1))] + encoder_layers(), name="encoder")


def build_global_features(feature_size=32):
    """(N, F, F, 128) encoder features -> (N, 256): the learned summary of the whole image."""
    return keras.Sequential(
        [
            keras.Input(shape=(feature_size, feature_size, ENCODER_FILTERS)),
            layers.GlobalAveragePooling2D(),
            layers.Dense(LEARNED_EMBEDDING_SIZE, activation="relu"),
        ],
        name="global_features",
    )


def build_decoder(feature_size=32, loss="classification"):
    """(N, F, F, 128) -> bin logits (N, 2F, 2F, n_bins), or with loss="regression" ab_norm (N, 8F, 8F, 2)."""
    return keras.Sequential(
        [keras.Input(shape=(feature_size, feature_size, ENCODER_FILTERS))] + decoder_layers(loss), name="decoder"
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
    local_features = build_encoder(image_size)(l_norm)
    if embedding == "learned":
        inputs = l_norm
        global_vector = build_global_features(image_size // 8)(local_features)
    else:
        global_vector = keras.Input(shape=(IMAGENET_EMBEDDING_SIZE,), name="embedding")
        inputs = [l_norm, global_vector]

    global_vector = layers.Dropout(GLOBAL_DROPOUT, name="global_dropout")(global_vector)
    fused = TileAndConcatenate(embedding, name="tile_and_concatenate")([local_features, global_vector])
    fused = layers.Conv2D(ENCODER_FILTERS, 1, activation="relu", name="fusion")(fused)
    output = build_decoder(image_size // 8, loss)(fused)

    model = keras.Model(inputs, output, name="full_version")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=training_loss(loss, class_weights))
    return model


def start_from_beta(model, beta_model, freeze=True):
    """Copy a trained beta's encoder and decoder weights into `model`, and set the fusion to pass the
    encoder's features through unchanged (the global vector's weights start at zero): `model` then
    colorizes exactly as beta does, and training adds what the global vector tells. freeze=True keeps
    the encoder and decoder as beta trained them (recompile `model` before training: Keras reads
    which weights train when it compiles)."""
    beta_layers = [layer for layer in all_layers(beta_model) if layer.weights and not hasattr(layer, "layers")]
    own_layers = [layer for name in ("encoder", "decoder") for layer in model.get_layer(name).layers if layer.weights]
    beta_shapes = [[tuple(w.shape) for w in layer.weights] for layer in beta_layers]
    if beta_shapes != [[tuple(w.shape) for w in layer.weights] for layer in own_layers]:
        raise InputError(f"{beta_model.name} is not a beta model trained with this loss: its layers do not match "
                         "full_version's encoder and decoder")
    for source, target in zip(beta_layers, own_layers):
        target.set_weights(source.get_weights())
    fusion = model.get_layer("fusion")
    kernel = np.zeros(fusion.kernel.shape, dtype="float32")  # (1, 1, 128 + D, 128)
    kernel[0, 0, :ENCODER_FILTERS, :] = np.eye(ENCODER_FILTERS)  # the encoder's ReLU output stays as it is
    fusion.set_weights([kernel, np.zeros(ENCODER_FILTERS, dtype="float32")])
    for name in ("encoder", "decoder"):
        model.get_layer(name).trainable = not freeze
