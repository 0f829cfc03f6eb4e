"""The ab bins, the classification loss, its rebalancing weights and the annealed-mean decoding."""

import keras
import numpy as np
import pytest
from skimage import color

from shared import ab_bins, lab, metrics


def test_bins_are_the_in_gamut_centres_of_a_10_grid():
    assert ab_bins.N_BINS == 226  # of the 23 x 23 centres from -110 to 110, those inside sRGB for some L
    assert np.all(np.mod(ab_bins.BINS, 10) == 0)
    assert [0, 0] in ab_bins.BINS.tolist() and [-110, -110] not in ab_bins.BINS.tolist()


def test_every_bin_round_trips_through_rgb():
    lightness = ab_bins.in_gamut_lightness(ab_bins.BINS)
    assert not np.isnan(lightness).any()
    lab_values = np.concatenate([lightness[:, None], ab_bins.BINS], axis=1)
    rgb = color.xyz2rgb(color.lab2xyz(lab_values[None]))[0]
    assert rgb.min() >= 0 and rgb.max() <= 1
    np.testing.assert_allclose(color.rgb2lab(rgb[None])[0], lab_values, atol=1e-6)


def test_soft_encoding_puts_the_mass_on_the_five_nearest_bins():
    ab = np.array([[23.0, -41.0]], np.float32)
    encoded = keras.ops.convert_to_numpy(ab_bins.soft_encode(ab / lab.AB_SCALE))[0]
    assert encoded.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.count_nonzero(encoded) == 5
    distance = np.linalg.norm(ab_bins.BINS - ab, axis=1)
    np.testing.assert_array_equal(np.sort(np.flatnonzero(encoded)), np.sort(np.argsort(distance)[:5]))
    assert np.argmax(encoded) == np.argmin(distance)  # (20, -40): the nearest gets the most
    assert np.all(np.diff(encoded[np.argsort(distance)[:5]]) <= 1e-7)  # farther bins get less


def test_rebalancing_weights_are_largest_for_colours_absent_from_training():
    red = np.broadcast_to(np.array([60.0, 40.0], np.float32), (8, 8, 2))  # a one-colour training set
    weights = ab_bins.rebalancing_weights(ab_bins.bin_histogram([red]))
    seen = ab_bins.nearest_bin(np.array([60.0, 40.0]))
    assert weights[seen] == weights.min()
    far_away = np.linalg.norm(ab_bins.BINS - [60.0, 40.0], axis=1) > 30
    assert np.all(weights[far_away] > 1.5 * weights[seen])
    assert np.allclose(weights[far_away], weights.max(), rtol=1e-3)


def test_rebalancing_weights_average_one_under_the_smoothed_distribution():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 50, ab_bins.N_BINS).astype(float)
    weights = ab_bins.rebalancing_weights(counts)
    smoothed = ab_bins.smooth_over_ab(counts / counts.sum())
    assert float((smoothed * weights).sum()) == pytest.approx(1.0, rel=1e-5)


def test_annealed_mean_goes_from_the_mode_to_the_mean():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, ab_bins.N_BINS)).astype(np.float32)
    logits[:, 17] += 10.0  # a clear mode
    mode = keras.ops.convert_to_numpy(ab_bins.annealed_mean(logits, temperature=1e-3))
    np.testing.assert_allclose(mode * lab.AB_SCALE, np.repeat(ab_bins.BINS[17:18], 3, axis=0), atol=1e-3)
    probability = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    mean = keras.ops.convert_to_numpy(ab_bins.annealed_mean(logits, temperature=1.0))
    np.testing.assert_allclose(mean * lab.AB_SCALE, probability @ ab_bins.BINS, atol=1e-3)


def test_the_loss_is_lowest_for_logits_that_point_at_the_true_colour():
    ab_norm = np.broadcast_to(np.array([30.0, 20.0]) / lab.AB_SCALE, (1, 8, 8, 2)).astype(np.float32)
    loss = ab_bins.RebalancedCrossEntropy()
    target = keras.ops.convert_to_numpy(ab_bins.soft_encode(ab_norm[:, :2, :2]))  # the logits are 4x smaller
    right = np.log(target + 1e-6)
    wrong = np.roll(right, 100, axis=-1)  # the same distribution around another colour
    entropy = float(-(target * np.log(target + 1e-12)).sum(-1).mean())
    assert float(loss(ab_norm, right)) == pytest.approx(entropy, abs=0.01)  # all weights 1: cross-entropy = entropy
    assert float(loss(ab_norm, wrong)) > 5 * float(loss(ab_norm, right))


def test_the_loss_keeps_its_weights_through_a_save():
    weights = np.linspace(0.5, 2.0, ab_bins.N_BINS)
    restored = ab_bins.RebalancedCrossEntropy.from_config(ab_bins.RebalancedCrossEntropy(weights).get_config())
    np.testing.assert_allclose(restored.class_weights, weights, rtol=1e-6)


def test_rebalanced_auc_counts_each_colour_alike():
    """3 grey pixels exact and 1 red pixel 50 ab units off: plain AuC weighs them 3:1, rebalanced 1:1."""
    original_lab = np.array([[[50.0, 0.0, 0.0], [50.0, 0.0, 0.0], [50.0, 0.0, 0.0], [50.0, 60.0, 40.0]]])
    result_lab = original_lab.copy()
    result_lab[0, 3, 1:] = [30.0, 0.0]  # error |(60, 40) - (30, 0)| = 50
    original, result = lab.lab_to_rgb(original_lab), lab.lab_to_rgb(result_lab)
    errors = metrics.ab_error(result, original).ravel()
    thresholds = metrics.AUC_THRESHOLDS
    per_pixel = (errors[None, :] <= thresholds[:, None]).mean(axis=0)  # share of thresholds each pixel is within
    assert metrics.auc(result, original) == pytest.approx(100 * per_pixel.mean(), abs=1e-6)
    assert metrics.rebalanced_auc(result, original) == pytest.approx(100 * (per_pixel[:3].mean() + per_pixel[3]) / 2, abs=1e-6)
    assert metrics.rebalanced_auc(result, original) < metrics.auc(result, original)


