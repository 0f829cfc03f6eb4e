import warnings

import cv2
import numpy as np
import pytest
from skimage import color

from shared import data, lab
from conftest import REPO_ROOT, colour_image


def random_colours(n=20000, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(1, n, 3), dtype=np.uint8)


def tf_lab(rgb_uint8):
    return np.asarray(lab.rgb_to_lab_tf(rgb_uint8.astype(np.float32) / 255.0))


def test_tensorflow_lab_matches_scikit_image_on_random_colours():
    rgb = random_colours()
    # include the extremes: black, white, primaries
    rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [1, 1, 1]]
    error = np.abs(tf_lab(rgb) - color.rgb2lab(rgb))
    assert error.max(axis=(0, 1)).tolist() == pytest.approx([0, 0, 0], abs=0.5)


def test_tensorflow_lab_matches_scikit_image_on_real_photos():
    for path in data.list_images(REPO_ROOT / "datasets" / "landscapes" / "test")[:5]:
        rgb = data.read_rgb(path)
        assert np.abs(tf_lab(rgb) - color.rgb2lab(rgb)).max() < 0.5, path.name


def test_round_trip_reproduces_the_image_within_one_level():
    for rgb in (random_colours(seed=1)[0].reshape(100, 200, 3), data.read_rgb(REPO_ROOT / "datasets/alpha/picos_de_europa.jpg")):
        back = lab.lab_to_rgb(lab.rgb_to_lab(rgb))
        assert back.dtype == np.uint8
        assert np.abs(back.astype(int) - rgb.astype(int)).max() <= 1


def test_split_scales_and_merge_inverts_it():
    rgb = colour_image(16, 24)
    lab_image = lab.rgb_to_lab(rgb)
    l_norm, ab_norm = lab.split_lab(lab_image)
    assert l_norm.shape == (16, 24, 1) and ab_norm.shape == (16, 24, 2)
    np.testing.assert_allclose(l_norm[..., 0], lab_image[..., 0] / 100, rtol=1e-6)
    np.testing.assert_allclose(ab_norm, lab_image[..., 1:] / 128, rtol=1e-6)
    assert 0 <= l_norm.min() and l_norm.max() <= 1 and np.abs(ab_norm).max() <= 1
    merged = lab.merge_l_ab(l_norm * 100, ab_norm)
    assert np.abs(merged.astype(int) - rgb.astype(int)).max() <= 1


def test_float_and_uint8_inputs_agree():
    rgb = colour_image(8, 8)
    np.testing.assert_allclose(lab.rgb_to_lab(rgb), lab.rgb_to_lab(rgb / 255.0), atol=1e-4)


def test_merge_clips_out_of_gamut_colours_silently():
    l_channel = np.full((4, 4), 50.0)
    ab_norm = np.ones((4, 4, 2))  # a = b = 128: far outside sRGB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb = lab.merge_l_ab(l_channel, ab_norm)
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 4, 3)


def test_gray_rgb_has_no_colour_and_keeps_lightness():
    rgb = colour_image(12, 12)
    gray = lab.gray_rgb(rgb)
    assert np.abs(gray[..., 0].astype(int) - gray[..., 2].astype(int)).max() <= 1
    np.testing.assert_allclose(lab.rgb_to_l(gray), lab.rgb_to_l(rgb), atol=0.5)


def test_merge_rejects_what_is_not_ab():
    with pytest.raises(ValueError, match="L is"):
        lab.merge_l_ab(np.zeros((4, 4)), np.zeros((4, 4, 3)))


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("ab_size", [(12, 16), (128, 128)], ids=["smaller", "larger"])
def test_merge_scales_ab_of_another_size_to_the_size_of_l(fast, ab_size):
    rng = np.random.default_rng(2)
    l_channel = rng.uniform(20, 90, (48, 64)).astype(np.float32)
    ab_other = cv2.resize(rng.uniform(-0.4, 0.4, (6, 8, 2)).astype(np.float32), ab_size[::-1])
    ab_same = cv2.resize(ab_other, (64, 48), interpolation=cv2.INTER_LINEAR)
    merged = lab.merge_l_ab(l_channel, ab_other, fast=fast)
    assert merged.shape == (48, 64, 3)
    assert np.abs(merged.astype(int) - lab.merge_l_ab(l_channel, ab_same, fast=fast)).max() <= 1
    assert np.abs(merged.astype(int) - lab.merge_l_ab(l_channel, ab_same[::-1], fast=fast)).max() > 10


