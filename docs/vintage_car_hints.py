"""One red click each on the vintage car's body, door, grille and wheel arch (issue 29): the car should turn
red, the trees, road and lawn stay as they were. Before (automatic) and after, the click ringed in white.

    python docs/vintage_car_hints.py        # -> docs/vintage_car_hints.png
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from shared import cli, colorize, data, figures

PHOTO = cli.DATASETS / "unlike" / "gimp-vintage-car-road.jpg"  # 320x240
RED = (200, 30, 30)
CLICKS = {"body": (150, 105), "door": (75, 120), "grille": (232, 120), "wheel arch": (185, 132)}  # (x, y) px


def ringed(rgb, x, y):
    marked = np.array(rgb)
    cv2.circle(marked, (x, y), 5, (255, 255, 255), 1, lineType=cv2.LINE_AA)
    return marked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("vintage_car_hints.png"))
    output = parser.parse_args(argv).output
    rgb = data.read_rgb(PHOTO)
    before = colorize.image(rgb)
    rows = [(f"red click on the {part}", [ringed(before, x, y), ringed(colorize.image(rgb, hints=[(x, y, RED)]), x, y)])
            for part, (x, y) in CLICKS.items()]
    figures.grid_figure(rows, ["before: automatic", "after: one red click (ringed)"], output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    cli.run(main)
