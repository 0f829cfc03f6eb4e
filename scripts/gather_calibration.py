"""Build datasets/calibration/: real colour photos the colorizer never trained on, half near-neutral.

Issue 26's per-image "how neutral is this scene" regression must be fitted on photos the
colorizer did not train on (on its own training photos its colours are right by
construction).  This set mixes about half near-neutral scenes (grey objects on plain grounds,
white interiors, overcast water and streets, grey animals on grey ground) with about half
ordinary colourful photos (animals, fish, food, people, gardens, towns in sun), so that the
regression must tell them apart.  Every file comes from a pinned Debian 12 (bookworm) package;
this script downloads the packages with `apt-get download`, unpacks them with `dpkg-deb -x`,
converts the chosen files with the helpers of scripts/gather_neutral.py (same conversions: Qt
.rcc resources, stellarium opaque rows, crops; RGB, longest side <= 800 px, JPEG quality 90),
checks that no pick is already in datasets/ (or ../shared/datasets) by thumbnail and
difference hash, and writes SOURCES-calibration.md and the `calibration/` entries of
datasets/manifest.json.  A maintenance script: nothing in the project runs it at run time.

    python scripts/gather_calibration.py                # writes into datasets/calibration
    python scripts/gather_calibration.py --work /tmp/x  # where .debs are fetched and unpacked

The blender-data HDRI needs the `OpenEXR` pip package (as gather_neutral.py does); it is not
a project dependency: `pip install --target /tmp/exr OpenEXR` and put /tmp/exr on PYTHONPATH.

The packages `scratch` and `kphotoalbum` are never used (held out for independent checks).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from gather_neutral import (  # noqa: E402  (the sibling script, imported as a module)
    BLENDER_AUTHOR, DATASETS, FORBIDDEN_PACKAGES, OPENCV_AUTHOR, OPENCV_LICENCE, load_pick, original_text,
    read_rcc, save_photo, unpack_package, write_manifest,
)

REPO = DATASETS.parent
CALIBRATION = DATASETS / "calibration"
# The shared data folder beside the main checkout (/work/shared/datasets for /work/main and
# for worktrees /work/wt/NAME); whichever of these exists is checked too.
SHARED_DATASETS = [REPO.parent / "shared" / "datasets", REPO.parents[1] / "shared" / "datasets"]
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# A pick closer than this to any image already in datasets/ is a (near-)duplicate.
LONG_SIDE = 800  # smaller than neutral/'s 1024 to keep the set near 80 KB a photo
MIN_THUMB_DISTANCE = 0.04   # mean absolute difference of 16x16 RGB thumbnails, 0..1
MIN_DHASH_DISTANCE = 9      # differing bits of the 64-bit difference hash

PACKAGE_VERSIONS = {
    "blender-data": "3.4.1+dfsg-2",
    "fotoxx-common": "20.08-2",
    "gcompris-qt-data": "3.1-2",
    "gimp-help-en": "2.10.34-2",
    "hugin-data": "2022.0.0+dfsg-2",
    "opencv-doc": "4.6.0+dfsg-12",
    "scribus-template": "1.2.4.1-6",
    "stellarium-data": "0.22.2-1",
}

GC_RCC = "/usr/share/gcompris-qt/rcc/"
GC_CAT = "gcompris/src/activities/categorization/resource/images/"
GC_ERASE = "gcompris/src/activities/erase/resource/"
GC_FARM = "gcompris/src/activities/explore_farm_animals/resource/animals/"
GC_WORLD = "gcompris/src/activities/explore_world_animals/resource/animals/"
GC_MUSIC = "gcompris/src/activities/explore_world_music/resource/music/"
OPENCV_HTML = "/usr/share/doc/opencv-doc/opencv4/html/"
OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data/"
OPENCV_TEXT = "/usr/share/doc/opencv-doc/examples/text/"
HUGIN_HELP = "/usr/share/hugin/xrc/data/help_en_EN/"
HUGIN_AUTHOR = "Hugin manual (package: Copyright 2004-2022 Pablo d'Angelo et al., hugin-data copyright file)"
HUGIN_LICENCE = "GPL-2+ (hugin-data copyright file, Files: *)"
GIMP_HELP = "/usr/share/gimp/2.0/help/en/images/"
GIMP_AUTHOR = "The GIMP Documentation Team"
GIMP_LICENCE = "GFDL-1.2+ (gimp-help copyright)"
SCRIBUS_AUTHOR = "Riku Leino (scribus-template copyright file: br2, menu2)"
SCRIBUS_LICENCE = "Public domain (scribus-template copyright file: templates by Riku Leino)"


def gc(out, kind, rcc, member, shows, **extra):
    """A gcompris-qt-data pick; author and licence come from the README beside the file."""
    return dict(out=out, kind=kind, package="gcompris-qt-data", path=GC_RCC + rcc + ".rcc",
                member=member, op="plain", shows=shows, **extra)


def opencv(out, kind, path, shows, **extra):
    return dict(out=out, kind=kind, package="opencv-doc", path=path, op="plain", shows=shows,
                author=OPENCV_AUTHOR, licence=OPENCV_LICENCE, **extra)


# Each pick: out (file name), kind (neutral or colourful: the mix, not a measured label),
# package, path inside the package, optional rcc member, conversion (op + optional crop box
# `arg`), what it shows, author, licence (gcompris: read from the resource's README).
PICKS = [
    # --- near-neutral scenes ---
    gc("gcompris-steel-cutlery-black.jpg", "neutral", "categorization", GC_CAT + "others/knife.webp",
       "steel knife, fork and spoon on a black ground"),
    gc("gcompris-grey-pillow-white-bed.jpg", "neutral", "categorization", GC_CAT + "others/pillow.webp",
       "grey patterned pillow on a white bed"),
    gc("gcompris-white-plate-grey.jpg", "neutral", "categorization", GC_CAT + "others/plate.webp",
       "white ceramic plate on a grey ground"),
    gc("gcompris-silver-spoons-grey.jpg", "neutral", "categorization", GC_CAT + "others/spoons.webp",
       "five silver spoons on a grey ground"),
    gc("gcompris-white-chair-grey-wall.jpg", "neutral", "categorization", GC_CAT + "others/chair.webp",
       "white wooden chair against a grey-brown wall"),
    gc("gcompris-light-bulb-dark.jpg", "neutral", "categorization", GC_CAT + "others/bulb.webp",
       "frosted white light bulb against a dark grey ground"),
    gc("gcompris-hammer-granite.jpg", "neutral", "categorization", GC_CAT + "tools/hammer4.webp",
       "claw hammer on a grey granite worktop"),
    gc("gcompris-old-pliers-pale-board.jpg", "neutral", "categorization", GC_CAT + "tools/plier4.webp",
       "worn steel pliers on a pale board"),
    gc("gcompris-wrench-cardboard.jpg", "neutral", "categorization", GC_CAT + "tools/wrench1.webp",
       "steel adjustable wrench on beige cardboard"),
    gc("gcompris-nail-clipper-white.jpg", "neutral", "categorization", GC_CAT + "tools/nailCutter.webp",
       "steel nail clipper on white"),
    gc("gcompris-white-teacup-saucer.jpg", "neutral", "categorization", GC_CAT + "others/buffetset.webp",
       "white porcelain cup and saucer with painted birds on a pale grey ground"),
    gc("gcompris-white-duck-dark-water.jpg", "neutral", "explore_farm_animals", GC_FARM + "duck.webp",
       "white duck on grass beside dark water"),
    gc("gcompris-owl-grey-branches.jpg", "neutral", "explore_farm_animals", GC_FARM + "owl.webp",
       "brown owl on grey branches, grey blurred background"),
    gc("gcompris-nubian-ibex-pale-desert.jpg", "neutral", "erase", GC_ERASE + "nubian_ibex.webp",
       "Nubian ibex on pale rock, hazy beige desert"),
    gc("gcompris-giraffes-dry-savanna.jpg", "neutral", "explore_world_animals", GC_WORLD + "giraffe.webp",
       "two giraffes among bare grey trees on dry ground, pale sky"),
    opencv("opencv-lecture-hall-white.jpg", "neutral", OPENCV_HTML + "studentsSample_input.jpg",
           "lecture hall: white ceiling and walls, grey seats, a projection screen"),
    opencv("opencv-sudoku-newspaper.jpg", "neutral", OPENCV_DATA + "sudoku.png",
           "sudoku printed in a newspaper, grey paper"),
    opencv("opencv-projector-grey-casing.jpg", "neutral", OPENCV_TEXT + "scenetext_segmented_word05.jpg",
           "grey plastic casing of a projector with its printed name"),
    opencv("opencv-noise-print-grey-wall.jpg", "neutral", OPENCV_HTML + "pattern_img.jpg",
           "black-and-white noise print pinned on a grey wall"),
    opencv("opencv-chessboard-paper-desk.jpg", "neutral", OPENCV_HTML + "choriginal.jpg",
           "printed chessboard of markers on white paper on a wooden desk"),
    opencv("opencv-hand-grey-table.jpg", "neutral", OPENCV_HTML + "handSrc.jpg",
           "an open hand on a pale grey table"),
    opencv("opencv-copper-coins-white.jpg", "neutral", OPENCV_HTML + "coins.jpg",
           "copper coins on white paper"),
    opencv("opencv-books-dim-floor.jpg", "neutral", OPENCV_DATA + "left.jpg",
           "two books standing on a grey floor in dim light"),
    opencv("opencv-black-notebook-grey.jpg", "neutral", OPENCV_DATA + "ela_original.jpg",
           "black notebook with a green band on a blue-grey table"),
    opencv("opencv-river-overcast-valley.jpg", "neutral", OPENCV_HTML + "Warp_Affine_Tutorial_Original_Image.jpg",
           "grey river in a valley under an overcast sky", arg=(2, 16, 296, 238)),
    dict(out="gimp-gravel-terrace-wall.jpg", kind="neutral", package="gimp-help-en",
         path=GIMP_HELP + "filters/examples/map/pan-project-result-1.jpg", op="plain",
         shows="pale gravel terrace with a concrete wall and a bench, trees (rectilinear view "
               "made by GIMP's Panorama Projection filter from a photo)",
         author=GIMP_AUTHOR, licence=GIMP_LICENCE),
    dict(out="blender-gravel-path-forest.jpg", kind="neutral", package="blender-data",
         path="/usr/share/blender/datafiles/studiolights/world/forest.exr", op="exr",
         arg=(256, 150, 768, 430),
         shows="grey gravel path with a wooden fence, trees in soft light",
         author=BLENDER_AUTHOR, licence="CC0-1.0 (studiolights/world/license.txt)"),
    dict(out="fotoxx-street-bus-shelter.jpg", kind="neutral", package="fotoxx-common",
         path="/usr/share/fotoxx/images/make-waves.jpg", op="plain", arg=(0, 0, 468, 190),
         shows="street with a bus shelter, lamp posts and brick houses in flat light",
         author="Michael Cornelison (fotoxx-common copyright file, Files: *)",
         licence="GPL-3+ (fotoxx-common copyright file, Files: *)"),
    # --- ordinary colourful photos ---
    gc("gcompris-fish-ocellated-wrasse.jpg", "colourful", "categorization", GC_CAT + "fishes/fish13.webp",
       "colourful wrasse among sea grass"),
    gc("gcompris-fish-red-bream.jpg", "colourful", "categorization", GC_CAT + "fishes/fish19.webp",
       "red-orange fish over green weed"),
    gc("gcompris-fish-red-algae.jpg", "colourful", "categorization", GC_CAT + "fishes/fish24.webp",
       "slim striped fish in front of red algae"),
    gc("gcompris-goldfish.jpg", "colourful", "categorization", GC_CAT + "fishes/fish25.webp",
       "orange goldfish on a dark ground"),
    gc("gcompris-parthenon-blue-sky.jpg", "colourful", "categorization", GC_CAT + "monuments/parthenon.webp",
       "the Parthenon in sun under a blue sky"),
    gc("gcompris-leaning-tower-pisa.jpg", "colourful", "categorization",
       GC_CAT + "monuments/leaningTowerOfPisa.webp", "the leaning tower of Pisa, blue sky, lawn"),
    gc("gcompris-gibbon-green-trees.jpg", "colourful", "erase", GC_ERASE + "gibbon.webp",
       "gibbon hanging in green trees"),
    gc("gcompris-gorilla-green-leaves.jpg", "colourful", "erase", GC_ERASE + "gorilla.webp",
       "black gorilla among green leaves"),
    gc("gcompris-proboscis-monkey.jpg", "colourful", "erase", GC_ERASE + "long_nosed_monkey.webp",
       "proboscis monkey with young, green background"),
    gc("gcompris-macaque-green.jpg", "colourful", "erase", GC_ERASE + "macaque.webp",
       "macaque head against a green background"),
    gc("gcompris-pika-autumn.jpg", "colourful", "erase", GC_ERASE + "pika.webp",
       "pika with red leaves on a rock, autumn colours"),
    gc("gcompris-red-squirrel-tree.jpg", "colourful", "erase", GC_ERASE + "squirrel.webp",
       "red squirrel on a tree trunk, green and yellow background"),
    gc("gcompris-kitten-red-blanket.jpg", "colourful", "explore_farm_animals", GC_FARM + "cat.webp",
       "kitten playing with yarn on a red-pink blanket"),
    gc("gcompris-chameleon-green-leaves.jpg", "colourful", "explore_world_animals", GC_WORLD + "chameleon.webp",
       "lizard on a branch among bright green leaves"),
    gc("gcompris-jaguars-rocks.jpg", "colourful", "explore_world_animals", GC_WORLD + "jaguar.webp",
       "two jaguars on brown rocks"),
    gc("gcompris-bata-drums-grass.jpg", "colourful", "explore_world_music", GC_MUSIC + "africa.webp",
       "three bata drums on green grass"),
    gc("gcompris-costumed-players-stage.jpg", "colourful", "explore_world_music", GC_MUSIC + "italy.webp",
       "people in costumes on a stage, red and purple clothes"),
    opencv("opencv-toys-lattice.jpg", "colourful", OPENCV_DATA + "rubberwhale1.png",
           "toys, an orange knitted cloth and a wooden lattice (indoor)"),
    opencv("opencv-hotel-sign-flowers.jpg", "colourful", OPENCV_TEXT + "scenetext_segmented_word01.jpg",
           "hotel sign under window boxes of red geraniums"),
    dict(out="scribus-pizza.jpg", kind="colourful", package="scribus-template",
         path="/usr/share/scribus/templates/menu2/pizza.jpg", op="plain",
         shows="pizza with cheese and herbs (food)", author=SCRIBUS_AUTHOR, licence=SCRIBUS_LICENCE),
    dict(out="scribus-canyon-stream.jpg", kind="colourful", package="scribus-template",
         path="/usr/share/scribus/templates/br2/nature.jpg", op="plain",
         shows="red sandstone canyon, green trees and a rocky stream", author=SCRIBUS_AUTHOR,
         licence=SCRIBUS_LICENCE),
    dict(out="scribus-city-sunset.jpg", kind="colourful", package="scribus-template",
         path="/usr/share/scribus/templates/br2/sunset.jpg", op="plain",
         shows="orange sunset over a city skyline and water", author=SCRIBUS_AUTHOR,
         licence=SCRIBUS_LICENCE),
    dict(out="hugin-desk-lamp-laptop.jpg", kind="colourful", package="hugin-data",
         path=HUGIN_HELP + "300px-Lamp_enfuse.jpg", op="plain",
         shows="desk with a laptop and a green banker's lamp, green wall (indoor)",
         author=HUGIN_AUTHOR, licence=HUGIN_LICENCE),
    dict(out="hugin-tuebingen-riverfront.jpg", kind="colourful", package="hugin-data",
         path=HUGIN_HELP + "600px-Tuebingen_Neckarfront_small15_2006-06-11.jpg", op="plain",
         shows="colourful houses along a river in sun, trees, blue sky",
         author=HUGIN_AUTHOR, licence=HUGIN_LICENCE),
    dict(out="hugin-beech-forest.jpg", kind="colourful", package="hugin-data",
         path=HUGIN_HELP + "CA_fringes00.jpg", op="plain",
         shows="beech trunks in a sunlit green forest",
         author=HUGIN_AUTHOR, licence=HUGIN_LICENCE),
    dict(out="gimp-wood-anemone-pink.jpg", kind="colourful", package="gimp-help-en",
         path=GIMP_HELP + "filters/examples/kvitveis-orig.png", op="plain",
         shows="pink flower against green leaves (garden)", author=GIMP_AUTHOR, licence=GIMP_LICENCE),
    dict(out="stellarium-garching-rapeseed.jpg", kind="colourful", package="stellarium-data",
         path="/usr/share/stellarium/landscapes/garching/garching-gl1.png", op="opaque_rows",
         shows="field of yellow-flowering rapeseed",
         author="Fabien Chéreau (landscape.ini); package: (C) 2002-2014 Fabien Chéreau et al.",
         licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
]


def gcompris_credit(readme: str, file_name: str) -> tuple[str, str]:
    """Author and licence of `file_name` from a gcompris resource README (blank-line blocks)."""
    for block in re.split(r"\n\s*\n", readme):
        if re.search(r"(^|[\s:])" + re.escape(file_name) + r"($|\s)", block, re.M):
            fields = dict(re.findall(r"^(Copyright|License|Source):\s*(.*)$", block, re.M))
            author = fields.get("Copyright", "not stated")
            source = fields.get("Source", "")
            if "commons.wikimedia.org/wiki/File:" in source:
                author += f" (source: Commons, {source.rsplit('File:', 1)[1]})"
            elif source:
                author += f" (source: {source})"
            return author, fields.get("License", "not stated") + " (README beside the file in the resource)"
    raise KeyError(f"{file_name} is not credited in the README")


def credit_gcompris_picks(picks: list[dict], root: pathlib.Path) -> None:
    """Fill in author and licence of the gcompris picks from the READMEs inside the .rcc files."""
    for pick in picks:
        if pick["package"] != "gcompris-qt-data":
            continue
        files = read_rcc(root / pick["path"].lstrip("/"))
        readme = files[pick["member"].rsplit("/", 1)[0] + "/README"].decode("utf-8")
        pick["author"], pick["licence"] = gcompris_credit(readme, pick["member"].rsplit("/", 1)[1])


def thumbnail_and_hash(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """A 16x16 RGB thumbnail in 0..1 and the 64-bit difference hash (9x8 grey, left < right)."""
    rgb = image.convert("RGB")
    thumb = np.asarray(rgb.resize((16, 16), Image.BILINEAR), dtype=np.float32) / 255.0
    grey = np.asarray(rgb.convert("L").resize((9, 8), Image.BILINEAR), dtype=np.float32)
    return thumb, (grey[:, 1:] > grey[:, :-1]).ravel()


def reference_images(roots: list[pathlib.Path], skip: pathlib.Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    refs = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in PHOTO_SUFFIXES and skip not in path.parents:
                with Image.open(path) as image:
                    refs.append((str(path), *thumbnail_and_hash(image)))
    return refs


def nearest_reference(image: Image.Image, refs) -> tuple[float, int, str]:
    """Smallest thumbnail distance and smallest hash distance to any reference, and its path."""
    thumb, bits = thumbnail_and_hash(image)
    thumb_distance, path = min((float(np.abs(thumb - t).mean()), p) for p, t, _ in refs)
    hash_distance = min(int((bits != b).sum()) for _, _, b in refs)
    return thumb_distance, hash_distance, path


SOURCES_HEADER = """# `calibration/`: photos the colorizer never trained on, for fitting (issue 26)

