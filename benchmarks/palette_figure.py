"""docs/palette.png: one photo colorized automatically, with a warm reference palette and with a cool one.

    python benchmarks/palette_figure.py [--model full_version] [--photo datasets/landscapes/test/windmill12.jpg]
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from shared import cli, data, figures, inference, lab  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
WARM = REPO_ROOT / "datasets" / "unlike" / "palapeli-citrus-fruits.jpg"
COOL = REPO_ROOT / "datasets" / "unlike" / "tuxpaint-coral-reef.jpg"
SIDE = 256  # px, the figure's thumbnails


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="full_version")
    parser.add_argument("--photo", type=Path, default=cli.DATASETS / "landscapes" / "test" / "windmill12.jpg")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs")
    args = parser.parse_args(argv)
    colorizer = inference.load_colorizer(args.model)
    photo, warm, cool = (data.read_rgb(p) for p in (args.photo, WARM, COOL))
    gray = lab.gray_rgb(photo)
    (automatic,), (warmed,), (cooled,) = (colorizer.colorize([photo], None, ref) for ref in (None, warm, cool))
    row = [figures.thumbnail(x, SIDE) for x in (gray, automatic, warmed, cooled, photo)]
    refs = [figures.thumbnail(x, SIDE) for x in (warm, cool)]
    blank = [np.full_like(row[i], 255) for i in (0, 1, 4)]  # no reference under these columns
    figures.grid_figure([(args.photo.name, row), ("references", [blank[0], blank[1],
                         cv2.resize(refs[0], row[2].shape[1::-1]), cv2.resize(refs[1], row[3].shape[1::-1]),
                         blank[2]])],
                        ["grayscale input", "automatic", "warm reference", "cool reference", "original"],
                        args.output / "palette.png")
    print(f"wrote {args.output / 'palette.png'}")


if __name__ == "__main__":
    main()
