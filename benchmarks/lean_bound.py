"""What full_version's neutral lean could give at best: each photo decoded with the lean that suits it.

    python benchmarks/lean_bound.py --input datasets/neutral/test datasets/unlike datasets/landscapes/test

For each set, at the network's size (192 px, the lightness and the original shrunk to it), four colourings of the
same automatic logits: no lean, the shipped lean (the model's own, at its saved strength), the best lean of each
photo and the grayscale input. The best lean is chosen on the photo's own true colours (of the grid
scripts/fit_neutral_lean.py fits on, the least mean squared ab error), so it is a bound that no lean read from a
photo can pass, not a setting: it says which of issue 26's targets a lean alone could reach with this network.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from fit_neutral_lean import LEANS, decoded_errors, photo_arrays  # noqa: E402

from shared import ab_bins, cli, data, evaluate, inference, lab, metrics  # noqa: E402

IMAGE_SIZE = 192  # px: the size full_version trains and fits its lean at
NO_LEAN, SHIPPED, BEST = "no lean", "the shipped lean", "the best lean of each photo (a bound)"


def leans_of(model, pooled, logits, true_ab):
    """{method: the lean g of each photo (n,)}: none, the model's own at its strength, the best of LEANS."""
    decoding, lean = ab_bins.decoding_layer(model), ab_bins.neutral_lean_layer(model)
    errors = decoded_errors(logits, true_ab, LEANS, decoding.temperature, decoding.neutral_prior)
    shipped = lean.strength * keras.ops.convert_to_numpy(lean.lean(pooled.astype(np.float32)))
    return {NO_LEAN: np.zeros(len(logits)), SHIPPED: shipped, BEST: LEANS[errors.argmin(1)]}


def coloured(model, logits, lean, l_channel):
    """8-bit RGB at the lightness's size: the logits leaned by `lean`, decoded as the model decodes."""
    squared = (ab_bins.BINS**2).sum(-1) / (2.0 * ab_bins.neutral_lean_layer(model).sigma**2)
    leaned = (logits - lean * squared)[None].astype(np.float32)
    ab_norm = keras.ops.convert_to_numpy(ab_bins.decoding_layer(model)(leaned))[0]
    return lab.merge_l_ab(l_channel, cv2.resize(ab_norm, l_channel.shape[::-1], interpolation=cv2.INTER_LINEAR))


def per_image_rows(model, paths):
    """evaluate.py's per-image rows (metrics of each method and of the grayscale input on each photo)."""
    pooled, logits, true_ab = photo_arrays(model, paths, IMAGE_SIZE)
    leans = leans_of(model, pooled, logits, true_ab)
    rows = []
    for i, (path, rgb) in enumerate(data.read_images(paths)):
        original = cv2.resize(rgb, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
        l_channel = lab.rgb_to_l(original)
        results = {method: coloured(model, logits[i], g[i], l_channel) for method, g in leans.items()}
        results[evaluate.GRAYSCALE] = lab.merge_l_ab(l_channel, np.zeros((*l_channel.shape, 2), np.float32))
        rows += [{"image": Path(path).name, "method": method, **metrics.image_metrics(result, original)}
                 for method, result in results.items()]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="full_version",
                        help="a full_version with a neutral lean (default: %(default)s)")
    parser.add_argument("--input", type=Path, nargs="+", default=[cli.DATASETS / "neutral" / "val"])
    args = parser.parse_args(argv)
    model = inference.load_model(args.model)
    if ab_bins.neutral_lean_layer(model) is None:
        raise SystemExit(f"error: {args.model} has no neutral lean")
    methods = (NO_LEAN, SHIPPED, BEST, evaluate.GRAYSCALE)
    for source in args.input:
        paths = data.list_images(source)
        table = evaluate.summarize(per_image_rows(model, paths), methods)
        print(f"\n{source} ({len(paths)} photos, at {IMAGE_SIZE} px)\n{evaluate.markdown_table(table, methods)}")
    return 0


if __name__ == "__main__":
    main()
