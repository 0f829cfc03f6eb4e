"""datasets/neutral: near-neutral colour photos (issue 26), three disjoint, documented splits."""

import hashlib
import json
import pathlib

import numpy as np
import pytest
from PIL import Image

DATASETS = pathlib.Path(__file__).resolve().parents[1] / "datasets"
NEUTRAL = DATASETS / "neutral"
SPLITS = ("val", "test", "train")
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def split_files(split):
    return sorted(p for p in (NEUTRAL / split).iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def all_files():
    return [p for split in SPLITS for p in split_files(split)]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_holds_photos(split):
    assert len(split_files(split)) >= 8


@pytest.mark.parametrize("path", all_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_is_a_modest_rgb_colour_photo(path):
    with Image.open(path) as image:
        assert image.mode == "RGB"
        assert 128 <= max(image.size) <= 1024
        rgb = np.asarray(image, dtype=np.float32)
    # colour, not a grayscale picture saved as RGB: the channels differ somewhere
    chroma = np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max(axis=-1)
    assert np.percentile(chroma, 90) >= 2.0


def test_splits_are_disjoint_by_content():
    owner = {}
    for path in all_files():
        digest = sha256(path)
        assert digest not in owner, f"{path} has the same content as {owner[digest]}"
        owner[digest] = path


def test_no_photo_is_already_elsewhere_in_datasets():
    neutral = {sha256(p) for p in all_files()}
    for path in DATASETS.rglob("*"):
        if path.suffix.lower() in PHOTO_SUFFIXES and NEUTRAL not in path.parents:
            assert sha256(path) not in neutral, f"{path} is also in datasets/neutral"


def test_every_file_is_attributed_in_sources_and_manifest():
    sources = (DATASETS / "SOURCES-neutral.md").read_text()
    manifest = {e["file"]: e for e in json.loads((DATASETS / "manifest.json").read_text())}
    for path in all_files():
        split = path.parent.name
        assert f"| {split} | {path.name} |" in sources, path
        entry = manifest[f"neutral/{split}/{path.name}"]
        assert entry["package"] and entry["original"] and entry["license"]
        assert entry["package"] not in {"scratch", "kphotoalbum"}


def test_manifest_lists_no_missing_neutral_file():
    entries = json.loads((DATASETS / "manifest.json").read_text())
    for entry in entries:
        if entry["file"].startswith("neutral/"):
            assert (DATASETS / entry["file"]).is_file(), entry["file"]
