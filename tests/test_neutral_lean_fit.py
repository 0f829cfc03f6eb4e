"""scripts/fit_neutral_lean.py: the lean each photo needs, and the ridge regression that predicts it."""

import cv2
import numpy as np

from scripts import fit_neutral_lean as fit
from shared import ab_bins


def test_a_grey_photo_painted_by_the_network_needs_a_large_lean_and_a_right_one_none():
    logits = np.zeros((2, 4, 4, ab_bins.N_BINS), np.float32)
    orange = int(np.argmin(((ab_bins.BINS - [40.0, 50.0]) ** 2).sum(-1)))
    logits[..., orange] = 6.0  # the network is fairly sure of an orange
    true_ab = np.zeros((2, 4, 4, 2), np.float32)
    true_ab[1] = ab_bins.BINS[orange]  # photo 0 is grey, photo 1 really orange
    errors = fit.decoded_errors(logits, true_ab, fit.LEANS, temperature=1.0, neutral_prior=True)
    best = fit.LEANS[errors.argmin(1)]
    assert best[0] >= 5.0 and best[1] == 0.0
    own = fit.decoded_errors(logits, true_ab, best, temperature=1.0, neutral_prior=True, per_photo=True)
    two_leans = fit.decoded_errors(logits, true_ab, fit.LEANS[:2], temperature=1.0, neutral_prior=True)
    np.testing.assert_allclose(two_leans, errors[:, :2])  # a grid as long as the photos are many is still a grid
    np.testing.assert_allclose(own, errors.min(1), rtol=1e-6)


def test_ridge_recovers_a_linear_rule_and_the_leans_follow_it():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 5)) * [1, 10, 0.1, 1, 1] + [0, 5, 0, 0, 0]
    targets = features @ [0.5, -0.02, 3.0, 0.0, 0.0] + 0.1
    weights, bias = fit.ridge(features, targets, strength=1e-6)
    np.testing.assert_allclose(features @ weights + bias, targets, atol=1e-4)
    leans = fit.predicted_leans(features @ weights + bias, gain=10.0)
    np.testing.assert_allclose(leans, np.logaddexp(0, 10 * targets), rtol=1e-4)
    assert fit.softplus_inverse(np.array([0.0]))[0] == np.log(np.expm1(fit.SMALLEST_LEAN))


def test_leave_one_out_never_sees_the_photo_it_predicts():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(10, 20))  # more features than photos: a ridge fits any targets exactly
    targets = rng.normal(size=10)
    weights, bias = fit.ridge(features, targets, strength=1e-6)
    np.testing.assert_allclose(features @ weights + bias, targets, atol=1e-3)  # in sample: perfect
    held_out = fit.leave_one_out(features, targets, strength=1e-6)
    assert np.abs(held_out - targets).mean() > 0.3  # each photo unseen: the noise cannot be learned

    features = rng.normal(size=(50, 3))
    rule = features @ [1.0, -2.0, 0.5] + 0.3  # a real rule is found without the photo itself
    np.testing.assert_allclose(fit.leave_one_out(features, rule, strength=1e-6), rule, atol=1e-3)


def test_the_lean_bound_is_each_photos_least_error_and_the_shipped_lean_colours_as_the_model_does():
    """benchmarks/lean_bound.py on two neutral validation photos with the shipped full_version."""
    from benchmarks import lean_bound
    from shared import cli, data, hints, inference, lab

    model = inference.load_model("full_version")
    paths = data.list_images(cli.DATASETS / "neutral" / "val")[:2]
    pooled, logits, true_ab = fit.photo_arrays(model, paths, lean_bound.IMAGE_SIZE)
    leans = lean_bound.leans_of(model, pooled, logits, true_ab)
    decoding = ab_bins.decoding_layer(model)
    errors = {method: fit.decoded_errors(logits, true_ab, lean, decoding.temperature, decoding.neutral_prior,
                                         per_photo=True)
              for method, lean in leans.items()}
    assert np.all(errors[lean_bound.BEST] <= errors[lean_bound.NO_LEAN] + 1e-6)
    assert np.all(errors[lean_bound.BEST] <= errors[lean_bound.SHIPPED] + 1e-6)
    assert np.all(leans[lean_bound.SHIPPED] > 0)  # the shipped model leans

    (_, rgb), = data.read_images(paths[:1])
    small = cv2.resize(rgb, (lean_bound.IMAGE_SIZE,) * 2, interpolation=cv2.INTER_AREA)
    l_channel = lab.rgb_to_l(small)
    inputs = {"l_norm": (l_channel / 100.0)[None, ..., None].astype(np.float32),
              "hints": np.zeros((1, *small.shape[:2], hints.HINT_CHANNELS), np.float32),
              "palette": np.zeros((1, hints.PALETTE_SIZE), np.float32)}
    outputs = model(inputs, training=False)
    own = lab.merge_l_ab(l_channel, np.asarray(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)[0])
    bound = lean_bound.coloured(model, logits[0], leans[lean_bound.SHIPPED][0], l_channel)
    assert np.abs(own.astype(int) - bound.astype(int)).mean() < 1.5  # the same colours, up to the upsampling
