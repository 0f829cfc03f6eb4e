"""Choose a classification model's decoding (temperature, neutral prior, restraint) on validation photos,
never on the test photos.

    python benchmarks/temperature.py --model full_version
    python benchmarks/temperature.py --model beta --temperatures 0.3 0.4 0.5 0.6 0.8
    python benchmarks/temperature.py --model full_version --temperatures 1.0 1.5 2.0 --neutral-prior off on \
        --restraint-midpoints off 0.7 0.8 --more-val-images datasets/neutral/val --choose neutral

The validation photos are the ones train.py held out: the same split of the
same default training folders with the same --val-share and --seed; each
--more-val-images folder is a further validation set, measured on its own.
Each setting colorizes every photo through the model's own path (what
test.py does) and the metrics of shared/metrics.py are averaged per set, with
the gain over the grayscale input, the share of the originals' colourfulness,
the neutral-scene cast and the below-gray count of shared/evaluate.py.

--choose auc (the default): the best mean of AuC and rebalanced AuC on the held-out split (the first
rewards the common dull colours, the second the rare vivid ones).
--choose neutral: the most mean PSNR gain over gray across the sets, among the settings that keep at
least 70% of the originals' colourfulness on the held-out split and a neutral-scene cast of at most
1.3 on every set (when none does: the most gain of all, said so).
Pass the choice to `python -m shared.pretrained SRC DST --temperature T [--neutral-prior]
[--restraint-midpoint M]` or to scripts/rebuild_full_version.py.
"""

import argparse
import itertools
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from shared import ab_bins, data, evaluate, inference, lab, metrics, training  # noqa: E402

METRICS = ("psnr", "auc", "rebalanced_auc", "ciede2000", "colorfulness")
MIN_COLOURFULNESS_SHARE = 0.7  # --choose neutral: of the originals', on the held-out split
MAX_NEUTRAL_CAST = 1.3  # --choose neutral: on every set


def validation_photos(sources, share, seed):
    _, val_paths = data.split_validation(training.list_training_images(sources), share, seed=seed)
    return [rgb for _, rgb in data.read_images(val_paths)]


def folder_photos(source):
    return [rgb for _, rgb in data.read_images(training.list_training_images([source]))]


def gray_rows(photos):
    return [{"image": str(i), "method": evaluate.GRAYSCALE, **metrics.image_metrics(lab.gray_rgb(photo), photo)}
            for i, photo in enumerate(photos)]


def measure(colorizer, photos, grays):
    """The means of METRICS over `photos` as the colorizer now decodes, with the gain over gray, the share of
    the originals' colourfulness, the neutral-scene cast and the below-gray counts."""
    results = colorizer.colorize(photos)
    rows = [{"image": str(i), "method": "model", **metrics.image_metrics(result, photo)}
            for i, (result, photo) in enumerate(zip(results, photos))]
    mean = {key: float(np.mean([row[key] for row in rows])) for key in (*METRICS, "colorfulness_original")}
    mean["psnr_gain"] = mean["psnr"] - float(np.mean([row["psnr"] for row in grays]))
    mean["auc_gain"] = mean["auc"] - float(np.mean([row["auc"] for row in grays]))
    mean["colourfulness_share"] = mean["colorfulness"] / mean["colorfulness_original"]
    mean["neutral_cast"] = evaluate.neutral_scene_cast(rows)
    below = evaluate.below_gray(rows + grays, "model")
    mean["below_gray_psnr"], mean["below_gray_auc"], mean["images"] = below["psnr"], below["auc"], len(rows)
    return mean


def settings_from(args, decoding):
    """Every (temperature, neutral prior, restraint midpoint) to try; what is not given stays as saved."""
    priors = [decoding.neutral_prior] if args.neutral_prior is None else [p == "on" for p in args.neutral_prior]
    midpoints = ([decoding.restraint_midpoint] if args.restraint_midpoints is None
                 else [None if m == "off" else float(m) for m in args.restraint_midpoints])
    return list(itertools.product(args.temperatures, priors, midpoints))


def describe(setting):
    temperature, prior, midpoint = setting
    return f"T {temperature:4.2f} prior {'on ' if prior else 'off'} restraint {'off' if midpoint is None else f'{midpoint:.2f}'}"


def choose(table, rule, first_set):
    """The chosen setting and a sentence on why."""
    if rule == "auc":
        best = max(table, key=lambda s: table[s][first_set]["auc"] + table[s][first_set]["rebalanced_auc"])
        return best, "the best mean of AuC and rebalanced AuC on the held-out split"
    gain = {s: float(np.mean([row["psnr_gain"] for row in table[s].values()])) for s in table}
    fit = [s for s in table if table[s][first_set]["colourfulness_share"] >= MIN_COLOURFULNESS_SHARE
           and all(row["neutral_cast"] <= MAX_NEUTRAL_CAST for row in table[s].values())]
    if fit:
        return max(fit, key=gain.get), (f"the most mean PSNR gain over gray across the sets among those keeping "
                                        f">= {MIN_COLOURFULNESS_SHARE:.0%} colourfulness and cast <= {MAX_NEUTRAL_CAST}")
    return max(table, key=gain.get), "NO setting keeps both the colourfulness and the cast: the most mean PSNR gain"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="full_version", help="tier name or .keras path")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.2, 0.3, 0.38, 0.45, 0.6, 0.8, 1.0])
    parser.add_argument("--neutral-prior", nargs="+", choices=("off", "on"),
                        help="try the neutral prior off and/or on (default: as saved in the model)")
    parser.add_argument("--restraint-midpoints", nargs="+",
                        help="entropy midpoints of the restraint to try, 'off' for none (default: as saved)")
    parser.add_argument("--images", nargs="+", default=list(training.DEFAULT_TRAINING_IMAGES))
    parser.add_argument("--val-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--more-val-images", type=Path, nargs="+", default=[],
                        help="further validation folders (e.g. datasets/neutral/val), each measured as its own set")
    parser.add_argument("--choose", choices=("auc", "neutral"), default="auc")
    args = parser.parse_args(argv)

    colorizer = inference.load_colorizer(args.model)
    decoding = ab_bins.decoding_layer(colorizer.model)
    sets = {"held-out split": validation_photos(args.images, args.val_share, args.seed)}
    sets.update({str(folder): folder_photos(folder) for folder in args.more_val_images})
    grays = {name: gray_rows(photos) for name, photos in sets.items()}
    print("; ".join(f"{name}: {len(photos)} photos" for name, photos in sets.items()))
    table = {}
    for setting in settings_from(args, decoding):
        temperature, prior, midpoint = setting
        colorizer.set_temperature(temperature)
        colorizer.set_restraint(prior, midpoint)
        table[setting] = {name: measure(colorizer, photos, grays[name]) for name, photos in sets.items()}
        for name, row in table[setting].items():
            print(f"{describe(setting)}  {name:28s} PSNR {row['psnr']:6.2f} ({row['psnr_gain']:+5.2f} vs gray)  "
                  f"AuC {row['auc']:6.2f} ({row['auc_gain']:+5.2f})  rebalanced AuC {row['rebalanced_auc']:6.2f}  "
                  f"colourfulness {row['colourfulness_share']:4.0%}  cast {row['neutral_cast']:4.2f}  "
                  f"below gray {row['below_gray_psnr']}/{row['images']} (AuC {row['below_gray_auc']})", flush=True)
    best, why = choose(table, args.choose, "held-out split")
    print(f"chosen: {describe(best)} ({why})")
    return best


if __name__ == "__main__":
    main()
