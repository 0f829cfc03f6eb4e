"""Does scaling the network's ab up with a guided filter steered by the photo's L beat bilinear scaling?

    python benchmarks/guided_ab.py                  # choose radius and eps on the landscapes validation split
    python benchmarks/guided_ab.py --report         # ... then report the chosen one on landscapes/test and unlike

Measured: no. PSNR and AuC rise with the filter's radius, but a plain box blur of ab of the same radius
(the control printed beside it) gains nearly as much: the gain is blurring the colour, which these
metrics reward, not following edges; windmill blades against the sky look the same. So the merge keeps
bilinear scaling (shared/lab.py), and the filter lives here only.

The shipped full_version predicts ab at 256 x 256; the merge scales it up to the photo. Each photo is
colorized once (at its own size and at 4x its side, the original scaled up bicubically as the
reference there: the case of a scan much larger than the network), then merged with bilinear ab and
with guided ab for each setting, and with ab blurred by a box of the same radius (the control). Prints PSNR (dB) and AuC (%, the ab error's area under the curve up to
150, shared/metrics.py) means. Settings are chosen on the validation split of datasets/landscapes/train
(data.split_validation, as training holds it out), never on the reported sets. --figure writes crops of
windmill blades against the sky (bilinear | guided) to the given PNG.
"""

import argparse
import itertools
from pathlib import Path

import shared  # noqa: F401  (first, so TensorFlow starts quietly)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from shared import cli, colorize, data, lab, metrics  # noqa: E402

RADII, EPSILONS = (2, 4, 8), (1e-3, 1e-2)
SCALES = (1, 4)  # each photo at its own size, and at 4x its side
CHOSEN = (8, 1e-2)  # radius and eps the validation split chose (the largest tried: more blur scores higher)


def ab_guided_at_size(ab_norm, l_channel, radius, eps):
    """ab_norm (hxwx2) -> (a, b) at L's size, float32 HxW each in ab units, scaled up by a fast guided filter
    (He and Sun 2015) steered by the full-resolution L: at ab's size each window's ab is fitted as a linear
    function of L (`radius` in ab's pixels, `eps` its regularisation in (L/100)^2), and the fits, scaled up
    bilinearly, are applied to the full-resolution L, so colour edges follow the photo's edges."""
    ab = np.asarray(ab_norm, np.float32) * lab.AB_SCALE
    height, width = l_channel.shape
    guide = np.asarray(l_channel, np.float32) / lab.L_SCALE
    small = cv2.resize(guide, (ab.shape[1], ab.shape[0]), interpolation=cv2.INTER_AREA)
    window = (2 * radius + 1, 2 * radius + 1)

    def mean(x):
        return cv2.boxFilter(x, -1, window, borderType=cv2.BORDER_REFLECT)

    mean_guide = mean(small)
    variance = mean(small * small) - mean_guide * mean_guide
    channels = []
    for channel in cv2.split(ab):
        mean_channel = mean(channel)
        slope = (mean(small * channel) - mean_guide * mean_channel) / (variance + eps)
        offset = mean_channel - slope * mean_guide
        slope = cv2.resize(mean(slope), (width, height), interpolation=cv2.INTER_LINEAR)
        offset = cv2.resize(mean(offset), (width, height), interpolation=cv2.INTER_LINEAR)
        channels.append(slope * guide + offset)
    return channels


def blurred_ab(ab_norm, radius):
    """The control: ab blurred by a box of the same radius, with no guidance."""
    return cv2.boxFilter(np.asarray(ab_norm, np.float32), -1, (2 * radius + 1,) * 2, borderType=cv2.BORDER_REFLECT)


