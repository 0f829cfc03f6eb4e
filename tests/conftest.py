import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO_ROOT = Path(__file__).resolve().parents[1]


def colour_image(height, width, seed=0):
    """A smooth, strongly coloured uint8 RGB test image: gradients in R and G, a blob in B."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = x / max(width - 1, 1)
    g = y / max(height - 1, 1)
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    b = np.exp(-(((y - cy) / (0.3 * height)) ** 2 + ((x - cx) / (0.3 * width)) ** 2))
    return (np.stack([r, g, b], axis=-1) * 255).round().astype(np.uint8)


def write_image(path, rgb):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture
def photo_folder(tmp_path):
    """Four small colour images of different sizes (one with odd sides)."""
    folder = tmp_path / "photos"
    for i, (h, w) in enumerate([(40, 48), (37, 53), (48, 40), (44, 44)]):
        write_image(folder / f"photo{i}.png", colour_image(h, w, seed=i))
    return folder


def run_script(*args, timeout=300):
    """Run a project script as a user would, from the repo root."""
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )

