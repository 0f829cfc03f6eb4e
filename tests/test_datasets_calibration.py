"""datasets/calibration: photos never trained on, for fitting the neutral-scene regression (issue 26)."""

import re

import pytest

from dataset_checks import DATASETS, check_colour_photo, check_distinct, check_not_elsewhere, manifest, photos_in

CALIBRATION = DATASETS / "calibration"
SOURCES = DATASETS / "SOURCES-calibration.md"


def calibration_files():
    return photos_in(CALIBRATION)


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
    check_colour_photo(path, longest_side=800)


def test_no_two_calibration_files_have_the_same_content():
    check_distinct(calibration_files())


def test_no_photo_is_already_elsewhere_in_datasets():
    check_not_elsewhere(calibration_files(), CALIBRATION, at_least=101)


def test_every_file_is_attributed_in_sources_and_manifest():
    listed = {name for _, name in source_rows()}
    entries = manifest()
    for path in calibration_files():
        assert path.name in listed, path
        entry = entries[f"calibration/{path.name}"]
        assert entry["package"] and entry["original"] and entry["license"]
        assert entry["package"] not in {"scratch", "kphotoalbum"}
    for entry in entries.values():
        if entry["file"].startswith("calibration/"):
            assert (DATASETS / entry["file"]).is_file(), entry["file"]
