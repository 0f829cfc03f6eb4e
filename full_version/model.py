"""Full version tier: an ImageNet-trained encoder, a whole-image vector fused at the bottleneck,
a decoder that climbs back through the encoder's scales, and a path for the user's hints.

A few hundred photos cannot teach a network what a leaf, water or a road is; a classifier trained on
ImageNet's 1.3 million photos already knows. The encoder is EfficientNet-Lite0 with its ImageNet
weights (shared/efficientnet.py, shipped in the repository), seeing the grayscale image as RGB.
Its features at 1/32 of the input are pooled into one 1280-d summary of the whole image (what
kind of scene this is), which goes through a dense layer, is tiled over the bottleneck and fused
there (Iizuka et al. 2016). The decoder upsamples by two three times, each time concatenating the
encoder's features of that scale (skip connections, as in a U-Net), and ends in logits over the ab
bins at a quarter of the input size (shared/ab_bins.py): the automatic colours.

    l_norm (N, S, S, 1) -> gray RGB -> EfficientNet-Lite0 -> /4 (24), /8 (40), /16 (112), /32 (1280)
    /32 -> 1x1 conv 256 + tiled dense(pooled 1280) -> fusion 1x1 conv 256
        -> up, /16 skip -> conv 192 -> up, /8 skip -> conv 128 -> up, /4 skip -> conv 128, conv 128
        -> automatic bin logits (N, S/4, S/4, n_bins)
    guided logits = automatic + the hint path's correction + the hint and palette priors

The user's hints (shared/hints.py) are a map of ab where the user gave a colour plus a mask, and a
palette (the ab histogram of a reference photo, with a "given" flag). The hint path reads them at
three scales, the palette through a dense layer tiled over the grid, and the decoder's last features,
and adds a correction to the automatic logits, gated to exactly zero for an image with neither. No
gradient flows from it into the rest, and both outputs are trained (the automatic one on every image,
the guided one with simulated users): the automatic colours learn exactly as they would without
hints. Two layers without weights add each hint's colour, spread over the cells like it, and the
palette's colours, to the guided logits; the learned path alone did little after short trainings.
The saved model decodes the guided logits to ab_norm (N, S, S, 2) by an annealed mean.
"""

import keras
from keras import layers

from shared import efficientnet
from shared.ab_bins import N_BINS, NeutralLean, logits_head, training_loss
from shared.hints import HINT_CHANNELS, HINT_COLOUR_SIGMA, PALETTE_SIZE, GuidanceGate, HintPrior, PalettePrior
from shared.layers import StopGradient, TileAndConcatenate, conv

GLOBAL_SIZE = 256  # the fused whole-image vector
GLOBAL_DROPOUT = 0.2  # share of the global vector's entries zeroed at each training step
DECODER_FILTERS = {16: 192, 8: 128, 4: 128}  # stride -> channels of the decoder at that scale
HINT_FILTERS = 32  # channels the hints get at each scale
PALETTE_FILTERS = 64  # channels the palette gets at every position
CORRECTION_FILTERS = 64  # channels of the hint path's last convolution


def build_encoder(image_size):
    """l_norm (N, S, S, 1) -> EfficientNet-Lite0's features {stride: (N, S/stride, S/stride, C)} for
    strides 4, 8, 16, 32, the ImageNet weights loaded and frozen (BatchNorm in inference mode)."""
    classifier = efficientnet.build_classifier((image_size, image_size, 3))
    strides = {stride: name for name, stride in efficientnet.FEATURE_STRIDES.items() if stride >= 4}
    features = keras.Model(classifier.input, [classifier.get_layer(strides[s]).output for s in sorted(strides)],
                           name="encoder")
    features.trainable = False
    l_norm = keras.Input(shape=(image_size, image_size, 1), name="l_norm")
    gray = layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name="gray_to_encoder_range")(l_norm)  # L*2.55 ~ gray
    rgb = layers.Concatenate(name="gray_rgb")([gray, gray, gray])
    return l_norm, dict(zip(sorted(strides), features(rgb)))


def global_vector(pooled_features):
    """What the whole image is (pooled ImageNet features) -> (N, 256)."""
    vector = layers.Dense(GLOBAL_SIZE, activation="relu", name="global_features")(pooled_features)
    return layers.Dropout(GLOBAL_DROPOUT, name="global_dropout")(vector)


