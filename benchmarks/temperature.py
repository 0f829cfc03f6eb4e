"""Choose a classification model's decoding temperature on the validation split, never on the test photos.

    python benchmarks/temperature.py --model full_version
    python benchmarks/temperature.py --model beta --temperatures 0.3 0.4 0.5 0.6 0.8

The validation photos are the ones train.py held out: the same split of the
same default training folders with the same --val-share and --seed. Each
temperature colorizes every one of them through the model's own path (what
test.py does) and the metrics of shared/metrics.py are averaged. The chosen
temperature is the one with the best mean of AuC and rebalanced AuC (the first
rewards the common dull colours, the second the rare vivid ones); the table
shows the rest. Pass it to `python -m shared.pretrained SRC DST --temperature T`.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from shared import data, inference, metrics, training  # noqa: E402

METRICS = ("psnr", "auc", "rebalanced_auc", "ciede2000", "colorfulness")


def validation_photos(sources, share, seed):
    _, val_paths = data.split_validation(training.list_training_images(sources), share, seed=seed)
    return [rgb for _, rgb in data.read_images(val_paths)]


def measure(colorizer, photos, temperature):
    colorizer.set_temperature(temperature)
    results = colorizer.colorize(photos)
    rows = [metrics.image_metrics(result, photo) for result, photo in zip(results, photos)]
    return {key: float(np.mean([row[key] for row in rows])) for key in (*METRICS, "colorfulness_original")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="full_version", help="tier name or .keras path")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.2, 0.3, 0.38, 0.45, 0.6, 0.8, 1.0])
    parser.add_argument("--images", nargs="+", default=list(training.DEFAULT_TRAINING_IMAGES))
    parser.add_argument("--val-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    colorizer = inference.load_colorizer(args.model)
    photos = validation_photos(args.images, args.val_share, args.seed)
    print(f"{len(photos)} validation photos; " + ", ".join(METRICS))
    table = {t: measure(colorizer, photos, t) for t in args.temperatures}
    for temperature, row in table.items():
        print(f"T {temperature:4.2f}  " + "  ".join(f"{row[k]:6.2f}" for k in METRICS)
              + f"  (originals' colourfulness {row['colorfulness_original']:.1f})")
    best = max(table, key=lambda t: table[t]["auc"] + table[t]["rebalanced_auc"])
    print(f"chosen temperature: {best} (best mean of AuC and rebalanced AuC on the validation split)")
    return best


if __name__ == "__main__":
    main()
