"""User hints for models that take them: colour points and a reference palette (Zhang et al. 2017).

A model that takes hints has, besides "l_norm", two more inputs:
    "hints"    (N, S, S, 3): a_norm and b_norm where the user gave a colour, 0 elsewhere, and a mask
               channel, 1 at hinted pixels, 0 elsewhere (ab_norm = ab / 128)
    "palette"  (N, n_bins + 1): a reference photo's share of each ab bin (shared/ab_bins.py), summing
               to 1, then a "given" flag: 1 with a palette, 0 (and an all-zero histogram) without

Training simulates users as Zhang et al.'s released code does (`sample_hints`): a number of points
drawn from a geometric distribution with p = 1/8 (1 image in 8 gets none, 7 on average), each at a
position drawn from a normal centred on the image with a standard deviation of a quarter of its side,
a square patch of 1 to 9 pixels whose hint colour is the mean true ab over the patch; and on a share
of images the palette of the image's own colours.
"""

import numpy as np

from shared import ab_bins, lab
from shared.data import InputError

HINT_CHANNELS = 3  # a_norm, b_norm, mask
PALETTE_SIZE = ab_bins.N_BINS + 1  # the bins' shares, then the "given" flag
NO_HINT_PROBABILITY = 1 / 8  # p of the geometric distribution: P(no point) = p, mean (1 - p) / p = 7 points
MAX_PATCH = 9  # px, the largest square patch a simulated hint covers
PALETTE_SHARE = 0.25  # the share of training images given their own palette
PALETTE_STEP = 4  # every 4th pixel in each direction is counted for a palette


def sample_patches(height, width, rng):
    """A simulated user's hinted squares [(top, left, side), ...] in an image of height x width px."""
    patches = []
    for _ in range(rng.geometric(NO_HINT_PROBABILITY) - 1):  # numpy counts the trials up to the first success
        side = int(rng.integers(1, MAX_PATCH + 1))
        top = int(np.clip(rng.normal(height / 2, height / 4), 0, height - side))
        left = int(np.clip(rng.normal(width / 2, width / 4), 0, width - side))
        patches.append((top, left, side))
    return patches


def sample_hints(ab_norm, rng):
    """True ab_norm (H, W, 2) -> a simulated user's hint map (H, W, 3): each patch its mean true ab."""
    hints = np.zeros((*ab_norm.shape[:2], HINT_CHANNELS), np.float32)
    for top, left, side in sample_patches(*ab_norm.shape[:2], rng):
        patch = (slice(top, top + side), slice(left, left + side))
        hints[patch + (slice(0, 2),)] = ab_norm[patch].reshape(-1, 2).mean(axis=0)
        hints[patch + (2,)] = 1.0
    return hints


def palette_of(ab_norm):
    """ab_norm (H, W, 2) -> the palette input (n_bins + 1,): each bin's share of the pixels, flag 1."""
    counts = ab_bins.bin_histogram([np.asarray(ab_norm, np.float32) * lab.AB_SCALE], step=PALETTE_STEP)
    return np.append(counts / counts.sum(), 1.0).astype(np.float32)


def no_palette():
    return np.zeros(PALETTE_SIZE, np.float32)


def sample_palette(ab_norm, rng, share=PALETTE_SHARE):
    """The image's own palette on `share` of the calls, no palette on the others."""
    return palette_of(ab_norm) if rng.uniform() < share else no_palette()


def simulated_user(ab_norm, rng):
    """(hint map, palette) for one training image's true ab_norm."""
    return sample_hints(ab_norm, rng), sample_palette(ab_norm, rng)


# --- hints from a user ----------------------------------------------------------------------

USER_PATCH = 3  # px at the network's working size: the square a user's point colours
REFERENCE_SIDE = 256  # px: a reference photo is shrunk to at most this side before its palette is counted


def check_points(points, height, width):
    """[(x, y, (r, g, b)), ...] -> the same as ints; InputError naming the first bad point."""
    checked = []
    for number, point in enumerate(points or [], 1):
        try:
            x, y, colour = point
            x, y, colour = int(x), int(y), tuple(int(c) for c in colour)
        except (TypeError, ValueError) as error:
            raise InputError(f"hint {number}: expected (x, y, (r, g, b)), got {point!r}") from error
        if len(colour) != 3 or not all(0 <= c <= 255 for c in colour):
            raise InputError(f"hint {number}: the colour must be three values in 0..255, got {colour}")
        if not (0 <= x < width and 0 <= y < height):
            raise InputError(f"hint {number} at x={x}, y={y} is outside the {width}x{height} image")
        checked.append((x, y, colour))
    return checked


def colour_ab_norm(colour):
    """8-bit RGB (r, g, b) -> its chroma as ab_norm (2,); the lightness is the image's own."""
    return lab.rgb_to_lab(np.asarray([[colour]], np.uint8))[0, 0, 1:] / lab.AB_SCALE


def hint_map(points, image_shape, working_size):
    """Checked points in the image's pixels -> the "hints" input (h, w, 3) at the working size (h, w)."""
    height, width = image_shape
    work_h, work_w = working_size
    hints = np.zeros((work_h, work_w, HINT_CHANNELS), np.float32)
    for x, y, colour in points:
        row = min(int((y + 0.5) * work_h / height), work_h - 1) - USER_PATCH // 2
        col = min(int((x + 0.5) * work_w / width), work_w - 1) - USER_PATCH // 2
        patch = (slice(max(row, 0), row + USER_PATCH), slice(max(col, 0), col + USER_PATCH))
        hints[patch + (slice(0, 2),)] = colour_ab_norm(colour)
        hints[patch + (2,)] = 1.0
    return hints


def reference_palette(rgb):
    """A reference photo (uint8 RGB) -> the "palette" input: its colours' shares of the ab bins."""
    import cv2

    scale = REFERENCE_SIDE / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return palette_of(lab.rgb_to_lab(rgb)[..., 1:] / lab.AB_SCALE)


def takes_hints(model):
    """True for a model with "hints" and "palette" inputs (full_version since the ImageNet encoder)."""
    return {"hints", "palette"} <= set(input_names(model))


def input_names(model):
    return [tensor.name for tensor in model.inputs]


def parse_colour(text):
    """"#3a7bd5" or "3a7bd5" -> (58, 123, 213); ValueError for anything else."""
    digits = text.strip().removeprefix("#") if isinstance(text, str) else ""
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"{text!r} is not a colour like \"#3a7bd5\"")
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))


def read_hints_file(path):
    """A JSON list of {"x": 120, "y": 40, "color": "#3a7bd5"} (and for video "frame": N, default 0)
    -> [(frame, x, y, (r, g, b)), ...]; InputError saying what is wrong and where."""
    import json

    try:
        entries = json.loads(open(path, encoding="utf-8").read())
    except OSError as error:
        raise InputError(f"cannot read the hints file {path} ({error.strerror})") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON ({error})") from error
    if not isinstance(entries, list):
        raise InputError(f'{path}: expected a JSON list of {{"x": .., "y": .., "color": "#rrggbb"}}')
    hints = []
    for number, entry in enumerate(entries, 1):
        try:
            x, y, frame = (entry.get(key, 0 if key == "frame" else None) for key in ("x", "y", "frame"))
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (x, y, frame)) or frame < 0:
                raise ValueError("x, y (and frame) must be whole numbers, frame 0 or more")
            hints.append((frame, x, y, parse_colour(entry.get("color"))))
        except (AttributeError, ValueError) as error:
            raise InputError(f"{path}: hint {number} ({json.dumps(entry)}): {error}") from error
    return hints
