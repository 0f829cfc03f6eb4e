"""Colour as classes: ab quantised into bins, the classification loss, and its decoding.

Zhang, Isola and Efros ("Colorful Image Colorization", ECCV 2016): a mean-squared
error on ab rewards the average of the plausible colours, a brownish grey. So the
network predicts, per pixel, a probability for each ab bin instead, and is trained
with a cross-entropy that counts rare (saturated) colours more. At inference the
distribution is decoded with an annealed mean: the mean of softmax(logits / T),
between the mode (T -> 0, vivid but speckled) and the plain mean (T = 1, calm but dull).

    bins            the centres of a 10x10 grid over ab that are in the sRGB gamut for
                    at least one L; ab units (about -110..110)
    logits          (N, h, w, n_bins) at a quarter of the input size (OUTPUT_STRIDE)
    ab_norm         ab / 128, as everywhere in the project (shared/lab.py)
"""

import numpy as np

import keras
from keras import layers, ops

from shared import lab

GRID_STEP = 10.0  # ab units between neighbouring bin centres
GRID_LIMIT = 110.0  # centres from -110 to 110 in a and in b; sRGB needs no more
SOFT_NEIGHBOURS = 5  # a target colour is spread over this many nearest bins
SOFT_SIGMA = 5.0  # ab units, the Gaussian of that spread
SMOOTHING_SIGMA = 5.0  # ab units, the Gaussian that smooths the training set's colour histogram
UNIFORM_MIX = 0.5  # lambda: how much of the uniform distribution is mixed into it
DEFAULT_TEMPERATURE = 0.38  # annealed-mean temperature (Zhang et al.)
DEFAULT_RESTRAINT_WIDTH = 0.1  # normalised entropy over which a pixel's colour fades (annealed_mean)
OUTPUT_STRIDE = 4  # classification heads predict at a quarter of the input size

def in_gamut_lightness(ab, lightness_steps=201):
    """For each ab (n, 2): an L in [0, 100] where (L, a, b) is inside sRGB, or NaN if there is none."""
    ab = np.asarray(ab, np.float64)
    lightness = np.linspace(0.0, 100.0, lightness_steps)
    grid = np.concatenate(
        [np.repeat(lightness, len(ab))[:, None], np.tile(ab, (len(lightness), 1))], axis=1
    ).reshape(len(lightness), len(ab), 3)
    linear = lab.lab_to_linear_rgb(grid)
    inside = np.all((linear >= 0.0) & (linear <= 1.0), axis=-1)  # (lightness, n)
    middle = np.full(len(ab), np.nan)
    for i in np.flatnonzero(inside.any(axis=0)):
        middle[i] = np.median(lightness[inside[:, i]])  # the middle of the in-gamut range: safest for a round trip
    return middle


def _compute_bins():
    centres = np.arange(-GRID_LIMIT, GRID_LIMIT + GRID_STEP / 2, GRID_STEP)
    a, b = np.meshgrid(centres, centres, indexing="ij")
    candidates = np.stack([a.ravel(), b.ravel()], axis=1)
    return candidates[~np.isnan(in_gamut_lightness(candidates))].astype(np.float32)


BINS = _compute_bins()  # (n_bins, 2), ab units
N_BINS = len(BINS)


def nearest_bin(ab):
    """ab (..., 2) in ab units -> index of the nearest bin (...)."""
    ab = np.asarray(ab, np.float32)
    flat = ab.reshape(-1, 2)
    squared = (flat**2).sum(1)[:, None] - 2.0 * flat @ BINS.T + (BINS**2).sum(1)[None]
    return squared.argmin(axis=1).reshape(ab.shape[:-1])


# --- rebalancing weights ------------------------------------------------------------------


def bin_histogram(ab_images, step=2):
    """Counts of each bin's colour over images of ab (each HxWx2, ab units), every `step`-th pixel."""
    counts = np.zeros(N_BINS, np.float64)
    for ab in ab_images:
        counts += np.bincount(nearest_bin(ab[::step, ::step]).ravel(), minlength=N_BINS)
    return counts


