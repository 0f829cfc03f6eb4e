"""Colorize from Python in one call.

    from shared import colorize
    rgb = colorize.image("old_photo.jpg")                        # uint8 RGB, the photo's size (shipped full_version)
    colorize.image_file("scan.tif", "scan_colour.tif")           # 16-bit in, 16-bit out, EXIF/XMP/ICC carried
    rgb = colorize.image(gray_array, model="beta", temperature=0.4)
    rgb = colorize.image("old_photo.jpg", hints=[(120, 40, (58, 123, 213))], reference="sea.jpg")
    colorize.suggest("old_photo.jpg", 120, 40)                   # the 8 likeliest colours at that pixel
    colorize.video("film.mp4", "film_colour.mp4")                # the options of shared/video.py

`model` is a tier name (your own models/<tier>.keras, else the shipped
<tier>/pretrained.keras) or a .keras path. Only the input's lightness is used:
a colour photo is colorized from its grayscale version. A 16-bit file or uint16
array gives uint16 RGB, its own 16-bit lightness kept (shared/photo_files.py).
"""

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from shared import cli, data, inference, photo_files
from shared import hints as hints_module


@lru_cache(maxsize=4)
def colorizer(model=cli.DEFAULT_MODEL, temperature=None, batch_size=8, neutral_lean=None):
    """The loaded model as a `shared.inference.Colorizer`, kept for later calls with the same arguments."""
    return inference.load_colorizer(str(model), batch_size, temperature, neutral_lean=neutral_lean)


def image(source, model=cli.DEFAULT_MODEL, temperature=None, hints=None, reference=None, neutral_lean=None):
    """A photo -> its colorized version, uint8 RGB of the same height and width (uint16 for a 16-bit source).

    `source`: an image file, or an array: HxW grayscale or HxWx3 RGB, uint8, uint16 or float in [0, 1].
    `temperature`: for classification models, lower is more vivid, higher calmer.
    `neutral_lean`: for a model with a neutral lean (full_version), how far a scene it judges grey is pulled
    toward grey: 0 the network's own colours, 1 the full fit, 2 twice that (default: as saved, 0.3 in the shipped one).
    `hints`: colours the user wants, [(x, y, (r, g, b)), ...], x the column and y the row in the
    source's pixels, 8-bit RGB (its chroma is used, at that pixel's own lightness).
    `reference`: an image file or array whose colours set the palette.
    Hints and a reference need a model trained with them (the shipped full_version).
    """
    return images([source], model, temperature, hints, reference, neutral_lean)[0]


def images(sources, model=cli.DEFAULT_MODEL, temperature=None, hints=None, reference=None, neutral_lean=None):
    """`image` for several photos at once (batched through the network); a list of uint8 RGB arrays.
    `hints` apply to every photo; `reference` sets every photo's palette."""
    rgbs = [_as_rgb(source) for source in sources]
    points = [_checked(hints, rgb) for rgb in rgbs] if hints else None
    reference = None if reference is None else _as_rgb(reference)
    return colorizer(model, temperature, neutral_lean=neutral_lean).colorize(rgbs, points, reference)


def image_file(source, output, model=cli.DEFAULT_MODEL, temperature=None, hints=None, reference=None,
               neutral_lean=None):
    """Colorize the photo file `source` into the file `output` (its suffix says the format: .png or .tif keep a
    16-bit source's 16 bits), carrying the source's EXIF, IPTC, XMP and ICC profile and naming the model in EXIF
    Software. Options as in `image`. Returns `output` as a Path."""
    photo = photo_files.read_photo(source)
    result = image(photo.pixels, model, temperature, hints, reference, neutral_lean)
    photo_files.write_photo(result, output, photo, photo_files.software_tag(model))
    return Path(output)


def suggest(source, x, y, k=8, model=cli.DEFAULT_MODEL, hints=None, reference=None, temperature=None):
    """The k most likely colours at pixel (x, y) (column, row) of `source`, as 8-bit RGB tuples at that
    pixel's lightness, most likely first: from the model's predicted distribution there, given
    `hints` and `reference` as in `image`."""
    rgb = _as_rgb(source)
    reference = None if reference is None else _as_rgb(reference)
    return colorizer(model, temperature).suggest(rgb, x, y, k, _checked(hints, rgb), reference)


def _checked(points, rgb):
    return hints_module.check_points(points, *rgb.shape[:2])


def video(source, output=None, model=cli.DEFAULT_MODEL, **options):
    """Colorize a video file into `output` (default results/video/<name>_<model>.mp4); returns what
    `shared.video.colorize_video` returns. `options` are shared/video.py's flags as keywords."""
    from shared import video as video_module  # here: its imports (scipy, matplotlib) cost a photo's cold start a second

    return video_module.colorize_video(source, output, model=model, **options)


def _as_rgb(source):
    if isinstance(source, (str, os.PathLike)):
        return photo_files.read_photo(source).pixels
    array = np.asarray(source)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise data.InputError(f"expected an HxW or HxWx3 image, got an array of shape {array.shape}")
    return array
