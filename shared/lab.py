"""Every colour conversion in the project lives here.

The networks work in CIE Lab (D65 white, sRGB primaries, as scikit-image's
`rgb2lab`). They see the lightness and predict the two chroma channels:

    network input   l_norm  = L / 100      # L in [0, 100]   -> [0, 1]
    network target  ab_norm = ab / 128     # ab in [-128, 127] -> [-1, 1], a tanh covers it

Photos and video frames convert through OpenCV in float32 (`fast=True`, the
default): L by table look-up from 8-bit or 16-bit RGB (only Y is needed for it),
Lab -> RGB by `cv2.cvtColor`. That is many times faster than scikit-image's
float64 conversion, and tested to stay within 0.5 L and 0.5 ab of it (8-bit RGB
within one level). `fast=False` gives scikit-image's own result. A 16-bit photo
stays 16-bit: its L comes from the 16-bit values, and `merge_l_ab(..., bits=16)`
gives uint16 RGB. TensorFlow's version (`rgb_to_lab_tf`) feeds the `tf.data`
input pipeline.
"""

import cv2
import numpy as np
from skimage import color

L_SCALE = 100.0  # L in [0, 100]
AB_SCALE = 128.0  # a, b in about [-128, 127]


def to_float_rgb(rgb):
    """uint8 [0, 255], uint16 [0, 65535] or float [0, 1] RGB -> float64 [0, 1]."""
    rgb = _checked_rgb(rgb)
    if rgb.dtype in _TOPS:
        return rgb.astype(np.float64) / _TOPS[rgb.dtype]
    return np.clip(rgb.astype(np.float64), 0.0, 1.0)


_TOPS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}  # the white of each integer depth


def _checked_rgb(rgb):
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    return rgb


def _float32_rgb(rgb):
    """`to_float_rgb` in float32, for OpenCV."""
    rgb = _checked_rgb(rgb)
    if rgb.dtype in _TOPS:
        return np.multiply(rgb, np.float32(1.0 / _TOPS[rgb.dtype]), dtype=np.float32)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def rgb_to_lab(rgb, fast=True):
    """RGB (uint8, uint16 or float in [0, 1]) -> Lab float32, L in [0, 100], ab in about [-128, 127].
    fast: OpenCV in float32 (within 0.5 of scikit-image, tested); fast=False: scikit-image."""
    if fast:
        return cv2.cvtColor(_float32_rgb(rgb), cv2.COLOR_RGB2LAB)
    return color.rgb2lab(to_float_rgb(rgb)).astype(np.float32)


def lab_to_rgb(lab, fast=True, bits=8):
    """Lab -> RGB, clipped to the sRGB gamut without warnings: uint8 (bits=8) or uint16 (bits=16).

    b is first limited to 200 (L + 16) / 116, where XYZ's Z reaches 0: scikit-image
    clips Z there itself, the same result, but warns. (Silencing that warning with
    `warnings.catch_warnings` is process-wide in Python: it swallowed the warnings
    other threads gave meanwhile, such as video.py's about frames it repeats.)
    fast: OpenCV in float32, within one level in 255 of scikit-image (tested).
    """
    _check_bits(bits)
    if fast:
        lab = np.asarray(lab, dtype=np.float32)
        image = lab if lab.ndim == 3 else lab.reshape(1, -1, 3)  # OpenCV takes HxWx3 images
        l_channel, a, b = cv2.split(image)
        return _lab_channels_to_rgb_fast(l_channel, a, b, bits).reshape(lab.shape)
    lab = np.array(lab, dtype=np.float64)
    lab[..., 2] = np.minimum(lab[..., 2], 200.0 * (lab[..., 0] + 16.0) / 116.0 - 1e-9)  # 1e-9: rounding
    return _to_integers(color.lab2rgb(lab), bits)


def _check_bits(bits):
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")


def _to_integers(rgb, bits):
    """Float RGB in [0, 1] (any range: clipped) -> uint8 or uint16, rounded."""
    if bits == 8 and rgb.dtype == np.float32:
        return cv2.convertScaleAbs(rgb, alpha=255.0)  # rounds and saturates to uint8
    top = 255.0 if bits == 8 else 65535.0
    scaled = np.multiply(rgb, top, dtype=rgb.dtype)
    np.clip(scaled, 0.0, top, out=scaled)
    scaled += 0.5
    return scaled.astype(np.uint8 if bits == 8 else np.uint16)


def rgb_to_lab_fast(rgb):
    """`rgb_to_lab` by OpenCV in float32: many times faster, within 0.5 of scikit-image (tested); for training batches."""
    return rgb_to_lab(rgb, fast=True)


