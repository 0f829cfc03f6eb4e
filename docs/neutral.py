"""The neutral-scenes figure (issue 26): near-neutral test photos as rows; the grayscale input, full_version
before and after the neutral training, and the original as columns.

    git show 8d013ce:full_version/pretrained.keras > models/fv_before.keras   # the model shipped before
    python docs/neutral.py --before models/fv_before.keras                   # -> docs/neutral.png

The rows are the --rows least colourful originals of --input (Hasler-Suesstrunk colourfulness), the
photos on which a tint shows most; each column says which model made it.
"""

import argparse
from pathlib import Path

import numpy as np

from shared import cli, data, figures, inference, lab, metrics

SIDE = 220  # px, each image in the figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the model before (a .keras path)")
    parser.add_argument("--after", default="full_version", help="the model after (default: the shipped full_version)")
    parser.add_argument("--input", type=Path, default=cli.DATASETS / "neutral" / "test")
    parser.add_argument("--rows", type=cli.positive_int, default=6)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("neutral.png"))
    args = parser.parse_args(argv)

    photos = [(path, rgb) for path, rgb in data.read_images(data.list_images(args.input))]
    photos = sorted(photos, key=lambda item: metrics.colorfulness(item[1]))[: args.rows]
    before, after = inference.load_colorizer(args.before), inference.load_colorizer(args.after)
    originals = [rgb for _, rgb in photos]
    columns = [[lab.gray_rgb(rgb) for rgb in originals], before.colorize(originals), after.colorize(originals),
               originals]
    rows = [(Path(path).stem, [figures.thumbnail(np.asarray(column[i]), SIDE) for column in columns])
            for i, (path, _) in enumerate(photos)]
    figures.grid_figure(rows, ["grayscale input", f"before ({Path(args.before).name})",
                               f"after ({args.after})", "original"], args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    cli.run(main)