def smooth_over_ab(values, sigma=SMOOTHING_SIGMA):
    """Gaussian smoothing of per-bin values over the ab plane (sigma in ab units), mass kept."""
    squared = ((BINS[:, None, :] - BINS[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-squared / (2.0 * sigma**2))
    return kernel @ (values / kernel.sum(axis=0))


def rebalancing_weights(counts, mix=UNIFORM_MIX, sigma=SMOOTHING_SIGMA):
    """Zhang et al.'s class weights from a bin histogram: rare colours weigh more.

    w ~ 1 / ((1 - mix) p_smoothed + mix / n_bins), scaled so that the expected
    weight under p_smoothed is 1. A colour that never occurs gets the largest weight.
    """
    counts = np.asarray(counts, np.float64)
    if counts.sum() <= 0:
        raise ValueError("the colour histogram is empty")
    probability = smooth_over_ab(counts / counts.sum(), sigma)
    weights = 1.0 / ((1.0 - mix) * probability + mix / N_BINS)
    return (weights / (probability * weights).sum()).astype(np.float32)


# --- the loss ------------------------------------------------------------------------------


def _squared_distances(ab_norm):
    """ab_norm (..., 2) -> squared ab distance to every bin (..., n_bins), in ab units^2."""
    ab = ab_norm * lab.AB_SCALE
    bins = ops.convert_to_tensor(BINS)
    return (
        ops.sum(ab**2, axis=-1, keepdims=True)
        - 2.0 * ops.matmul(ab, ops.transpose(bins))
        + ops.sum(bins**2, axis=-1)
    )


def soft_encode(ab_norm, neighbours=SOFT_NEIGHBOURS, sigma=SOFT_SIGMA):
    """Targets (..., 2) as ab_norm -> distributions over the bins (..., n_bins).

    Each colour's mass goes to its `neighbours` nearest bins, weighted by a
    Gaussian of the distance (sigma in ab units); the rest of the bins get 0.
    """
    squared = _squared_distances(ops.convert_to_tensor(ab_norm, "float32"))
    nearest, _ = ops.top_k(-squared, k=neighbours)  # negated: the k smallest distances
    kept = -squared >= nearest[..., -1:]
    mass = ops.where(kept, ops.exp(-(squared - ops.min(squared, axis=-1, keepdims=True)) / (2.0 * sigma**2)), 0.0)
    return mass / ops.sum(mass, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="colorize")
class RebalancedCrossEntropy(keras.losses.Loss):
    """Per-pixel cross-entropy between the soft-encoded true ab and softmax(logits), rebalanced.

    y_true: ab_norm (N, H, W, 2) at the input size, averaged down to the logits' size.
    y_pred: logits (N, H/s, W/s, n_bins). Each pixel is weighted by its nearest bin's
    `class_weights` entry (stored in the config, so a saved training state keeps them).
    """

    def __init__(self, class_weights=None, name="rebalanced_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = [1.0] * N_BINS if class_weights is None else [float(w) for w in class_weights]
        if len(self.class_weights) != N_BINS:
            raise ValueError(f"expected {N_BINS} class weights, got {len(self.class_weights)}")

    def call(self, y_true, y_pred):
        factor = ops.shape(y_true)[1] // ops.shape(y_pred)[1]
        if factor > 1:
            y_true = ops.average_pool(y_true, factor, strides=factor, padding="valid")
        target = soft_encode(y_true)
        log_probability = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        cross_entropy = -ops.sum(target * log_probability, axis=-1)
        pixel_weight = ops.take(ops.convert_to_tensor(self.class_weights), ops.argmax(target, axis=-1))
        return ops.mean(pixel_weight * cross_entropy, axis=(1, 2))

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights}


# --- decoding -------------------------------------------------------------------------------


def _neutral_log_prior():
    """log w per bin: the exponential tilt w_k = exp(lambda . c_k) (the most uniform weights, by entropy)
    whose weighted mean of the bin centres c_k is ab = (0, 0). The centres themselves average to about
    a = +15, b = +7 (the sRGB gamut is wider toward red and yellow), so a flat distribution decodes to a
    salmon-orange; weighted by w it decodes to grey. Newton's method on the convex log-sum-exp."""
    centres = BINS.astype(np.float64)
    tilt = np.zeros(2)
    for _ in range(50):
        logit = centres @ tilt
        weight = np.exp(logit - logit.max())
        weight /= weight.sum()
        mean = weight @ centres
        if np.abs(mean).max() < 1e-9:
            break
        covariance = (centres - mean).T @ ((centres - mean) * weight[:, None])
        tilt -= np.linalg.solve(covariance, mean)
    log_prior = centres @ tilt
    return (log_prior - np.log(np.exp(log_prior).sum())).astype(np.float32)


NEUTRAL_LOG_PRIOR = _neutral_log_prior()  # (n_bins,): a uniform distribution times exp(this) decodes to ab = 0


def normalised_entropy(logits):
    """logits (..., n_bins) -> the entropy of softmax(logits) over log(n_bins), (...): 0 for a pixel the
    network is sure of (one bin), 1 for one it knows nothing about (all bins alike)."""
    log_probability = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return -ops.sum(ops.exp(log_probability) * log_probability, axis=-1) / float(np.log(N_BINS))


def annealed_mean(logits, temperature=DEFAULT_TEMPERATURE, neutral_prior=False, restraint_midpoint=None,
                  restraint_width=DEFAULT_RESTRAINT_WIDTH):
    """logits (..., n_bins) -> ab_norm (..., 2): the mean of softmax(logits / T) over the bin centres.

    neutral_prior: the distribution is multiplied by NEUTRAL_LOG_PRIOR's weights before it is normalised,
    so that flattening it (a high T, an unsure pixel) moves its colour toward grey rather than toward the
    bins' salmon-orange centroid. restraint_midpoint (None: off): each pixel's ab is scaled by
    sigmoid((midpoint - entropy) / width), the entropy of its untempered distribution normalised to 0..1:
    colours the network is sure of are kept, those it does not know fade toward grey.
    """
    logits = ops.cast(logits, "float32")
    tempered = logits / temperature
    if neutral_prior:
        tempered = tempered + ops.convert_to_tensor(NEUTRAL_LOG_PRIOR)
    ab_norm = ops.matmul(ops.softmax(tempered, axis=-1), ops.convert_to_tensor(BINS / lab.AB_SCALE))
    if restraint_midpoint is None:
        return ab_norm
    keep = ops.sigmoid((restraint_midpoint - normalised_entropy(logits)) / restraint_width)
    return ab_norm * keep[..., None]


@keras.saving.register_keras_serializable(package="colorize")
class AnnealedMean(layers.Layer):
    """The decoding layer at the end of a classification model: logits -> ab_norm.

    `temperature` can be changed on a loaded model before it first runs
    (test.py and video.py's --temperature): lower is more vivid, higher calmer.
    `neutral_prior` and `restraint_midpoint`/`restraint_width` (annealed_mean) restrain the colours
    where the network is unsure; both off by default, so models saved before them decode as they did.
    """

    def __init__(self, temperature=DEFAULT_TEMPERATURE, neutral_prior=False, restraint_midpoint=None,
                 restraint_width=DEFAULT_RESTRAINT_WIDTH, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)
        self.neutral_prior = bool(neutral_prior)
        self.restraint_midpoint = None if restraint_midpoint is None else float(restraint_midpoint)
        self.restraint_width = float(restraint_width)
        if not self.restraint_width > 0:
            raise ValueError(f"restraint_width must be positive, got {restraint_width}")

    def call(self, logits):
        return annealed_mean(logits, self.temperature, self.neutral_prior, self.restraint_midpoint,
                             self.restraint_width)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "neutral_prior": self.neutral_prior,
                "restraint_midpoint": self.restraint_midpoint, "restraint_width": self.restraint_width}


NEUTRAL_LEAN_SIGMA = 25.0  # ab units: the lean's logit falls by g / 2 at one sigma from grey
NEUTRAL_LEAN_GAIN = 10.0  # the lean's weights learn this much faster than the rest (a fine-tune's few steps)


@keras.saving.register_keras_serializable(package="colorize")
class NeutralLean(layers.Layer):
    """[logits (N, h, w, n_bins), image vector (N, C)] -> logits - g |c_k|^2 / (2 sigma^2) for every bin k.

    g = softplus(gain (w . vector + b)) >= 0 is one learned number per image: how far the whole scene (its
    pooled ImageNet features: snow, a road, fog, concrete) leans toward grey. It starts near 0 (w = 0,
    gain b = -4), so a trained model given this layer colours as it did until training teaches it which
    scenes are neutral; `gain` multiplies the step its weights take, so that a short fine-tune moves them.
    `strength` multiplies g when colorizing (`colorize --neutral-lean`; saved with the model, 0.3 in the shipped
    full_version): 0 gives the network's own colours, 1 the lean as fitted (the least ab error), 2 twice that;
    it can be changed on a loaded model before it runs.
    """

    def __init__(self, sigma=NEUTRAL_LEAN_SIGMA, gain=NEUTRAL_LEAN_GAIN, strength=1.0, **kwargs):
        super().__init__(**kwargs)
        self.sigma, self.gain, self.strength = float(sigma), float(gain), float(strength)

    def build(self, input_shapes):
        vector_size = input_shapes[1][-1]
        self.kernel = self.add_weight(shape=(vector_size, 1), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(-4.0 / self.gain),
                                    name="bias")

    def lean(self, vector):
        """(N,) the learned g of each image."""
        dtype = self.compute_dtype
        pre = ops.matmul(ops.cast(vector, dtype), ops.cast(self.kernel, dtype)) + ops.cast(self.bias, dtype)
        return ops.softplus(self.gain * pre)[:, 0]

    def call(self, inputs):
        logits, vector = inputs
        squared = ops.convert_to_tensor((BINS**2).sum(-1) / (2.0 * self.sigma**2), logits.dtype)
        lean = ops.cast(self.strength * self.lean(vector), logits.dtype)
        return logits - lean[:, None, None, None] * squared

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "gain": self.gain, "strength": self.strength}