Real colour photographs used to fit the per-image "how neutral is this scene" regression
of issue 26 on photos the colorizer did not train on (on its own training photos its
colours are right by construction, so they say nothing about its errors). About half are
near-neutral scenes (grey objects on plain grounds, white interiors, overcast water and
streets, grey or white animals on grey ground) and about half ordinary colourful photos
(animals, fish, food, people, gardens, towns in sun), so that the regression has to tell
them apart. The `kind` column records that intended mix only; it is not a measured label.
No file here is in any other folder of `datasets/` or in the shared datasets (checked by
content hash and by small thumbnails; see below). Nothing here is for training.

## How the set was built

`scripts/gather_calibration.py` rebuilds every file: it fetches the pinned Debian 12
(bookworm) packages with `apt-get download`, unpacks them with `dpkg-deb -x`, converts the
chosen files with the helpers of `scripts/gather_neutral.py` and writes this file and the
`calibration/` entries of `manifest.json`. The packages `scratch` and `kphotoalbum` were
not used. gcompris images are read out of the Qt `.rcc` resources (author and licence from
the README beside each file); the stellarium tile keeps only its opaque rows; the
blender-data HDRI is tone-mapped (log-average 0.18, Reinhard, sRGB) and cropped near the
horizon, where the equirectangular projection is mild; one OpenCV
tutorial image loses its window title bar and fotoxx's `make-waves.jpg` its synthetic wave
reflection (crops). All outputs: RGB, longest side at most 800 px (never enlarged), JPEG
quality 90.

