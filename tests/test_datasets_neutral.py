"""datasets/neutral: near-neutral colour photos (issue 26), three disjoint, documented splits."""

import pytest

from dataset_checks import DATASETS, check_colour_photo, check_distinct, check_not_elsewhere, manifest, photos_in

NEUTRAL = DATASETS / "neutral"
SPLITS = ("val", "test", "train")


def split_files(split):
    return photos_in(NEUTRAL / split)


def all_files():
    return [p for split in SPLITS for p in split_files(split)]


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_holds_photos(split):
    assert len(split_files(split)) >= 8


@pytest.mark.parametrize("path", all_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_is_a_modest_rgb_colour_photo(path):
    check_colour_photo(path, longest_side=1024)


def test_splits_are_disjoint_by_content():
    check_distinct(all_files())


def test_no_photo_is_already_elsewhere_in_datasets():
    check_not_elsewhere(all_files(), NEUTRAL)


def test_every_file_is_attributed_in_sources_and_manifest():
    sources = (DATASETS / "SOURCES-neutral.md").read_text()
    entries = manifest()
    for path in all_files():
        split = path.parent.name
        assert f"| {split} | {path.name} |" in sources, path
        entry = entries[f"neutral/{split}/{path.name}"]
        assert entry["package"] and entry["original"] and entry["license"]
        assert entry["package"] not in {"scratch", "kphotoalbum"}


def test_manifest_lists_no_missing_neutral_file():
    for entry in manifest().values():
        if entry["file"].startswith("neutral/"):
            assert (DATASETS / entry["file"]).is_file(), entry["file"]
