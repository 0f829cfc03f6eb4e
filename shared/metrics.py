"""Colorization metrics. Images are uint8 RGB HxWx3 unless said otherwise.

    psnr          dB on 8-bit RGB (data range 255); identical images give PSNR_CAP (100 dB)
    ssim          structural similarity on 8-bit RGB, channels averaged
    colorfulness  Hasler and Suesstrunk (2003), on 0..255 RGB; colorfulness_gap compares two sets
    auc           area under the cumulative ab-error curve, thresholds 0..150 (Zhang et al. 2016), percent
    rebalanced_auc  the same with each pixel weighted by the inverse frequency of its true colour's ab bin
                  in the image, so every colour present counts alike (rare saturated ones as much as grey)
    ciede2000     mean CIEDE2000 colour difference

`result` is the colorized image (the original's own L with predicted ab, as
`shared.colorize.Colorizer.colorize` makes it), `original` the colour photo.
Higher is better for PSNR, SSIM and AuC; lower for CIEDE2000 and the colourfulness gap.
"""

import numpy as np
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

from shared import ab_bins, lab

PSNR_CAP = 100.0  # dB, reported for identical images instead of infinity
AUC_THRESHOLDS = np.arange(0, 151)  # ab error thresholds 0..150, as in Zhang et al. 2016


def _check_pair(result, original):
    result, original = np.asarray(result), np.asarray(original)
    if result.shape != original.shape:
        raise ValueError(f"images differ in shape: {result.shape} vs {original.shape}")
    return result, original


def psnr(result, original):
    result, original = _check_pair(result, original)
    mse = np.mean((result.astype(np.float64) - original.astype(np.float64)) ** 2)
    if mse == 0:
        return PSNR_CAP
    return float(min(PSNR_CAP, 10.0 * np.log10(255.0**2 / mse)))


def ssim(result, original):
    result, original = _check_pair(result, original)
    if min(result.shape[:2]) < 3:
        raise ValueError(f"SSIM needs images of at least 3x3 px, got {result.shape[1]}x{result.shape[0]}")
    window = min(7, *[s if s % 2 else s - 1 for s in result.shape[:2]])  # odd, at most 7, fits small images
    return float(structural_similarity(result, original, channel_axis=-1, data_range=255, win_size=window))


def colorfulness(rgb):
    """M = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2), signed rg and yb."""
    r, g, b = (np.asarray(rgb, dtype=np.float64)[..., i] for i in range(3))
    rg = r - g
    yb = (r + g) / 2.0 - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colorfulness_gap(results, originals):
    """|mean M(results) - mean M(originals)| over two lists of images: 0 when as colourful as the originals."""
    return float(abs(np.mean([colorfulness(x) for x in results]) - np.mean([colorfulness(x) for x in originals])))


def ab_error(result, original):
    """Per-pixel Euclidean distance between the two images' ab, HxW, in Lab units."""
    return _ab_error_lab(*_lab_pair(result, original))


def auc(result, original):
    """Share of pixels whose Euclidean ab error is at most t, averaged over t = 0..150, in percent."""
    return _weighted_auc(ab_error(result, original), None)


def rebalanced_auc(result, original):
    """`auc` with each pixel weighted by 1 / (pixels of its true colour's ab bin in this image), in percent.

    Zhang et al. 2016's class-rebalanced AuC: a grey guess scores well on plain AuC
    because most pixels are dull; here each colour present weighs the same in all.
    """
    result_lab, original_lab = _lab_pair(result, original)
    return _weighted_auc(_ab_error_lab(result_lab, original_lab), _inverse_class_frequency(original_lab))


def ciede2000(result, original):
    result_lab, original_lab = _lab_pair(result, original)
    return float(np.mean(deltaE_ciede2000(original_lab, result_lab)))


def _lab_pair(result, original):
    result, original = _check_pair(result, original)
    return lab.rgb_to_lab(result), lab.rgb_to_lab(original)


def _ab_error_lab(result_lab, original_lab):
    return np.linalg.norm(result_lab[..., 1:] - original_lab[..., 1:], axis=-1)


def _inverse_class_frequency(original_lab):
    """Per pixel: 1 / the number of pixels in the image whose true colour falls in the same ab bin."""
    classes = ab_bins.nearest_bin(original_lab[..., 1:]).ravel()
    return 1.0 / np.bincount(classes)[classes]


def _weighted_auc(errors, weights):
    """Mean over t = 0..150 of the (weighted) share of pixels whose ab error is at most t, in percent."""
    errors = errors.ravel()
    weights = np.ones_like(errors) if weights is None else np.asarray(weights, np.float64)
    order = np.argsort(errors)
    cumulative = np.concatenate([[0.0], np.cumsum(weights[order])]) / weights.sum()
    shares = cumulative[np.searchsorted(errors[order], AUC_THRESHOLDS, side="right")]  # share with error <= t
    return float(100.0 * shares.mean())


def image_metrics(result, original):
    """Every per-image metric, as a dict."""
    result_lab, original_lab = _lab_pair(result, original)  # once: three metrics need both in Lab
    errors = _ab_error_lab(result_lab, original_lab)
    return {
        "psnr": psnr(result, original),
        "ssim": ssim(result, original),
        "auc": _weighted_auc(errors, None),
        "rebalanced_auc": _weighted_auc(errors, _inverse_class_frequency(original_lab)),
        "ciede2000": float(np.mean(deltaE_ciede2000(original_lab, result_lab))),
        "colorfulness": colorfulness(result),
        "colorfulness_original": colorfulness(original),
    }