Candidates were every JPEG/PNG/WebP in gcompris-qt-data (all `.rcc` resources), opencv-doc,
gimp-help-en, hugin-data, scribus-template, stellarium-data (landscapes), enlightenment-data,
lxqt-themes, mate-backgrounds, lomiri-wallpapers(-16.04, -20.04), plasma-workspace-wallpapers,
ukui-wallpapers, sway-backgrounds, fotoxx-common, imagemagick-6-doc and digikam-data, and the
blender-data HDRIs that `neutral/` and `unlike/` do not use, at least 280 px on the long side
and not grayscale, reviewed by eye on contact sheets.
Rejected: drawings, paintings, renders and abstract wallpapers, screenshots, figures, filter
demos (except the two noted), images with overlays, boxes or UI frames, portraits of
identifiable people, test images of unclear origin (OpenCV `baboon.jpg`, `lena.jpg`), and
every photo already in `datasets/`.

Duplicates: the script compares every pick with all images under `datasets/` outside
`calibration/` and, where present, `../shared/datasets` by a 16x16 colour thumbnail (mean
absolute difference, 0..1) and a 64-bit difference hash, and refuses a pick closer than
0.04 or within 8 bits. Exact copies score below 0.01. Pictures of the same scene from
another crop or viewpoint were also left out by eye (e.g. OpenCV `aloeR.jpg` beside
`aloeL.jpg`, the `vtest.avi` path, GIMP Taj Mahal and power-line variants, Hugin `CA_tCA`
crops). `tests/test_datasets_calibration.py` checks content hashes against the rest of
`datasets/`.