def rgb_to_l(rgb, fast=True):
    """The lightness channel only, float32 HxW, L in [0, 100]: the grayscale the networks see.
    fast: from 8-bit or 16-bit RGB by table look-up (only Y is needed for L; a gray photo, R = G = B,
    looks L up directly), float RGB through OpenCV; fast=False: scikit-image."""
    if not fast:
        return rgb_to_lab(rgb, fast=False)[..., 0]
    rgb = _checked_rgb(rgb)
    if rgb.dtype == np.uint8:
        return rgb_to_l_fast(rgb)
    if rgb.dtype == np.uint16:
        return _l_of_uint16(rgb)
    return rgb_to_lab(rgb)[..., 0]


def _l_from_y(y):
    """Y (float32, white 1) -> L in [0, 100], as scikit-image computes it (float32)."""
    y = np.asarray(y, np.float32)
    l_channel = np.cbrt(y)
    l_channel *= 116.0
    l_channel -= 16.0
    dark = y <= 0.008856  # where L follows a straight line instead of the cube root: near black
    if dark.any():
        l_channel[dark] = (116.0 * 7.787) * y[dark]
    return l_channel


def _linear_of(levels):
    """sRGB values in [0, 1] -> linear light, float64 (the sRGB curve)."""
    return np.where(levels > 0.04045, ((levels + 0.055) / 1.055) ** 2.4, levels / 12.92)


def _is_gray(rgb):
    return np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])


_Y_SHARES_16 = None  # 65536 x 3: each 16-bit level's share of Y in R, G and B, made on first use
_L_OF_GRAY_16 = None  # 65536: L of each 16-bit gray level


def _l_of_uint16(rgb):
    """L of uint16 RGB: of one channel by look-up where R = G = B (a 16-bit scan), else Y from three look-ups."""
    global _Y_SHARES_16, _L_OF_GRAY_16
    if _Y_SHARES_16 is None:
        linear = _linear_of(np.arange(65536, dtype=np.float64) / 65535.0)
        _Y_SHARES_16 = (linear[:, None] * _RGB_TO_XYZ[1].astype(np.float64)[None, :]).astype(np.float32)
        _L_OF_GRAY_16 = _l_from_y(_Y_SHARES_16.sum(axis=1, dtype=np.float64).astype(np.float32))
    if _is_gray(rgb):
        return _L_OF_GRAY_16[rgb[..., 0]]
    y = _Y_SHARES_16[rgb[..., 0], 0]
    y += _Y_SHARES_16[rgb[..., 1], 1]
    y += _Y_SHARES_16[rgb[..., 2], 2]
    return _l_from_y(y)


def split_lab(lab):
    """Lab -> (l_norm HxWx1 = L/100, ab_norm HxWx2 = ab/128), float32."""
    lab = np.asarray(lab, dtype=np.float32)
    return lab[..., :1] / L_SCALE, lab[..., 1:] / AB_SCALE


def merge_l_ab(l_channel, ab_norm, fast=True, bits=8):
    """L (HxW or HxWx1, in [0, 100]) + predicted ab_norm (hxwx2, in [-1, 1]) -> RGB of L's size, uint8
    (bits=8) or uint16 (bits=16: a 16-bit photo's own L kept at full precision).

    ab_norm may have another size (the network's output, say): it is scaled bilinearly to L's size
    (`ab_at_size`), so colour is scaled up once, here. fast=True converts in float32 through OpenCV
    (within one level of scikit-image); fast=False through scikit-image.
    """
    _check_bits(bits)
    l_channel = np.asarray(l_channel, dtype=np.float32)
    if l_channel.ndim == 3:
        l_channel = l_channel[..., 0]
    a, b = ab_at_size(ab_norm, l_channel.shape)
    if fast:
        return _lab_channels_to_rgb_fast(np.ascontiguousarray(l_channel), a, b, bits)
    return lab_to_rgb(cv2.merge([l_channel, a, b]), fast=False, bits=bits)