# --- the fast (OpenCV) conversion every photo path uses, against scikit-image -------------------


def test_fast_lab_stays_within_half_a_unit_of_scikit_image_on_random_and_real_colours():
    photos = [data.read_rgb(path) for path in data.list_images(REPO_ROOT / "datasets" / "landscapes" / "test")[:3]]
    for rgb in [random_colours(seed=2)] + photos:
        expected = color.rgb2lab(rgb)
        assert np.abs(lab.rgb_to_lab(rgb) - expected).max() < 0.5
        assert np.abs(lab.rgb_to_l(rgb) - expected[..., 0]).max() < 0.5
        gray = np.repeat(rgb[..., :1], 3, axis=-1)  # a gray photo takes its L by one look-up
        assert np.abs(lab.rgb_to_l(gray) - color.rgb2lab(gray)[..., 0]).max() < 0.5


def test_fast_lab_of_16_bit_rgb_and_gray_stays_within_half_a_unit_of_scikit_image():
    rgb16 = np.random.default_rng(3).integers(0, 65536, size=(1, 20000, 3), dtype=np.uint16)
    expected = color.rgb2lab(rgb16 / 65535.0)
    assert np.abs(lab.rgb_to_lab(rgb16) - expected).max() < 0.5
    assert np.abs(lab.rgb_to_l(rgb16) - expected[..., 0]).max() < 1e-3
    gray16 = np.repeat(rgb16[..., :1], 3, axis=-1)
    assert np.abs(lab.rgb_to_l(gray16) - color.rgb2lab(gray16 / 65535.0)[..., 0]).max() < 1e-3


@pytest.mark.parametrize("bits", [8, 16])
def test_fast_merge_matches_scikit_image_in_and_out_of_gamut(bits):
    rng = np.random.default_rng(4)
    lightness = rng.uniform(0, 100, size=(50, 400)).astype(np.float32)
    ab_norm = rng.uniform(-1, 1, size=(50, 400, 2)).astype(np.float32)  # much of it outside sRGB: clipped alike
    fast, exact = lab.merge_l_ab(lightness, ab_norm, bits=bits), lab.merge_l_ab(lightness, ab_norm, fast=False, bits=bits)
    assert fast.dtype == exact.dtype == (np.uint8 if bits == 8 else np.uint16)
    top = 255 if bits == 8 else 65535
    assert np.abs(fast.astype(int) - exact.astype(int)).max() <= max(1, top // 255)  # one 8-bit level
    in_gamut = lab.rgb_to_lab(random_colours(seed=5), fast=False).reshape(100, 200, 3)  # Lab of sRGB colours
    l_channel, ab = lab.split_lab(in_gamut)
    back = lab.merge_l_ab(l_channel * 100, ab, bits=bits)
    assert np.abs(lab.rgb_to_lab(back, fast=False) - in_gamut).max() < (0.5 if bits == 16 else 1.2)  # 8-bit: rounding


def test_16_bit_merge_keeps_the_lightness_of_16_bit_gray_at_full_precision():
    gray16 = np.repeat(np.linspace(0, 65535, 4096).astype(np.uint16).reshape(64, 64, 1), 3, axis=-1)
    rgb16 = lab.merge_l_ab(lab.rgb_to_l(gray16), np.zeros((8, 8, 2), np.float32), bits=16)
    assert rgb16.dtype == np.uint16 and len(np.unique(rgb16[..., 1])) > 4000  # far beyond 256 levels
    assert np.abs(rgb16.astype(int) - gray16.astype(int)).max() <= 64  # 1/1000 of the range
    with pytest.raises(ValueError, match="bits"):
        lab.merge_l_ab(lab.rgb_to_l(gray16), np.zeros((8, 8, 2), np.float32), bits=12)