## Caveats

- `gimp-gravel-terrace-wall.jpg` is the GIMP manual's example output of the Panorama
  Projection filter (a rectilinear view computed from a photographed panorama); it looks
  like an ordinary wide-angle photo.
- `fotoxx-street-bus-shelter.jpg` is the top of fotoxx's `make-waves.jpg` demo; the rows
  below the street (a synthetic wave reflection) were cropped away.
- opencv-doc photos come under the package's Apache-2.0/BSD-3-Clause licence without the
  photographer named; hugin-data and gimp-help-en photos are credited to the manuals.
- Many neutral picks are indoor objects on plain grounds (11 gcompris photos, several
  OpenCV ones); outdoor neutral scenes (overcast river, street, gravel path and terrace, dry
  savanna, desert) are fewer, and there is no snow or fog here: the candidate packages' snow,
  fog, concrete and stone photos are already in `landscapes/` or `neutral/`.
- `blender-gravel-path-forest.jpg` is a crop of an equirectangular HDRI panorama (slight
  curvature near the edges).

## Files

| kind | file | what it shows | Debian package (version) | original path in the package | author | licence |
|---|---|---|---|---|---|---|
"""


def write_sources(picks: list[dict]) -> None:
    rows = []
    order = {"neutral": 0, "colourful": 1}
    for pick in sorted(picks, key=lambda p: (order[p["kind"]], p["out"])):
        package = f"{pick['package']} ({PACKAGE_VERSIONS[pick['package']]})"
        rows.append(f"| {pick['kind']} | {pick['out']} | {pick['shows']} | {package} "
                    f"| {original_text(pick)} | {pick['author']} | {pick['licence']} |")
    (DATASETS / "SOURCES-calibration.md").write_text(SOURCES_HEADER + "\n".join(rows) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/gather_calibration"))
    parser.add_argument("--out", type=pathlib.Path, default=CALIBRATION)
    args = parser.parse_args()
    assert not {p["package"] for p in PICKS} & FORBIDDEN_PACKAGES
    assert len({p["out"] for p in PICKS}) == len(PICKS)
    roots = {}
    for package in sorted({p["package"] for p in PICKS}):
        roots[package] = unpack_package(package, args.work, PACKAGE_VERSIONS)
    credit_gcompris_picks(PICKS, roots["gcompris-qt-data"])
    roots_to_check = [DATASETS] + [r for r in SHARED_DATASETS if r.is_dir()]
    refs = reference_images(roots_to_check, skip=args.out)
    print(f"{len(refs)} reference images in", ", ".join(map(str, roots_to_check)))
    too_close = []
    for pick in PICKS:
        image = load_pick(pick, roots[pick["package"]])
        thumb_distance, hash_distance, nearest = nearest_reference(image, refs)
        print(f"{pick['out']}: thumbnail {thumb_distance:.3f}, hash {hash_distance} "
              f"(nearest {pathlib.Path(nearest).name})")
        if thumb_distance < MIN_THUMB_DISTANCE or hash_distance < MIN_DHASH_DISTANCE:
            too_close.append(pick["out"])
            continue
        save_photo(image, args.out / pick["out"], LONG_SIDE)
    if too_close:
        raise SystemExit(f"already in datasets (or too close): {too_close}")
    if args.out.resolve() == CALIBRATION.resolve():
        write_sources(PICKS)
        write_manifest(PICKS, "calibration")
    else:
        print("--out is not datasets/calibration: SOURCES-calibration.md and manifest.json left as they are")


if __name__ == "__main__":
    main()