def ab_at_size(ab_norm, shape):
    """ab_norm (hxwx2, in [-1, 1]) -> (a, b), float32 HxW each in ab units, at `shape` (H, W): scaled
    bilinearly (cv2.INTER_LINEAR) where its size differs. The ab units are applied first, at ab's own size."""
    ab = np.asarray(ab_norm, dtype=np.float32) * AB_SCALE
    height, width = shape
    if ab.ndim != 3 or ab.shape[-1] != 2:
        raise ValueError(f"ab must be hxwx2, got shape {ab.shape} (L is {tuple(shape)})")
    if ab.shape[:2] != (height, width):
        ab = cv2.resize(ab, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.split(ab)


def gray_from_l(l_channel, fast=True):
    """L (HxW, in [0, 100]) with ab = 0 -> uint8 RGB: what a black-and-white photo of it looks like."""
    l_channel = np.asarray(l_channel, dtype=np.float32)
    return merge_l_ab(l_channel, np.zeros(l_channel.shape[:2] + (2,), np.float32), fast=fast)


def gray_rgb(rgb, fast=True):
    """What a grayscale photo of this image looks like: its own L with ab = 0, as uint8 RGB."""
    return gray_from_l(rgb_to_l(rgb, fast=fast), fast=fast)


# --- TensorFlow version for the input pipeline -------------------------------------------

# sRGB (linear) -> XYZ, and the D65 reference white, as in scikit-image.
_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=np.float32,
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


def rgb_to_lab_tf(rgb):
    """TensorFlow RGB float [0, 1] (..., 3) -> Lab (..., 3); matches `rgb_to_lab` to < 0.5 units."""
    import tensorflow as tf

    rgb = tf.clip_by_value(tf.cast(rgb, tf.float32), 0.0, 1.0)
    linear = tf.where(rgb > 0.04045, tf.pow((rgb + 0.055) / 1.055, 2.4), rgb / 12.92)
    xyz = tf.tensordot(linear, tf.constant(_RGB_TO_XYZ.T), axes=1) / _D65_WHITE
    f = tf.where(xyz > 0.008856, tf.pow(tf.maximum(xyz, 1e-12), 1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def split_lab_tf(lab):
    """TensorFlow version of `split_lab`."""
    return lab[..., :1] / L_SCALE, lab[..., 1:] / AB_SCALE


# --- float32 OpenCV pieces ------------------------------------------------------------------
# scikit-image works in float64 and converts all three channels; a 12 MP photo took seconds each
# way. These give the same numbers (L to 1e-4, RGB to one level in 255) in a fraction of that
# (`python benchmarks/photo_speed.py`).

_XYZ_TO_RGB_64 = np.linalg.inv(_RGB_TO_XYZ.astype(np.float64))  # sRGB linear <- XYZ (D65)
_XYZ_TO_RGB = _XYZ_TO_RGB_64.astype(np.float32)
_LINEAR_LUT = _linear_of(np.arange(256, dtype=np.float64) / 255.0)
_Y_LUT = (_LINEAR_LUT[:, None] * _RGB_TO_XYZ[1].astype(np.float64)[None, :]).astype(np.float32)  # 256 x 3
_Y_LUT_PER_CHANNEL = _Y_LUT.reshape(256, 1, 3)  # as cv2.LUT takes it: R, G and B's share of Y per level
_SUM_OF_CHANNELS = np.ones((1, 3), np.float32)  # cv2.transform's matrix: R + G + B
_L_OF_GRAY_8 = _l_from_y(_Y_LUT.sum(axis=1, dtype=np.float64).astype(np.float32))  # L of each 8-bit gray level


def rgb_to_l_fast(rgb):
    """`rgb_to_l` for uint8 RGB: only Y is needed for L, and OpenCV looks up each channel's share of it and adds
    them up; a gray photo (R = G = B) looks its L up directly."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        return rgb_to_l(rgb)
    if _is_gray(rgb):
        return cv2.LUT(np.ascontiguousarray(rgb[..., 0]), _L_OF_GRAY_8)
    return _l_from_y(cv2.transform(cv2.LUT(rgb, _Y_LUT_PER_CHANNEL), _SUM_OF_CHANNELS))  # Y in [0, 1]


def lab_to_linear_rgb(lab):
    """Lab (..., 3) -> linear sRGB (..., 3), unclipped: a colour is in the gamut when all three are in
    [0, 1]. In float32 for float32 input, else float64."""
    lab = np.asarray(lab)
    lab = lab if lab.dtype == np.float32 else lab.astype(np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fz], axis=-1)
    xyz = np.where(f > 0.2068966, f**3, (f - 16.0 / 116.0) / 7.787) * _D65_WHITE
    return xyz @ (_XYZ_TO_RGB if lab.dtype == np.float32 else _XYZ_TO_RGB_64).T


def lab_to_rgb_fast(lab):
    """`lab_to_rgb` through OpenCV: Lab (HxWx3, or Nx3) -> uint8 RGB."""
    return lab_to_rgb(lab, fast=True)


def _lab_channels_to_rgb_fast(l_channel, a, b, bits=8):
    """L, a, b (float32 HxW each) -> uint8 or uint16 RGB. b is first limited to where z reaches 0, as `lab_to_rgb`
    does: scikit-image clips z there (deep yellows at low L, far outside the gamut), OpenCV would not."""
    b_limit = l_channel + 16.0
    b_limit *= 200.0 / 116.0  # fz = (L + 16) / 116 - b / 200 = 0
    np.minimum(b, b_limit, out=b_limit)
    rgb = cv2.cvtColor(cv2.merge([l_channel, a, b_limit]), cv2.COLOR_Lab2RGB)  # float32 in [0, 1]
    return _to_integers(rgb, bits)


def merge_l_ab_fast(l_channel, ab_norm):
    """`merge_l_ab` through OpenCV (its default)."""
    return merge_l_ab(l_channel, ab_norm, fast=True)
