"""Each metric of shared/metrics.py on tiny images whose answer is computed by hand."""

import math

import numpy as np
import pytest

from shared import lab, metrics


def uniform(rgb, height=8, width=8):
    return np.full((height, width, 3), rgb, dtype=np.uint8)


def photo_like(seed=0, height=24, width=32):
    """A smooth colourful uint8 image: gradients plus a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (height + width) + 60], axis=-1)
    return np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)


def one_pixel_lab(rgb):
    return lab.rgb_to_lab(uniform(rgb, 1, 1))[0, 0].astype(np.float64)


# --- identical images -----------------------------------------------------------------------


def test_identical_images_give_the_best_value_of_every_metric():
    image = photo_like()
    assert metrics.psnr(image, image) == metrics.PSNR_CAP == 100.0
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.auc(image, image) == 100.0
    assert metrics.ciede2000(image, image) == 0.0


# --- PSNR and SSIM --------------------------------------------------------------------------


def test_psnr_of_a_known_mean_squared_error():
    original = uniform((100, 100, 100))
    assert metrics.psnr(uniform((110, 110, 110)), original) == pytest.approx(10 * math.log10(255**2 / 100))  # 28.13 dB
    half = original.copy()
    half[:, :4] = 110  # half the pixels off by 10 in every channel: MSE 50
    assert metrics.psnr(half, original) == pytest.approx(10 * math.log10(255**2 / 50))


def test_ssim_is_symmetric_and_below_one_for_different_images():
    a, b = photo_like(0), photo_like(1)
    assert metrics.ssim(a, b) == pytest.approx(metrics.ssim(b, a))
    assert 0.0 < metrics.ssim(a, b) < 0.99
    assert metrics.ssim(a[:5, :4], a[:5, :4]) == pytest.approx(1.0)  # images smaller than the 7 px window


def test_metrics_refuse_images_of_different_shapes():
    for metric in (metrics.psnr, metrics.ssim, metrics.auc, metrics.ciede2000):
        with pytest.raises(ValueError, match="differ in shape"):
            metric(uniform((1, 2, 3), 8, 8), uniform((1, 2, 3), 8, 9))


# --- AuC ------------------------------------------------------------------------------------

# A gray original and the same lightness shifted by (a, b) = (7.5, 10): 12.5 ab units by design.
# The uint8 RGB round trip moves a and b by less than 0.5, so the actual error lies in (12, 13):
# checked first, then every threshold t >= 13 counts a pixel and t <= 12 does not.
GRAY_RGB = lab.lab_to_rgb(np.array([[[60.0, 0.0, 0.0]]]))[0, 0]
SHIFTED_RGB = lab.lab_to_rgb(np.array([[[60.0, 7.5, 10.0]]]))[0, 0]


def test_auc_of_a_known_uniform_ab_shift():
    error = np.linalg.norm(one_pixel_lab(SHIFTED_RGB)[1:] - one_pixel_lab(GRAY_RGB)[1:])
    assert 12.0 < error < 13.0
    thresholds_reached = 151 - 13  # t = 13..150 of t = 0..150
    assert metrics.auc(uniform(SHIFTED_RGB), uniform(GRAY_RGB)) == pytest.approx(100 * thresholds_reached / 151)


def test_auc_averages_the_share_of_pixels_over_thresholds():
    original = uniform(GRAY_RGB)
    result = original.copy()
    result[:, :4] = SHIFTED_RGB  # half the pixels shifted, half exact (they count at every threshold)
    expected = 100 * (0.5 * 151 + 0.5 * (151 - 13)) / 151
    assert metrics.auc(result, original) == pytest.approx(expected)


def test_auc_is_zero_when_every_error_is_beyond_150():
    green, magenta = (0, 255, 0), (255, 0, 255)
    assert np.linalg.norm(one_pixel_lab(green)[1:] - one_pixel_lab(magenta)[1:]) > 150
    assert metrics.auc(uniform(green), uniform(magenta)) == 0.0


# --- CIEDE2000 ------------------------------------------------------------------------------


def test_ciede2000_of_two_grays_is_their_weighted_lightness_difference():
    # For neutral colours (a = b = 0) CIEDE2000 reduces to |L1 - L2| / S_L,
    # S_L = 1 + 0.015 (L_mean - 50)^2 / sqrt(20 + (L_mean - 50)^2).
    dark, light = (90, 90, 90), (150, 150, 150)
    l_dark, l_light = one_pixel_lab(dark)[0], one_pixel_lab(light)[0]
    l_mean = (l_dark + l_light) / 2
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    expected = abs(l_light - l_dark) / s_l
    assert expected > 15  # a real difference, not a rounding artefact
    assert metrics.ciede2000(uniform(dark), uniform(light)) == pytest.approx(expected, abs=1e-3)


# --- colourfulness --------------------------------------------------------------------------


def test_colorfulness_of_gray_is_zero():
    assert metrics.colorfulness(photo_like()[..., :1].repeat(3, axis=-1)) == 0.0


def test_colorfulness_of_a_uniform_colour_is_its_mean_term():
    # Green: rg = -255, yb = 127.5 everywhere; no spread, so M = 0.3 sqrt(255^2 + 127.5^2).
    assert metrics.colorfulness(uniform((0, 255, 0))) == pytest.approx(0.3 * math.hypot(255, 127.5))  # 85.53


def test_colorfulness_uses_signed_opponent_channels():
    # Half red, half green: rg = +255 / -255 (mean 0, std 255), yb = 127.5 everywhere (mean 127.5, std 0).
    # M = 255 + 0.3 * 127.5 = 293.25. With |rg| the spread would vanish and M would be 0.3 * hypot(255, 127.5).
    image = uniform((255, 0, 0))
    image[:, 4:] = (0, 255, 0)
    assert metrics.colorfulness(image) == pytest.approx(293.25)


def test_colorfulness_gap_is_the_distance_between_mean_colourfulness():
    red_green = uniform((255, 0, 0))
    red_green[:, 4:] = (0, 255, 0)
    gray = uniform((128, 128, 128))
    originals = [red_green, uniform((0, 255, 0))]  # mean M = (293.25 + 85.53) / 2
    expected = (293.25 + 0.3 * math.hypot(255, 127.5)) / 2
    assert metrics.colorfulness_gap([gray, gray], originals) == pytest.approx(expected)
    assert metrics.colorfulness_gap(originals, originals) == 0.0


def test_image_metrics_collects_every_metric():
    original, result = photo_like(0), photo_like(1)
    values = metrics.image_metrics(result, original)
    assert set(values) == {"psnr", "ssim", "auc", "rebalanced_auc", "ciede2000", "colorfulness", "colorfulness_original"}
    assert values["psnr"] == metrics.psnr(result, original)
    assert values["auc"] == metrics.auc(result, original)
    assert values["colorfulness_original"] == metrics.colorfulness(original)
