"""The README's first picture: test photos it never saw, their grayscale and the shipped full_version's colours (the default).

    python docs/before_after.py        # -> docs/before_after.png
"""

from pathlib import Path

import numpy as np

from shared import cli, colorize, data, figures, lab

PHOTOS = ["canyondechelly.jpg", "windmill12.jpg"]  # from datasets/landscapes/test
SIDE = 300  # px, each image in the figure


def main(argv=None):
    rows = []
    for name in PHOTOS:
        rgb = data.read_rgb(cli.DATASETS / "landscapes" / "test" / name)
        images = [lab.gray_rgb(rgb), colorize.image(rgb)]
        rows.append((Path(name).stem, [figures.thumbnail(np.asarray(image), SIDE) for image in images]))
    output = Path(__file__).with_name("before_after.png")
    figures.grid_figure(rows, ["before: grayscale", "after: colorize (shipped full_version)"], output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    cli.run(main)
