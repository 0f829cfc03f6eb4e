"""Build datasets/neutral/{val,test,train}: near-neutral colour photographs from Debian packages.

Issue 26 asks for photos of the scenes the model tints (snow, fog and overcast skies, grey
roads and streets, concrete and stone, grey water, machinery, white interiors).  Every file
comes from a Debian 12 (bookworm) package; this script downloads the packages with
`apt-get download` (no `apt-get install`), unpacks them with `dpkg-deb -x` into a work folder,
converts the chosen files and writes them, SOURCES-neutral.md and the `neutral/` entries of
datasets/manifest.json.  It is a maintenance script: nothing in the project runs it at run time.

    python scripts/gather_neutral.py                # all packages, writes into datasets/
    python scripts/gather_neutral.py --work /tmp/x  # where .debs are fetched and unpacked

Conversions (see PICKS): gcompris-qt-data keeps its images inside Qt .rcc resources, read
here by `read_rcc`; stellarium landscape tiles have a transparent sky, so only the rows that
are opaque across the whole width are kept; blender-data HDRIs (OpenEXR, needs the `OpenEXR`
pip package) are exposed to a log-average of 0.18, Reinhard tone-mapped and sRGB encoded,
then a crop of the 1024x512 equirectangular panorama is taken where the projection is mild;
a frame is taken from an OpenCV sample video.  Every output is RGB, longest side at most
1024 px (Pillow LANCZOS, never enlarged), JPEG quality 90.  The packages `scratch` and
`kphotoalbum` are never used (held out for independent checks).
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import struct
import subprocess
import zlib

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
DATASETS = REPO / "datasets"
LONG_SIDE = 1024
JPEG_QUALITY = 90

PACKAGE_VERSIONS = {
    "blender-data": "3.4.1+dfsg-2",
    "enlightenment-data": "0.25.4-2",
    "gcompris-qt-data": "3.1-2",
    "gimp-help-en": "2.10.34-2",
    "hugin-data": "2022.0.0+dfsg-2",
    "lomiri-wallpapers-16.04": "20.04.0-2",
    "lxqt-themes": "1.2.0-1",
    "mate-backgrounds": "1.26.0-1",
    "opencv-doc": "4.6.0+dfsg-12",
    "scribus-template": "1.2.4.1-6",
    "stellarium-data": "0.22.2-1",
}
FORBIDDEN_PACKAGES = {"scratch", "kphotoalbum"}

OPENCV_LICENCE = "Apache-2.0 / BSD-3-Clause (opencv-doc copyright file; photographer not named)"
OPENCV_AUTHOR = "OpenCV project (opencv-doc; original photographer not named)"
STELLARIUM_AUTHOR = ("Johan Meuris and Robert Spearman (landscape.ini); package: (C) 2002-2014 "
                     "Fabien Chéreau et al.")
BLENDER_AUTHOR = "Greg Zaal (HDRI Haven), studiolights/world/license.txt"
HURRICANE = "/usr/share/stellarium/landscapes/hurricane/"
BLENDER_WORLD = "/usr/share/blender/datafiles/studiolights/world/"
E_BACKGROUNDS = "/usr/share/enlightenment/data/backgrounds/"
E_AUTHOR = "2000-2020 Carsten Haitzler and various contributors (enlightenment-data copyright file, Files: *)"
E_LICENCE = "BSD-2-clause (enlightenment-data copyright file, Files: *)"
GC_ANIMALS = "gcompris/src/activities/explore_world_animals/resource/animals/"
OPENCV_HTML = "/usr/share/doc/opencv-doc/opencv4/html/"
OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data/"
OPENCV_TEXT = "/usr/share/doc/opencv-doc/examples/text/"

# Each pick: out (split/name.jpg), package, path inside the package, optional rcc member,
# conversion (op + argument), what it shows, author, licence.  `out` names the split.
PICKS = [
    dict(out="val/stellarium-hurricane-ridge-snow-4.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane4.png", op="opaque_rows",
         shows="snow field, snowy conifers, overcast sky band (Hurricane Ridge)",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="val/stellarium-hurricane-ridge-snow-3.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane3.png", op="opaque_rows",
         shows="snow field with a line of snowy conifers",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="val/blender-city-overcast-left.jpg", package="blender-data",
         path=BLENDER_WORLD + "city.exr", op="exr", arg=(0, 30, 512, 280),
         shows="office towers and a crane under a grey sky, grey asphalt car park",
         author=BLENDER_AUTHOR, licence="CC0-1.0 (studiolights/world/license.txt)"),
    dict(out="val/blender-city-overcast-right.jpg", package="blender-data",
         path=BLENDER_WORLD + "city.exr", op="exr", arg=(512, 30, 1024, 280),
         shows="office buildings under a grey sky, grey asphalt car park",
         author=BLENDER_AUTHOR, licence="CC0-1.0 (studiolights/world/license.txt)"),
    dict(out="val/lxqt-beam-overcast.jpg", package="lxqt-themes",
         path="/usr/share/lxqt/wallpapers/beam.png", op="plain",
         shows="heavy grey clouds, a sunbeam over misty hills",
         author="stefonarch (wallpapers/License); package (C) 2022 LXQt Project Team",
         licence="CC-BY-SA-3.0 (/usr/share/lxqt/wallpapers/License)"),
    dict(out="val/opencv-concrete-walkway.jpg", package="opencv-doc",
         path=OPENCV_TEXT + "scenetext03.jpg", op="plain",
         shows="concrete building, covered walkway, white walls",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="val/opencv-pedestrian-path.jpg", package="opencv-doc",
         path=OPENCV_DATA + "vtest.avi", op="frame", arg=397,
         shows="people on a grey paved path and road beside a lawn, brick building",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="val/lomiri-free-white-ceiling.jpg", package="lomiri-wallpapers-16.04",
         path="/usr/share/backgrounds/free_by_Peter_Nerlich.jpg", op="plain",
         shows="white lamp globes against a white ceiling, a toy bird",
         author="Peter Nerlich, 2018", licence="CC-BY-SA-4.0 (lomiri-wallpapers copyright file)"),
    dict(out="val/gcompris-komodo-dragon-rock.jpg", package="gcompris-qt-data",
         path="/usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
         member=GC_ANIMALS + "dragon.webp", op="plain",
         shows="grey Komodo dragon on grey rock",
         author="TimVickers (source: Commons, Varanus_komodoensis_(5).jpg)",
         licence="Public Domain (README beside the file in the resource)"),
    dict(out="val/opencv-realsense-cameras.jpg", package="opencv-doc",
         path=OPENCV_HTML + "realsense.jpg", op="plain",
         shows="depth cameras on a white desk (machinery, white surfaces)",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="val/hugin-office-building-overcast.jpg", package="hugin-data",
         path="/usr/share/hugin/xrc/data/help_en_EN/CA_tCA00.jpg", op="plain",
         shows="concrete and glass office building, lawn, overcast sky",
         author="Hugin manual (package: Copyright 2004-2022 Pablo d'Angelo et al., hugin-data copyright file)",
         licence="GPL-2+ (hugin-data copyright file, Files: *)"),
    dict(out="val/enlightenment-snow-birches.jpg", package="enlightenment-data",
         path=E_BACKGROUNDS + "Snow-Trees.edj", op="edj",
         shows="bare birches on snow, long shadows",
         author=E_AUTHOR, licence=E_LICENCE),
    dict(out="val/enlightenment-hazy-mountains-dusk.jpg", package="enlightenment-data",
         path=E_BACKGROUNDS + "Mountain.edj", op="edj",
         shows="snowy peaks in haze at dusk, grey sky",
         author=E_AUTHOR, licence=E_LICENCE),
    dict(out="val/gcompris-giant-panda-stone.jpg", package="gcompris-qt-data",
         path="/usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
         member=GC_ANIMALS + "panda.webp", op="plain",
         shows="black-and-white giant panda on pale stone",
         author="Jeff Kubina (source: Commons, Giant_Panda_2004-03-2.jpg)",
         licence="Public Domain (README beside the file in the resource)"),
    dict(out="test/stellarium-hurricane-ridge-snow-7.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane7.png", op="opaque_rows",
         shows="trampled snow, snowy conifers",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="test/gcompris-polar-bear-snow.jpg", package="gcompris-qt-data",
         path="/usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
         member=GC_ANIMALS + "polar_bear.webp", op="plain",
         shows="polar bear walking on snow among dry shrubs",
         author="anonymous (source: Commons, Churchill_Wildlife_Management_Area_polar_bear30.JPG)",
         licence="Public Domain (README beside the file in the resource)"),
    dict(out="test/blender-interior-white-walls-left.jpg", package="blender-data",
         path=BLENDER_WORLD + "interior.exr", op="exr", arg=(0, 110, 512, 330),
         shows="hotel room: white walls and ceiling, desk, grey floor",
         author=BLENDER_AUTHOR, licence="CC0-1.0 (studiolights/world/license.txt)"),
    dict(out="test/blender-interior-white-walls-right.jpg", package="blender-data",
         path=BLENDER_WORLD + "interior.exr", op="exr", arg=(512, 110, 1024, 330),
         shows="hotel room: white bed, curtains, white walls",
         author=BLENDER_AUTHOR, licence="CC0-1.0 (studiolights/world/license.txt)"),
    dict(out="test/scribus-half-moon-clouds.jpg", package="scribus-template",
         path="/usr/share/scribus/templates/br2/halfmoon.jpg", op="plain",
         shows="partly eclipsed moon behind grey night clouds",
         author="Riku Leino (scribus-template copyright file: br2)",
         licence="Public domain (scribus-template copyright file: templates by Riku Leino)"),
    dict(out="test/opencv-overcast-scrub-trees.jpg", package="opencv-doc",
         path=OPENCV_HTML + "retina_TreeHdr_small.jpg", op="plain",
         shows="grey overcast sky over scrub and two flat-topped trees",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="test/opencv-aerial-city-grey.jpg", package="opencv-doc",
         path=OPENCV_DATA + "aero3.jpg", op="plain",
         shows="aerial view of a grey town, roads, a haze-grey sea",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="test/opencv-objects-grey-table.jpg", package="opencv-doc",
         path=OPENCV_DATA + "stuff.jpg", op="plain",
         shows="pencil, lighter, coin and lids on a grey table",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="test/opencv-markers-white-paper.jpg", package="opencv-doc",
         path=OPENCV_HTML + "singlemarkersoriginal.jpg", op="plain",
         shows="white sheet with printed markers on a table, cardboard box (interior)",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="test/opencv-silver-car-motion.jpg", package="opencv-doc",
         path=OPENCV_DATA + "licenseplate_motion.jpg", op="plain",
         shows="silver car from behind, motion blur, grey street",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="train/stellarium-hurricane-ridge-snow-1.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane1.png", op="opaque_rows",
         shows="snowy conifers, snow on the ground",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="test/gcompris-rhinoceros-grey-shore.jpg", package="gcompris-qt-data",
         path="/usr/share/gcompris-qt/rcc/erase.rcc",
         member="gcompris/src/activities/erase/resource/rhinoceros.webp", op="plain",
         shows="grey rhinoceros on a pale shore, hazy water and sky",
         author="Charles J. Sharp (source: Commons, Indian_rhinoceros_(Rhinoceros_unicornis)_4.jpg)",
         licence="CC-BY-SA-4.0 (README beside the file in the resource)"),
    dict(out="test/enlightenment-overcast-sunbeams.jpg", package="enlightenment-data",
         path=E_BACKGROUNDS + "God-Rays.edj", op="edj",
         shows="grey clouds with sunbeams over a misty landscape",
         author=E_AUTHOR, licence=E_LICENCE),
    dict(out="test/gcompris-grey-kangaroos-sand.jpg", package="gcompris-qt-data",
         path="/usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
         member=GC_ANIMALS + "kangaroo.webp", op="plain",
         shows="grey kangaroo and joey on sandy ground in shade",
         author="Vicki Nunn (source: Commons, Eastern_Grey_Kangaroo_%26_Joey2.jpg)",
         licence="Public Domain (README beside the file in the resource)"),
    dict(out="train/stellarium-hurricane-ridge-snow-5.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane5.png", op="opaque_rows",
         shows="snow slope, parked cars, distant snowy trees",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="test/stellarium-hurricane-ridge-snow-8.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane8.png", op="opaque_rows",
         shows="snow with footprints, tall snowy conifers",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="train/stellarium-hurricane-ridge-snow-ground.jpg", package="stellarium-data",
         path=HURRICANE + "hurricaneb.png", op="opaque_rows",
         shows="trodden snow seen from above",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="train/blender-studio-white-cyclorama.jpg", package="blender-data",
         path=BLENDER_WORLD + "studio.exr", op="exr", arg=(200, 120, 840, 400),
         shows="photo studio: white cyclorama, black curtains, lamps",
         author=BLENDER_AUTHOR, licence="CC0-1.0 (studiolights/world/license.txt)"),
    dict(out="train/opencv-leuven-street-b.jpg", package="opencv-doc",
         path=OPENCV_DATA + "leuvenB.jpg", op="plain",
         shows="cobbled street between brick houses under a grey sky",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="train/mate-wood-plank.jpg", package="mate-backgrounds",
         path="/usr/share/backgrounds/mate/nature/Wood.jpg", op="plain",
         shows="pale weathered wooden planks",
         author="2008, Jean-François Fortin Tam (mate-backgrounds copyright file)",
         licence="GPL-2+ (mate-backgrounds copyright file)"),
    dict(out="train/stellarium-hurricane-ridge-snow-2.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane2.png", op="opaque_rows",
         shows="snow field below snowy conifers",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="train/stellarium-hurricane-ridge-snow-6.jpg", package="stellarium-data",
         path=HURRICANE + "hurricane6.png", op="opaque_rows",
         shows="snow, parked cars, snowy conifers, grey mountains",
         author=STELLARIUM_AUTHOR, licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="train/opencv-overcast-abandoned-building.jpg", package="opencv-doc",
         path=OPENCV_HTML + "Basic_Linear_Transform_Tutorial_gamma_correction.jpg", op="plain",
         arg=(0, 0, 816, 612),
         shows="grey abandoned concrete building, bare trees, overcast sky (left, uncorrected half)",
         author=OPENCV_AUTHOR, licence=OPENCV_LICENCE),
    dict(out="train/enlightenment-lichen-branches.jpg", package="enlightenment-data",
         path=E_BACKGROUNDS + "Lichen-Branches.edj", op="edj",
         shows="grey lichen on bare branches, dark background",
         author=E_AUTHOR, licence=E_LICENCE),
    dict(out="train/enlightenment-dark-clouds.jpg", package="enlightenment-data",
         path=E_BACKGROUNDS + "Sunset-Clouds.edj", op="edj",
         shows="dark grey clouds, a little evening light",
         author=E_AUTHOR, licence=E_LICENCE),
    dict(out="train/gimp-help-chimpanzee-grey.jpg", package="gimp-help-en",
         path="/usr/share/gimp/2.0/help/en/images/filters/examples/enhance/high-pass-origin.png",
         op="plain", shows="black chimpanzee against a grey-white background",
         author="The GIMP Documentation Team (gimp-help-common copyright file)",
         licence="GFDL-NIV-1.2+ (gimp-help-common copyright file, Files: *)"),
    dict(out="train/stellarium-grey-stone-wall.jpg", package="stellarium-data",
         path="/usr/share/stellarium/scenery3d/Testscene/TX_Stellarium-Testscene_withGrid/"
              "Stein_Mauerwerk_mehrfarbig.png", op="plain",
         shows="grey stone masonry wall (texture photo)",
         author="Stellarium team (package: (C) 2002-2014 Fabien Chéreau et al.)",
         licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="train/stellarium-concrete-observing-platform.jpg", package="stellarium-data",
         path="/usr/share/stellarium/scenery3d/Sterngarten/Sterngarten_20100320.png", op="plain",
         shows="concrete steps and platform with people, masts, car, dry scrub, blue sky",
         author="Stellarium team (Vienna Sterngarten scenery; package: (C) 2002-2014 Fabien Chéreau et al.)",
         licence="GPL-2+ (stellarium-data copyright file, Files: *)"),
    dict(out="train/gcompris-white-sheep.jpg", package="gcompris-qt-data",
         path="/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
         member="gcompris/src/activities/explore_farm_animals/resource/animals/sheep.webp",
         op="plain", shows="white sheep on a lawn",
         author="Rob Mitchell (source: Commons, Sheep_(33625876592).jpg)",
         licence="CC0-1.0 (README beside the file in the resource)"),
    dict(out="train/gcompris-camels-steppe.jpg", package="gcompris-qt-data",
         path="/usr/share/gcompris-qt/rcc/erase.rcc",
         member="gcompris/src/activities/erase/resource/camels.webp",
         op="plain", shows="Bactrian camels on beige steppe, pale sky",
         author="Alexandr frolov (source: Commons, Camelus_bactrianus_in_western_Mongolia_02.jpg)",
         licence="CC-BY-SA-4.0 (README beside the file in the resource)"),
    dict(out="train/mate-water-drop-splash.jpg", package="mate-backgrounds",
         path="/usr/share/backgrounds/mate/nature/Aqua.jpg", op="plain",
         shows="a drop splashing into grey-blue water (macro)",
         author="2008, Charles Barbin (mate-backgrounds copyright file)",
         licence="GPL-2+ (mate-backgrounds copyright file)"),
]


def read_rcc(path: pathlib.Path) -> dict[str, bytes]:
    """Every file inside a Qt binary resource (.rcc), keyed by its path in the resource."""
    buf = path.read_bytes()
    magic, version, tree, data, names = struct.unpack(">4sIIII", buf[:20])
    if magic != b"qres":
        raise ValueError(f"{path} is not a Qt resource")
    node_size = 14 if version == 1 else 22

    def name(offset):
        length = struct.unpack(">H", buf[names + offset:names + offset + 2])[0]
        return buf[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    files = {}

    def walk(index, prefix):
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", buf[node:node + 6])
        here = prefix + name(name_offset) if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", buf[node + 6:node + 14])
            for child in range(first, first + count):
                walk(child, here + "/" if index else "")
            return
        offset = data + struct.unpack(">I", buf[node + 10:node + 14])[0]
        size = struct.unpack(">I", buf[offset:offset + 4])[0]
        blob = buf[offset + 4:offset + 4 + size]
        if flags & 1:  # qCompress: 4-byte length, then zlib
            blob = zlib.decompress(blob[4:])
        files[here] = blob

    walk(0, "")
    return files


def unpack_package(package: str, work: pathlib.Path,
                   versions: dict[str, str] = PACKAGE_VERSIONS) -> pathlib.Path:
    """apt-get download the pinned version of `package` and dpkg-deb -x it; return the root.

    `versions` maps package to pinned version (default: this script's PACKAGE_VERSIONS).
    """
    if package in FORBIDDEN_PACKAGES:
        raise ValueError(f"{package} is held out for independent checks")
    root = work / package
    if root.is_dir():
        return root
    debs = work / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    version = versions[package]
    subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=debs, check=True)
    deb = next(debs.glob(f"{package}_*.deb"))
    root.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def opaque_rows(image: Image.Image) -> Image.Image:
    """The bottom block of rows that are opaque across the width (stellarium tiles).

    Up to 8 ragged rows at the very bottom are dropped first.

    A row counts as opaque when at least 99.5% of its pixels have alpha >= 250.
    """
    rgba = np.asarray(image.convert("RGBA"))
    opaque = (rgba[..., 3] >= 250).mean(axis=1) >= 0.995
    bottom = len(opaque)
    while bottom > len(opaque) - 8 and not opaque[bottom - 1]:  # ragged last rows
        bottom -= 1
    top = bottom
    while top > 0 and opaque[top - 1]:
        top -= 1
    if bottom - top < 64:
        raise ValueError("fewer than 64 opaque rows")
    return Image.fromarray(rgba[top:bottom, :, :3])


def tone_map_exr(path: pathlib.Path) -> Image.Image:
    """Scene-linear OpenEXR to 8-bit sRGB: log-average 0.18, Reinhard with white 2, sRGB curve."""
    import OpenEXR  # only this maintenance script needs it: pip install OpenEXR

    with OpenEXR.File(str(path)) as exr:
        linear = np.asarray(exr.channels()["RGB"].pixels, dtype=np.float32)
    linear = np.nan_to_num(np.clip(linear, 0.0, 65504.0))
    log_average = np.exp(np.log(linear.mean(axis=-1) + 1e-3).mean())
    exposed = linear * (0.18 / log_average)
    mapped = np.clip(exposed / (1.0 + exposed / 4.0), 0.0, 1.0)
    srgb = np.where(mapped <= 0.0031308, 12.92 * mapped,
                    1.055 * np.power(mapped, 1 / 2.4) - 0.055)
    return Image.fromarray(np.round(srgb * 255).astype(np.uint8))


def largest_embedded_jpeg(path: pathlib.Path) -> Image.Image:
    """The largest JPEG stored inside an Enlightenment .edj (EET) file (the wallpaper photo)."""
    blob = path.read_bytes()
    best = None
    start = blob.find(b"\xff\xd8\xff")
    while start >= 0:
        try:
            image = Image.open(io.BytesIO(blob[start:]))
            image.load()
        except OSError:
            image = None
        if image is not None and (best is None or image.width * image.height > best.width * best.height):
            best = image
        start = blob.find(b"\xff\xd8\xff", start + 3)
    if best is None:
        raise ValueError(f"no JPEG inside {path}")
    return best


def video_frame(path: pathlib.Path, index: int) -> Image.Image:
    import cv2

    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise ValueError(f"no frame {index} in {path}")
    return Image.fromarray(frame[..., ::-1])


def load_pick(pick: dict, root: pathlib.Path) -> Image.Image:
    source = root / pick["path"].lstrip("/")
    op = pick["op"]
    if "member" in pick:
        image = Image.open(io.BytesIO(read_rcc(source)[pick["member"]]))
    elif op == "exr":
        image = tone_map_exr(source)
    elif op == "frame":
        return video_frame(source, pick["arg"])
    elif op == "edj":
        image = largest_embedded_jpeg(source)
    else:
        image = Image.open(source)
    if op == "opaque_rows":
        return opaque_rows(image)
    if "arg" in pick:  # a crop box (left, top, right, bottom)
        image = image.crop(pick["arg"])
    return image.convert("RGB")


def save_photo(image: Image.Image, out: pathlib.Path, long_side: int = LONG_SIDE) -> None:
    image = image.convert("RGB")
    image.thumbnail((long_side, long_side), Image.LANCZOS)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)


def original_text(pick: dict) -> str:
    text = pick["path"]
    if "member" in pick:
        text += " → " + pick["member"]
    if pick["op"] == "exr":
        text += " (tone-mapped, crop %d,%d,%d,%d of 1024x512)" % tuple(pick["arg"])
    elif pick["op"] == "frame":
        text += f" (frame {pick['arg']})"
    elif pick["op"] == "edj":
        text += " (the wallpaper JPEG stored inside the Edje file)"
    elif "arg" in pick:
        text += " (crop %d,%d,%d,%d)" % tuple(pick["arg"])
    elif pick["op"] == "opaque_rows":
        text += " (the opaque rows below the transparent sky)"
    return text


SOURCES_HEADER = """# `neutral/`: near-neutral colour photos (issue 26)

Real colour photographs whose originals are mostly grey, white or beige: the scenes the
colorizer tints (snow, overcast and misty skies, grey roads, paths and streets, concrete,
stone, white interiors, grey objects and machinery). Three disjoint splits:
`val/` for choosing settings, `test/` for reporting, `train/` for training.
Nothing here is in `landscapes/` or `unlike/` (checked by content hash and by small
thumbnails; see below).

## How the set was built

`scripts/gather_neutral.py` rebuilds every file: it fetches the pinned Debian 12 (bookworm)
packages with `apt-get download`, unpacks them with `dpkg-deb -x`, converts the chosen files
and writes this file and the `neutral/` entries of `manifest.json`. The packages `scratch`
and `kphotoalbum` were not used. Conversions: gcompris images are read out of the Qt `.rcc`
resources; Enlightenment wallpapers are the JPEGs stored inside their
`.edj` files; stellarium landscape tiles keep only the rows that are opaque across the whole
width, alpha >= 250 on 99.5% of the row (their sky is transparent); blender-data HDRIs are
tone-mapped (log-average 0.18, Reinhard, sRGB) and cropped where the equirectangular projection is mild; one frame is taken
from an OpenCV sample video. All outputs: RGB, longest side at most 1024 px (never
enlarged), JPEG quality 90.

Candidates were every JPEG/PNG/WebP/EXR in the packages listed below plus
gnome-backgrounds, plasma-workspace-wallpapers, ukui-wallpapers, lomiri-wallpapers(-20.04),
desktop-base, digikam-data, darktable, imagemagick-6-doc, fotoxx-common,
sddm-theme-elarun/maui/maya, plymouth-themes,
python3-skimage, python-skimage-doc, visp-images-data, extremetuxracer-data (skyboxes are
renders), trigger-rally-data, sweethome3d, inkscape, mypaint-data and rawtherapee-data, ranked by
Hasler–Süsstrunk colourfulness and reviewed by eye on contact sheets. Rejected: drawings,
renders and abstract wallpapers, screenshots and figures, grayscale images, images with
overlays, strong colour grading, and every photo that is already in `datasets/` (many of the
best neutral candidates, e.g. OpenCV `building.jpg`, `leuvenA.jpg`, `aero1.jpg`, LXQt
`fog.jpg` and `Valendas.png`, tuxpaint mudstone and ocean templates, gcompris monuments,
are already in `landscapes/` or `unlike/`).

Duplicates: every photo was compared with all 435 images under `datasets/` (and the shared
`landscapes_more` folder) by a 16x16 colour thumbnail (mean absolute difference) and a 64-bit
difference hash. Exact copies score below 0.01; the closest pick scores 0.070 (a dark lichen
close-up against a dark forest path, clearly different pictures). `tests/test_datasets_neutral.py`
checks content hashes against the rest of `datasets/` and between the splits.

## Caveats

- The stellarium snow tiles are the eight non-overlapping sides of one 360° panorama
  (Hurricane Ridge; ring order 5-6-7-8-1-2-3-4). Each split holds a contiguous arc (val 3-4,
  test 7-8, train 5-6-1-2 and the ground tile), so no two files show the same view, but
  neighbouring tiles of different splits meet at a seam and share light and place.
  Both crops of a blender HDRI are in one split.
- `train/opencv-leuven-street-b.jpg` is the second view of the street in
  `landscapes/extra/opencv-leuven-street.jpg` (different viewpoint); it is kept in train only.
- opencv-doc photos come under the package's Apache-2.0/BSD-3-Clause licence without the
  photographer named.

## Files

| split | file | what it shows | Debian package (version) | original path in the package | author | licence |
|---|---|---|---|---|---|---|
"""


def write_sources(picks: list[dict]) -> None:
    rows = []
    order = {"val": 0, "test": 1, "train": 2}
    for pick in sorted(picks, key=lambda p: (order[p["out"].split("/")[0]], p["out"])):
        split, name = pick["out"].split("/")
        package = f"{pick['package']} ({PACKAGE_VERSIONS[pick['package']]})"
        rows.append(f"| {split} | {name} | {pick['shows']} | {package} | {original_text(pick)} "
                    f"| {pick['author']} | {pick['licence']} |")
    (DATASETS / "SOURCES-neutral.md").write_text(SOURCES_HEADER + "\n".join(rows) + "\n")


def write_manifest(picks: list[dict], folder: str = "neutral") -> None:
    """manifest.json's entries for datasets/<folder>/ replaced by the picks' (gather_calibration.py uses it too)."""
    path = DATASETS / "manifest.json"
    entries = [e for e in json.loads(path.read_text()) if not e["file"].startswith(folder + "/")]
    for pick in picks:
        entries.append({
            "file": f"{folder}/" + pick["out"],
            "package": pick["package"],
            "original": original_text(pick),
            "license": pick["licence"],
        })
    path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/gather_neutral"))
    parser.add_argument("--out", type=pathlib.Path, default=DATASETS / "neutral")
    args = parser.parse_args()
    roots = {}
    for pick in PICKS:
        package = pick["package"]
        if package not in roots:
            roots[package] = unpack_package(package, args.work)
        save_photo(load_pick(pick, roots[package]), args.out / pick["out"])
        print("wrote", pick["out"])
    if args.out.resolve() == (DATASETS / "neutral").resolve():
        write_sources(PICKS)
        write_manifest(PICKS)
    else:
        print("--out is not datasets/neutral: SOURCES-neutral.md and manifest.json left as they are")


if __name__ == "__main__":
    main()
