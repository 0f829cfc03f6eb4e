"""Colorize from Python in one call.

    from shared import colorize
    rgb = colorize.image("old_photo.jpg")                        # uint8 RGB, the photo's size (shipped beta)
    rgb = colorize.image(gray_array, model="full_version", temperature=0.4)
    colorize.video("film.mp4", "film_colour.mp4", model="beta")  # the options of shared/video.py

`model` is a tier name (your own models/<tier>.keras, else the shipped
<tier>/pretrained.keras) or a .keras path. Only the input's lightness is used:
a colour photo is colorized from its grayscale version.
"""

import os
from functools import lru_cache

import numpy as np

from shared import data, inference
from shared import video as video_module


@lru_cache(maxsize=4)
def colorizer(model="beta", temperature=None, batch_size=8):
    """The loaded model as a `shared.inference.Colorizer`, kept for later calls with the same arguments."""
    return inference.load_colorizer(str(model), batch_size, temperature)


def image(source, model="beta", temperature=None):
    """A photo -> its colorized version, uint8 RGB of the same height and width.

    `source`: an image file, or an array: HxW grayscale or HxWx3 RGB, uint8 or float in [0, 1].
    `temperature`: for classification models, lower is more vivid, higher calmer.
    """
    return images([source], model, temperature)[0]


def images(sources, model="beta", temperature=None):
    """`image` for several photos at once (batched through the network); a list of uint8 RGB arrays."""
    rgbs = [_as_rgb(source) for source in sources]
    return colorizer(model, temperature).colorize(rgbs)


def video(source, output=None, model="beta", **options):
    """Colorize a video file into `output` (default results/video/<name>_<model>.mp4); returns what
    `shared.video.colorize_video` returns. `options` are shared/video.py's flags as keywords."""
    return video_module.colorize_video(source, output, model=model, **options)


def _as_rgb(source):
    if isinstance(source, (str, os.PathLike)):
        return data.read_rgb(source)
    array = np.asarray(source)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise data.InputError(f"expected an HxW or HxWx3 image, got an array of shape {array.shape}")
    return array
