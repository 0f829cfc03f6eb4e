"""Checks shared by the tests of the photo sets under datasets/ (neutral/, calibration/)."""

import hashlib
import json
import pathlib

import numpy as np
from PIL import Image

DATASETS = pathlib.Path(__file__).resolve().parents[1] / "datasets"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def photos_in(folder):
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_colour_photo(path, longest_side):
    """RGB, 128 px to `longest_side` on its long side, and colour: not a grayscale picture saved as RGB."""
    with Image.open(path) as image:
        assert image.mode == "RGB"
        assert 128 <= max(image.size) <= longest_side
        rgb = np.asarray(image, dtype=np.float32)
    chroma = np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max(axis=-1)  # the channels differ somewhere
    assert np.percentile(chroma, 90) >= 2.0


def check_distinct(paths):
    """No two of the files have the same content."""
    owner = {}
    for path in paths:
        digest = sha256(path)
        assert digest not in owner, f"{path} has the same content as {owner[digest]}"
        owner[digest] = path


def check_not_elsewhere(paths, folder, at_least=0):
    """None of the files' contents is in datasets/ outside `folder` (where at least `at_least` photos are)."""
    inside = {sha256(p) for p in paths}
    others = [p for p in DATASETS.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and folder not in p.parents]
    assert len(others) >= at_least  # the rest of datasets/ was really searched
    for path in others:
        assert sha256(path) not in inside, f"{path} is also in datasets/{folder.name}"


def manifest():
    """datasets/manifest.json by file."""
    return {e["file"]: e for e in json.loads((DATASETS / "manifest.json").read_text())}
