"""datasets/calibration: photos never trained on, for fitting the neutral-scene regression (issue 26)."""

import hashlib
import json
import pathlib
import re

import numpy as np
import pytest
from PIL import Image

DATASETS = pathlib.Path(__file__).resolve().parents[1] / "datasets"
CALIBRATION = DATASETS / "calibration"
SOURCES = DATASETS / "SOURCES-calibration.md"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def calibration_files():
    return sorted(p for p in CALIBRATION.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_rows():
    """(kind, file) of every row of the SOURCES-calibration.md table."""
    return re.findall(r"^\| (neutral|colourful) \| ([^ |]+) \|", SOURCES.read_text(), re.M)


def test_folder_holds_at_least_40_photos():
    assert CALIBRATION.is_dir()
    assert len(calibration_files()) >= 40


def test_mix_is_roughly_half_neutral():
    kinds = [kind for kind, _ in source_rows()]
    assert len(kinds) == len(calibration_files())
    assert 0.35 <= kinds.count("neutral") / len(kinds) <= 0.65


@pytest.mark.parametrize("path", calibration_files(), ids=lambda p: p.name)
def test_file_is_a_small_rgb_colour_photo(path):
    assert path.stat().st_size <= 250_000
    with Image.open(path) as image:
        assert image.mode == "RGB"
        assert 128 <= max(image.size) <= 800
        rgb = np.asarray(image, dtype=np.float32)
    # colour, not a grayscale picture saved as RGB: the channels differ somewhere
    chroma = np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max(axis=-1)
    assert np.percentile(chroma, 90) >= 2.0


def test_no_two_calibration_files_have_the_same_content():
    owner = {}
    for path in calibration_files():
        digest = sha256(path)
        assert digest not in owner, f"{path} has the same content as {owner[digest]}"
        owner[digest] = path


def test_no_photo_is_already_elsewhere_in_datasets():
    calibration = {sha256(p) for p in calibration_files()}
    others = [p for p in DATASETS.rglob("*")
              if p.suffix.lower() in PHOTO_SUFFIXES and CALIBRATION not in p.parents]
    assert len(others) > 100  # the rest of datasets/ was really searched
    for path in others:
        assert sha256(path) not in calibration, f"{path} is also in datasets/calibration"


def test_every_file_is_attributed_in_sources_and_manifest():
    listed = {name for _, name in source_rows()}
    manifest = {e["file"]: e for e in json.loads((DATASETS / "manifest.json").read_text())}
    for path in calibration_files():
        assert path.name in listed, path
        entry = manifest[f"calibration/{path.name}"]
        assert entry["package"] and entry["original"] and entry["license"]
        assert entry["package"] not in {"scratch", "kphotoalbum"}
    for entry in manifest.values():
        if entry["file"].startswith("calibration/"):
            assert (DATASETS / entry["file"]).is_file(), entry["file"]