def decode(logits, **options):
    return keras.ops.convert_to_numpy(ab_bins.annealed_mean(np.asarray(logits, np.float32), **options)) * lab.AB_SCALE


def test_a_uniform_distribution_decodes_to_grey_with_the_neutral_prior_not_to_the_bins_centroid():
    uniform = np.zeros((2, ab_bins.N_BINS), np.float32)
    np.testing.assert_allclose(decode(uniform, temperature=1.0), np.repeat(ab_bins.BINS.mean(0)[None], 2, 0),
                               atol=1e-3)
    assert ab_bins.BINS.mean(0)[0] > 10  # the salmon-orange drift the prior removes
    for temperature in (0.38, 1.0, 2.0, 100.0):
        np.testing.assert_allclose(decode(uniform, temperature=temperature, neutral_prior=True), 0.0, atol=1e-3)
    rng = np.random.default_rng(2)
    noisy = rng.normal(size=(4, ab_bins.N_BINS)).astype(np.float32)  # high T flattens it: toward grey
    assert np.abs(decode(noisy, temperature=50.0, neutral_prior=True)).max() < 1.0
    confident = np.full((1, ab_bins.N_BINS), -20.0, np.float32)
    confident[0, 17] = 20.0  # a sure pixel keeps its colour under the prior
    np.testing.assert_allclose(decode(confident, temperature=1.0, neutral_prior=True), ab_bins.BINS[17:18], atol=0.5)


def test_the_entropy_restraint_keeps_sure_colours_and_fades_unknown_ones():
    sure = np.full((1, ab_bins.N_BINS), -20.0, np.float32)
    sure[0, 17] = 20.0
    unsure = np.zeros((1, ab_bins.N_BINS), np.float32)
    unsure[0, 17] = 0.5  # nearly flat: still leans to bin 17
    entropy = keras.ops.convert_to_numpy(ab_bins.normalised_entropy(np.concatenate([sure, unsure])))
    assert entropy[0] < 0.01 and entropy[1] > 0.99
    plain = decode(unsure, temperature=1.0)
    restrained = decode(unsure, temperature=1.0, restraint_midpoint=0.7, restraint_width=0.1)
    expected = 1.0 / (1.0 + np.exp(-(0.7 - entropy[1]) / 0.1))
    np.testing.assert_allclose(restrained, plain * expected, rtol=1e-4, atol=1e-4)
    assert np.abs(restrained).max() < 0.1 * np.abs(plain).max()
    np.testing.assert_allclose(decode(sure, temperature=1.0, restraint_midpoint=0.7), decode(sure, temperature=1.0),
                               rtol=2e-3)  # sigmoid((0.7 - 0) / 0.1): 0.999


def test_the_restraint_is_saved_with_the_model_and_old_models_decode_as_before(tmp_path):
    logits_in = keras.Input((4, 4, ab_bins.N_BINS))
    restrained = keras.Model(logits_in, ab_bins.AnnealedMean(2.0, neutral_prior=True, restraint_midpoint=0.6,
                                                             restraint_width=0.05)(logits_in))
    restrained.save(tmp_path / "restrained.keras")
    layer = ab_bins.decoding_layer(keras.models.load_model(tmp_path / "restrained.keras"))
    assert (layer.temperature, layer.neutral_prior, layer.restraint_midpoint, layer.restraint_width) == (
        2.0, True, 0.6, 0.05)
    old_config = {"name": "annealed_mean", "temperature": 2.0}  # what models saved before the restraint hold
    old = ab_bins.AnnealedMean.from_config(old_config)
    assert not old.neutral_prior and old.restraint_midpoint is None
    logits = np.random.default_rng(3).normal(size=(1, 4, 4, ab_bins.N_BINS)).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(old(logits)),
                               keras.ops.convert_to_numpy(ab_bins.annealed_mean(logits, 2.0)), atol=1e-6)


def test_the_neutral_lean_strength_scales_the_pull_toward_grey_and_is_saved():
    logits = np.random.default_rng(0).normal(size=(2, 3, 3, ab_bins.N_BINS)).astype(np.float32)
    vector = np.ones((2, 4), np.float32)
    lean = ab_bins.NeutralLean()
    lean.build([logits.shape, vector.shape])
    lean.bias.assign([0.1])  # g = softplus(10 * 0.1) = 1.31 for every photo
    pull = np.log1p(np.e) * (ab_bins.BINS**2).sum(-1) / (2 * ab_bins.NEUTRAL_LEAN_SIGMA**2)
    for strength in (0.0, 1.0, 2.5):
        lean.strength = strength
        np.testing.assert_allclose(keras.ops.convert_to_numpy(lean([logits, vector])), logits - strength * pull,
                                   rtol=1e-4, atol=1e-4)
    assert ab_bins.NeutralLean.from_config(lean.get_config()).strength == 2.5
    assert ab_bins.NeutralLean.from_config({k: v for k, v in lean.get_config().items() if k != "strength"}).strength == 1.0