def logits_head(name="ab_logits"):
    """The last layer of every classification model: one logit per bin and pixel."""
    return layers.Conv2D(N_BINS, 1, name=name)


def is_classifier(model):
    """True for a model whose output is bin logits (a model being trained with RebalancedCrossEntropy)."""
    return model.outputs[0].shape[-1] == N_BINS


def with_decoding(model, temperature=DEFAULT_TEMPERATURE, **restraint):
    """A logits model -> the same layers mapping its inputs to ab_norm at the input size; `restraint`:
    AnnealedMean's neutral_prior, restraint_midpoint and restraint_width."""
    ab_norm = AnnealedMean(temperature, name="annealed_mean", **restraint)(model.outputs[0])
    ab_norm = layers.UpSampling2D(OUTPUT_STRIDE, interpolation="bilinear", name="to_input_size")(ab_norm)
    return keras.Model(model.inputs, ab_norm, name=model.name)


def _first_layer(model, kind):
    """The first layer of class `kind` in the model or the models inside it, or None."""
    for layer in model.layers:
        if isinstance(layer, kind):
            return layer
        if hasattr(layer, "layers"):
            inner = _first_layer(layer, kind)
            if inner is not None:
                return inner
    return None


def decoding_layer(model):
    """The model's AnnealedMean layer, or None for a regression model."""
    return _first_layer(model, AnnealedMean)


def neutral_lean_layer(model):
    """The model's NeutralLean layer, or None for a model without one (beta, alpha, older full_versions)."""
    return _first_layer(model, NeutralLean)


def loss_of(model):
    """"classification" or "regression": which loss trained a saved colorizer."""
    return "classification" if decoding_layer(model) is not None else "regression"


LOSSES = ("classification", "regression")


def training_loss(loss, class_weights=None):
    """--loss classification|regression -> what `model.compile` takes."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return RebalancedCrossEntropy(class_weights) if loss == "classification" else "mse"