def hint_correction(decoder_features, hints, palette):
    """What the learned hint path adds to the automatic logits (N, S/4, S/4, n_bins): from the decoder's
    last features (no gradient flows back into them), the hints at 1/4, 1/8 and 1/16 and the palette;
    exactly zero for an image given neither."""
    automatic_features = StopGradient(name="automatic_features")(decoder_features)
    at_4 = conv(HINT_FILTERS, name="hints_conv_4")(layers.AveragePooling2D(4, name="hints_at_4")(hints))
    at_8 = conv(HINT_FILTERS, strides=2, name="hints_conv_8")(at_4)
    at_16 = conv(HINT_FILTERS, strides=2, name="hints_conv_16")(at_8)
    wide = [layers.UpSampling2D(stride // 4, interpolation="bilinear", name=f"hints_{stride}_to_4")(features)
            for stride, features in ((8, at_8), (16, at_16))]
    local = layers.Concatenate(name="hints_and_features")([automatic_features, at_4, *wide])
    palette_vector = layers.Dense(PALETTE_FILTERS, activation="relu", name="palette_vector")(palette)
    x = TileAndConcatenate("efficientnet", name="palette_everywhere")([local, palette_vector])
    x = conv(CORRECTION_FILTERS, name="hint_conv")(x)
    correction = layers.Conv2D(N_BINS, 1, name="hint_logits")(x)
    return GuidanceGate(name="only_with_guidance")([correction, hints, palette])


def guidance_priors(l_norm, encoded, hints, palette, automatic_logits):
    """What the user's hints and reference palette add to the bin logits at 1/4, zero without them
    (shared/hints.py): each hint spreads over the cells like it in ImageNet features, lightness and
    automatic colour."""
    features = layers.Concatenate(name="affinity_features")(
        [encoded[8], layers.UpSampling2D(2, name="affinity_16_to_8")(encoded[16])])
    l_cells = layers.AveragePooling2D(8, name="l_at_8")(l_norm)
    hint_prior = HintPrior(centre_features=True, colour_sigma=HINT_COLOUR_SIGMA, name="hint_prior")(
        [features, l_cells, hints, automatic_logits])
    hint_prior = layers.UpSampling2D(2, interpolation="bilinear", name="hint_prior_at_4")(hint_prior)
    palette_prior = PalettePrior(name="palette_prior")(palette)  # (N, 1, 1, n_bins)
    return hint_prior + palette_prior  # the palette's prior is the same at every position


NEUTRAL_LEAN = "neutral_lean"  # the layer's name; a model without it (trained before) loads and runs as it was


def build_model(image_size=224, learning_rate=3e-4, loss="classification", class_weights=None, neutral_lean=True):
    """The full network, compiled with Adam and the classification loss (rebalanced cross-entropy).

    Inputs: "l_norm" (N, S, S, 1), "hints" (N, S, S, 3), "palette" (N, n_bins + 1). Outputs: the guided
    logits, then the automatic ones (N, S/4, S/4, n_bins), each trained with that loss against the true ab.
    neutral_lean: the automatic logits lean toward grey by a learned amount per image (ab_bins.NeutralLean).
    """
    if loss != "classification":
        raise ValueError("full_version predicts colour classes: train it with --loss classification")
    if image_size % 32:
        raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
    l_norm, encoded = build_encoder(image_size)
    hints = keras.Input(shape=(image_size, image_size, HINT_CHANNELS), name="hints")
    palette = keras.Input(shape=(PALETTE_SIZE,), name="palette")

    pooled = layers.GlobalAveragePooling2D(name="pool")(encoded[32])
    vector = global_vector(pooled)
    bottleneck = layers.Conv2D(GLOBAL_SIZE, 1, activation="relu", name="bottleneck")(encoded[32])
    fused = TileAndConcatenate("efficientnet", name="tile_and_concatenate")([bottleneck, vector])
    x = layers.Conv2D(GLOBAL_SIZE, 1, activation="relu", name="fusion")(fused)
    for stride in (16, 8, 4):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up_to_{stride}")(x)
        x = layers.Concatenate(name=f"skip_{stride}")([x, encoded[stride]])
        x = conv(DECODER_FILTERS[stride], name=f"decoder_{stride}")(x)
    x = conv(DECODER_FILTERS[4], name="decoder_4b")(x)
    automatic = logits_head()(x)
    if neutral_lean:  # the whole scene's lean toward grey, from the pooled ImageNet features
        automatic = NeutralLean(name=NEUTRAL_LEAN)([automatic, pooled])
    automatic_logits = StopGradient(name="automatic_logits")(automatic)
    guided = layers.Add(name="guided_logits")([
        automatic_logits, hint_correction(x, hints, palette),
        guidance_priors(l_norm, encoded, hints, palette, automatic_logits)])

    inputs = {"l_norm": l_norm, "hints": hints, "palette": palette}
    model = keras.Model(inputs, [guided, automatic], name="full_version")  # the first is what is saved
    loss_fn = training_loss(loss, class_weights)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=[loss_fn, loss_fn])
    return model


def unfreeze_encoder(model, learning_rate):
    """Fine-tune the encoder too, its BatchNorm statistics kept as ImageNet left them; recompiled."""
    encoder = model.get_layer("encoder")
    encoder.trainable = True
    for layer in encoder.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=model.loss)
    return model


TRAINING_OUTPUTS = 2  # build_model's outputs: the guided and the automatic logits