def colorized_inputs(paths, scale):
    """(original RGB at `scale`, its L, the network's ab at its own size) per photo."""
    colorizer = colorize.colorizer(cli.DEFAULT_MODEL, None)
    rows = []
    for path in paths:
        rgb = data.read_rgb(path)
        if scale != 1:
            rgb = cv2.resize(rgb, (rgb.shape[1] * scale, rgb.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
        l_channel = lab.rgb_to_l(rgb)
        rows.append((rgb, l_channel, colorizer.predict_ab([l_channel], at_image_size=False)[0]))
    return rows


def scores(rows, radius=None, eps=None):
    """Mean PSNR and AuC of the merge: bilinear (radius None), guided with (radius, eps), or the control, ab
    blurred by a box of `radius` (eps None)."""
    psnrs, aucs = [], []
    for rgb, l_channel, ab_norm in rows:
        result = lab.merge_l_ab(l_channel, merged_ab(ab_norm, l_channel, radius, eps))
        psnrs.append(metrics.psnr(result, rgb))
        aucs.append(metrics.auc(result, rgb))
    return float(np.mean(psnrs)), float(np.mean(aucs))


def merged_ab(ab_norm, l_channel, radius=None, eps=None):
    if radius is None:
        return ab_norm
    if eps is None:
        return blurred_ab(ab_norm, radius)
    return np.stack(ab_guided_at_size(ab_norm, l_channel, radius, eps), axis=-1) / lab.AB_SCALE


def windmill_figure(path):
    """Crops of windmill blades against the sky at 4x: bilinear above, guided below."""
    crops = []
    for name, box in (("windmill12.jpg", (100, 40, 220, 160)), ("windmill5.jpg", (60, 60, 200, 200))):
        [(rgb, l_channel, ab_norm)] = colorized_inputs([cli.DATASETS / "landscapes" / "test" / name], 4)
        x0, y0, x1, y1 = (4 * v for v in box)
        bilinear = lab.merge_l_ab(l_channel, ab_norm)[y0:y1, x0:x1]
        guided = lab.merge_l_ab(l_channel, merged_ab(ab_norm, l_channel, *CHOSEN))[y0:y1, x0:x1]
        crops.append(np.concatenate([bilinear, guided], axis=0))
    height = max(c.shape[0] for c in crops)
    crops = [np.pad(c, ((0, height - c.shape[0]), (0, 8), (0, 0)), constant_values=255) for c in crops]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(crops, axis=1), cv2.COLOR_RGB2BGR))
    print(f"wrote {path}: bilinear above, guided below")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", action="store_true", help="also report the chosen setting on the test sets")
    parser.add_argument("--figure", type=Path, help="write windmill crops (bilinear | guided) to this PNG")
    args = parser.parse_args(argv)
    _, validation = data.split_validation(data.list_images(cli.DATASETS / "landscapes" / "train"))
    for scale in SCALES:
        rows = colorized_inputs(validation, scale)
        base = scores(rows)
        print(f"validation ({len(rows)} photos) at {scale}x: bilinear PSNR {base[0]:.3f} dB, AuC {base[1]:.2f}%")
        results = {(r, e): scores(rows, r, e) for r, e in itertools.product(RADII, EPSILONS)}
        for (r, e), (psnr, auc) in results.items():
            print(f"  guided radius {r} eps {e:g}: PSNR {psnr:.3f} ({psnr - base[0]:+.3f}), AuC {auc:.2f} ({auc - base[1]:+.2f})")
        for r in RADII:
            psnr, auc = scores(rows, r)
            print(f"  control, box blur radius {r}: PSNR {psnr:.3f} ({psnr - base[0]:+.3f}), AuC {auc:.2f} ({auc - base[1]:+.2f})")
        best = max(results, key=lambda k: results[k][0])
        print(f"  best guided by PSNR: radius {best[0]}, eps {best[1]:g}")
    if args.report:
        for folder in (cli.DATASETS / "landscapes" / "test", cli.DATASETS / "unlike"):
            for scale in SCALES:
                rows = colorized_inputs(data.list_images(folder), scale)
                base, guided, blurred = scores(rows), scores(rows, *CHOSEN), scores(rows, CHOSEN[0])
                print(f"{folder.name} ({len(rows)} photos) at {scale}x: PSNR / AuC bilinear {base[0]:.3f} / {base[1]:.2f}, "
                      f"guided r={CHOSEN[0]} eps={CHOSEN[1]:g} {guided[0]:.3f} / {guided[1]:.2f}, "
                      f"box blur r={CHOSEN[0]} {blurred[0]:.3f} / {blurred[1]:.2f}")
    if args.figure:
        windmill_figure(args.figure)


if __name__ == "__main__":
    main()
