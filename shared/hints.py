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

from pathlib import Path

import cv2
import keras
import numpy as np
from keras import layers as keras_layers
from keras import ops

from shared import ab_bins, lab
from shared.errors import InputError

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


def cell_of(x, y, image_shape, grid_shape):
    """Pixel (x, y) of an image of image_shape (height, width) -> (row, col) of the cell that holds it in a
    grid of grid_shape (the network's working size, or its output's)."""
    (height, width), (rows, cols) = image_shape, grid_shape
    return min(int((y + 0.5) * rows / height), rows - 1), min(int((x + 0.5) * cols / width), cols - 1)


def hint_map(points, image_shape, working_size):
    """Checked points in the image's pixels -> the "hints" input (h, w, 3) at the working size (h, w)."""
    hints = np.zeros((*working_size, HINT_CHANNELS), np.float32)
    for x, y, colour in points:
        row, col = (centre - USER_PATCH // 2 for centre in cell_of(x, y, image_shape, working_size))
        patch = (slice(max(row, 0), row + USER_PATCH), slice(max(col, 0), col + USER_PATCH))
        hints[patch + (slice(0, 2),)] = colour_ab_norm(colour)
        hints[patch + (2,)] = 1.0
    return hints


def reference_palette(rgb):
    """A reference photo (uint8 RGB) -> the "palette" input: its colours' shares of the ab bins."""
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


def read_photo_hints(path):
    """A hints file for one photo -> [(x, y, (r, g, b)), ...] (any "frame" is ignored)."""
    return [(x, y, colour) for _, x, y, colour in read_hints_file(path)]


def read_hints_file(path):
    """A JSON list of {"x": 120, "y": 40, "color": "#3a7bd5"} (and for video "frame": N, default 0)
    -> [(frame, x, y, (r, g, b)), ...]; InputError saying what is wrong and where."""
    import json

    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
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


# --- hints in the network: explicit priors on the colour classes --------------------------------
#
# A network learns to propagate sparse hints only from long training (Zhang et al. trained on 1.3M
# photos); with a few hundred photos the learned hint path stays weak. These layers, without weights,
# add what a hint means directly to the bin logits (shared/ab_bins.py), and are zero without hints:
# - HintPrior: each hint's colour spreads to the cells whose ImageNet features (less the image's mean
#   feature, in the full_version of now), lightness and automatic colour (given the automatic logits:
#   what the network colours alike is likely one object) are like the hinted cell's, fading with
#   distance, and there adds the log of a Gaussian around that colour over the bins (sigma 2.5 ab
#   units), scaled by how confident the spread is;
# - PalettePrior: a reference palette adds the log of its (smoothed) share of each bin everywhere.
# Both are off while training: with them on, the network trained with simulated users leaned on them and
# colorized worse without hints (benchmarks/same_budget.py --vary hints: 18.10 against 22.85 dB).
# Their settings were chosen on the validation split with `python benchmarks/hints.py --tune`.

HINT_FEATURE_SIMILARITY = 0.6  # tau: a cosine distance of tau between features divides the spread by e
HINT_LIGHTNESS_SIGMA = 8.0  # L units
HINT_DISTANCE_SIGMA = 0.8  # share of the image's side
HINT_BIN_SIGMA = 2.5  # ab units, the Gaussian a hint puts over the bins
HINT_COLOUR_SIGMA = 10.0  # ab units: automatic colours this far apart divide the spread by sqrt(e)
PALETTE_STRENGTH = 2.0  # weight of log(palette share) in the logits
PALETTE_FLOOR = 1e-3  # the smallest share a bin gets from a palette (no colour is ruled out)


@keras.saving.register_keras_serializable(package="colorize")
class HintPrior(keras_layers.Layer):
    """[features (N, h, w, C), l_norm cells (N, h, w, 1), hints (N, S, S, 3)(, automatic logits (N, H, W,
    n_bins), H a multiple of h)] -> logits prior (N, h, w, n_bins)."""

    def __init__(self, similarity=HINT_FEATURE_SIMILARITY, lightness_sigma=HINT_LIGHTNESS_SIGMA,
                 distance_sigma=HINT_DISTANCE_SIGMA, bin_sigma=HINT_BIN_SIGMA, centre_features=False,
                 colour_sigma=HINT_COLOUR_SIGMA, **kwargs):
        super().__init__(**kwargs)
        self.similarity, self.lightness_sigma = float(similarity), float(lightness_sigma)
        self.distance_sigma, self.bin_sigma = float(distance_sigma), float(bin_sigma)
        self.centre_features = bool(centre_features)  # compare cells by how they differ from the image's mean
        self.colour_sigma = None if colour_sigma is None else float(colour_sigma)

    def call(self, inputs, training=False):
        features, l_cells, hint_map = inputs[:3]
        height, width = features.shape[1], features.shape[2]
        if training:  # measured: with the prior in training the network leans on it and colours worse alone
            return ops.zeros((ops.shape(features)[0], height, width, ab_bins.N_BINS), "float32")
        cells = height * width
        factor = hint_map.shape[1] // height
        mask = ops.average_pool(hint_map[..., 2:], factor, strides=factor)  # share of each cell hinted
        ab_sum = ops.average_pool(hint_map[..., :2] * hint_map[..., 2:], factor, strides=factor)
        hinted = ops.reshape(ops.cast(mask > 0, "float32"), (-1, 1, cells))  # (N, 1, hw): source cells
        ab = ops.reshape(ops.cast(ab_sum / ops.maximum(mask, 1e-6), "float32"), (-1, cells, 2))

        if self.centre_features:  # what all cells share (the scene) no longer makes them alike
            features = features - ops.mean(features, axis=(1, 2), keepdims=True)
        unit = features / ops.maximum(ops.norm(features, axis=-1, keepdims=True), 1e-6)
        unit = ops.reshape(ops.cast(unit, "float32"), (-1, cells, features.shape[-1]))
        feature_distance = 1.0 - ops.matmul(unit, ops.transpose(unit, (0, 2, 1)))  # (N, hw, hw)
        lightness = ops.reshape(ops.cast(l_cells, "float32") * lab.L_SCALE, (-1, cells, 1))
        lightness_gap = lightness - ops.transpose(lightness, (0, 2, 1))
        rows, cols = np.meshgrid(np.arange(height) / height, np.arange(width) / width, indexing="ij")
        position = np.stack([rows.ravel(), cols.ravel()], axis=-1)
        squared_distance = ((position[:, None] - position[None]) ** 2).sum(-1).astype("float32")
        exponent = (-feature_distance / self.similarity - lightness_gap**2 / (2 * self.lightness_sigma**2)
                    - squared_distance[None] / (2 * self.distance_sigma**2))
        if self.colour_sigma is not None and len(inputs) > 3:
            exponent -= self.automatic_colour_gap(inputs[3], height, width) / (2 * self.colour_sigma**2)
        affinity = ops.exp(exponent) * hinted
        confidence = ops.max(affinity, axis=-1, keepdims=True)  # (N, hw, 1), 1 at a hinted cell
        spread_ab = ops.matmul(affinity, ab) / ops.maximum(ops.sum(affinity, axis=-1, keepdims=True), 1e-6)
        own = ops.transpose(hinted, (0, 2, 1))  # a hinted cell keeps its own hint, unmixed with its neighbours'
        spread_ab = own * ab + (1.0 - own) * spread_ab
        bins = ops.convert_to_tensor(ab_bins.BINS / lab.AB_SCALE, "float32")
        squared = ops.sum((spread_ab[:, :, None, :] - bins[None, None]) ** 2, axis=-1) * lab.AB_SCALE**2
        prior = -confidence * squared / (2 * self.bin_sigma**2)
        return ops.reshape(prior, (-1, height, width, ab_bins.N_BINS))

    @staticmethod
    def automatic_colour_gap(logits, height, width):
        """Squared ab distance (ab units^2) between every two cells' automatic colours, (N, hw, hw): the
        mean of each cell's predicted distribution (temperature 1), averaged over the cell."""
        factor = logits.shape[1] // height
        ab = ab_bins.annealed_mean(logits, 1.0) * lab.AB_SCALE
        ab = ops.reshape(ops.average_pool(ab, factor, strides=factor), (-1, height * width, 2))
        squared = ops.sum(ab**2, axis=-1, keepdims=True)
        return ops.maximum(squared + ops.transpose(squared, (0, 2, 1)) - 2 * ops.matmul(ab, ops.transpose(ab, (0, 2, 1))), 0.0)

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:3], ab_bins.N_BINS)

    def get_config(self):
        return {**super().get_config(), "similarity": self.similarity, "lightness_sigma": self.lightness_sigma,
                "distance_sigma": self.distance_sigma, "bin_sigma": self.bin_sigma,
                "centre_features": self.centre_features, "colour_sigma": self.colour_sigma}


@keras.saving.register_keras_serializable(package="colorize")
class PalettePrior(keras_layers.Layer):
    """palette (N, n_bins + 1) -> logits prior (N, 1, 1, n_bins): strength * log(share of each bin),
    zero when no palette is given (flag 0)."""

    def __init__(self, strength=PALETTE_STRENGTH, **kwargs):
        super().__init__(**kwargs)
        self.strength = float(strength)

    def call(self, palette, training=False):
        if training:  # as HintPrior: the network learns to colour on its own
            return ops.zeros((ops.shape(palette)[0], 1, 1, ab_bins.N_BINS), "float32")
        shares, given = ops.cast(palette[:, :-1], "float32"), ops.cast(palette[:, -1:], "float32")
        smoothing = ops.convert_to_tensor(_bin_smoothing(), "float32")
        smoothed = ops.matmul(shares, smoothing)
        prior = given * self.strength * (ops.log(smoothed + PALETTE_FLOOR) - ops.log(1.0 / ab_bins.N_BINS + PALETTE_FLOOR))
        return prior[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, ab_bins.N_BINS)

    def get_config(self):
        return {**super().get_config(), "strength": self.strength}


@keras.saving.register_keras_serializable(package="colorize")
class GuidanceGate(keras_layers.Layer):
    """[correction (N, h, w, C), hints (N, S, S, 3), palette (N, n_bins + 1)] -> the correction for an
    image given a hint or a palette, exactly 0 for one given neither: without guidance a model's
    colours are its automatic ones, whatever its hint path learned."""

    def call(self, inputs):
        correction, hint_map, palette = inputs
        hinted = ops.max(ops.cast(hint_map[..., 2], "float32"), axis=(1, 2))  # (N,): 1 if any point
        given = ops.maximum(hinted, ops.cast(palette[:, -1], "float32"))
        return correction * ops.cast(given > 0, correction.dtype)[:, None, None, None]

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


def _bin_smoothing(sigma=ab_bins.SMOOTHING_SIGMA):
    """(n_bins, n_bins): spreads each bin's share over its neighbours (columns sum to 1)."""
    squared = ((ab_bins.BINS[:, None, :] - ab_bins.BINS[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-squared / (2.0 * sigma**2))
    return kernel / kernel.sum(axis=1, keepdims=True)


# --- where a hint's colour may go: its object, bounded by the photo's edges ----------------------
#
# The priors above spread a hint over 24x24 cells by likeness, so anything alike at that scale takes
# its colour, across object edges (issue 29). `HintRegions` bounds it afterwards, outside the saved
# model: each hint's share of the change the network makes (its hinted ab less the ab without the
# points) is weighted by how easily the pixel is reached from the hint without crossing an edge of the
# lightness: the geodesic distance on the photo's L at REGION_SIDE px, each step costing
# 1 + REGION_EDGE_WEIGHT x the L gradient there (L units per pixel), so a strong edge costs as much as a
# long way; the weight falls as a Gaussian of that distance (REGION_SIGMA, a share of the side), and of the
# gaps in lightness and in automatic colour to the hinted pixel (the automatic colours before the neutral lean,
# where the guided path reads those: a whole photo leaned toward grey would hide what the network colours
# differently). The weights are made at full size by a guided filter steered by the full-size L, so they stop
# at the photo's own edges. Settings chosen on the validation split with `python benchmarks/hints.py
# --tune-regions`, by the rule written in benchmarks/hints.py (REGION_RULE).

REGION_SIDE = 256  # px: the long side of the lightness the geodesic distance is measured on
REGION_EDGE_WEIGHT = 20.0  # cost of a step per L unit of gradient, over the step's own 1
REGION_SIGMA = 4.5  # share of REGION_SIDE: the geodesic distance at which the weight falls to exp(-1/2)
REGION_FILL = "network"  # what a region takes: the network's change ("network"), its hint's shift ("shift") or colour ("colour")
OWN_PIXEL_ROUNDS = 3  # each hint's region scaled so that the hinted pixel takes its change whole (`own_pixels_full`); 0: not
LONG_FILL = "toward"  # what the long reach takes (with REGION_FILL "network"): the part of the network's change toward the
# hint's colour ("toward", `within_reach`) or all of it ("network", as a region)
REGION_CONTRAST = 1.0  # a weight w becomes 0.5 + contrast x (w - 0.5), clipped to [0, 1]: above 1, regions fill fully and end sooner
REGION_COLOUR_SIGMA = 10.0  # ab units: automatic colours this far apart divide the weight by sqrt(e)
REGION_LIGHTNESS_SIGMA = 10.0  # L units: a lightness this far from the hinted pixel's divides the weight by sqrt(e)
# What the network sees at a pixel (its decoder's last features, centred on the photo's mean, at a quarter of its
# working size) bounds a region too: a cosine distance of REGION_FEATURE_SIMILARITY from the hinted cell's divides its
# weight by e. Lightness and automatic colour alone let a click on a bright lagoon run up a sky of the same lightness
# and colour across a faint horizon; the network tells water from sky. None: no feature term.
REGION_FEATURE_SIMILARITY = 0.8
# A hint also reaches, beyond its region, the pixels that are very like the hinted one in lightness and automatic
# colour wherever the network itself finds the hint's colour likely (its automatic distribution's share within
# PLAUSIBLE_RADIUS ab of the hint's colour): the same sky or lawn beyond a tree takes a true colour, while a red
# click stays off the trees, where the network never expects red. That weight is LONG_STRENGTH x that share x the
# Gaussians of the gaps (LONG_LIGHTNESS_SIGMA, LONG_COLOUR_SIGMA); a pixel takes the larger of the two weights.
LONG_STRENGTH = 32.0  # 0: a hint stays within its region
LONG_LIGHTNESS_SIGMA = 4.0  # L units
LONG_COLOUR_SIGMA = 6.0  # ab units
PLAUSIBLE_RADIUS = 15.0  # ab units: the bins counted as the hint's colour in the network's distribution
GUIDE_RADIUS = 2  # px at REGION_SIDE: the guided filter's window radius (scaled to the output's size)
GUIDE_EPSILON = 1e-3  # the guided filter's regulariser, in (L / 100)^2: edges above about 3 L units steer it


def region_lightness(l_channel, side=REGION_SIDE):
    """L (HxW, [0, 100]) -> L shrunk to at most `side` px on its long side (float32), what regions are measured on."""
    l_channel = np.asarray(l_channel, np.float32)
    scale = side / max(l_channel.shape)
    if scale >= 1:
        return l_channel
    size = (max(1, round(l_channel.shape[1] * scale)), max(1, round(l_channel.shape[0] * scale)))
    return cv2.resize(l_channel, size, interpolation=cv2.INTER_AREA)


def step_costs(l_small, edge_weight=REGION_EDGE_WEIGHT):
    """The cost of a step at each pixel of the small L: 1 + edge_weight x its gradient (L units per px)."""
    gradient = np.hypot(cv2.Sobel(l_small, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(l_small, cv2.CV_32F, 0, 1, ksize=3)) / 8
    return 1.0 + edge_weight * gradient


def geodesic_distance(costs, row, col):
    """The least summed cost from (row, col) to every pixel (steps to the 8 neighbours, diagonals by sqrt 2)."""
    from skimage.graph import MCP_Geometric

    distance, _ = MCP_Geometric(costs).find_costs([(row, col)])
    return distance.astype(np.float32)


def guided_filter(guide, source, radius, epsilon):
    """He et al.'s guided filter: `source` (HxW, or HxWxk: k maps filtered at once) smoothed in windows of `radius`
    px, edges following `guide` (HxW)."""
    size = (2 * radius + 1, 2 * radius + 1)

    def mean(image):
        return cv2.boxFilter(image, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)

    def per_map(image):  # the guide's statistics broadcast over the source's maps
        return image if source.ndim == 2 else image[..., None]

    mean_guide, mean_source = mean(guide), mean(source)
    variance = mean(guide * guide) - mean_guide * mean_guide
    slope = (mean(per_map(guide) * source) - per_map(mean_guide) * mean_source) / (per_map(variance) + epsilon)
    offset = mean_source - slope * per_map(mean_guide)
    return mean(slope) * per_map(guide) + mean(offset)


def weight_at_size(weight, l_channel, radius=GUIDE_RADIUS, epsilon=GUIDE_EPSILON):
    """A weight map at REGION_SIDE (or a stack of them, HxWxk) -> at the size of `l_channel` (L, [0, 100]), guided
    by it so that it stops at the photo's edges; in [0, 1]."""
    weight, scaled_radius = weight_resized(weight, l_channel, radius)
    guide = np.asarray(l_channel, np.float32) / lab.L_SCALE
    return np.clip(guided_filter(guide, weight.astype(np.float32), scaled_radius, epsilon), 0.0, 1.0)


def weight_resized(weight, l_channel, radius=GUIDE_RADIUS):
    """A weight map (or a stack, HxWxk) at the size of `l_channel`, and the guided filter's radius (`radius` px at
    REGION_SIDE) scaled to that size."""
    height, width = l_channel.shape
    if weight.shape[:2] != (height, width):
        shrink = weight.shape[0] > height
        weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return weight, max(1, round(radius * max(height, width) / REGION_SIDE))


def weight_at_pixels(weight, l_channel, pixels, radius=GUIDE_RADIUS, epsilon=GUIDE_EPSILON):
    """`weight_at_size`'s values at the (row, col) `pixels` only, each filtered on a crop around it (what the
    filter's windows there read): the same numbers, without filtering the whole photo."""
    height, width = l_channel.shape
    weight, scaled_radius = weight_resized(weight, l_channel, radius)
    margin, values = 2 * scaled_radius + 2, []
    for row, col in pixels:
        top, left = max(row - margin, 0), max(col - margin, 0)
        crop = (slice(top, min(row + margin + 1, height)), slice(left, min(col + margin + 1, width)))
        guide = np.asarray(l_channel[crop], np.float32) / lab.L_SCALE
        filtered = guided_filter(guide, np.ascontiguousarray(weight[crop], np.float32), scaled_radius, epsilon)
        values.append(float(np.clip(filtered[row - top, col - left], 0.0, 1.0)))
    return values


def within_regions(base, hinted, weights, points, image_shape, fill=REGION_FILL):
    """The colours the points' hints give within their regions (ab_norm, HxWx2): `base` the
    colours without the points, `hinted` the network's with them, `weights` each point's at that size
    (`HintRegions.weights`, then `weight_at_size`), the points in the image's pixels (image_shape):
    - fill "network": the network's change, by the strongest region's weight there;
    - fill "shift": each point moves its region by its colour less the colour `base` had at it, the regions'
      moves mixed by their weights where they overlap;
    - fill "colour": each point moves its region toward its own colour, by its weight, mixed as "shift"."""
    if fill == "network":
        return base + np.max(weights, axis=0)[..., None] * (hinted - base)
    moved, total = np.zeros_like(base), np.zeros(base.shape[:2], np.float32)
    for weight, (x, y, colour) in zip(weights, points):
        row, col = cell_of(x, y, image_shape, base.shape[:2])
        target = colour_ab_norm(colour) - (base if fill == "colour" else base[row, col])
        moved += weight[..., None] * target
        total += weight
    return base + moved / np.maximum(total, 1.0)[..., None]


def within_reach(base, hinted, region_weight, long_weight, targets):
    """The colours the points' hints give (ab_norm, HxWx2) with LONG_FILL "toward": `base` the colours without the
    points, `hinted` the network's with them, the strongest region's and long reach's weights at that size (HxW)
    and the long reach's `targets` (`HintRegions.long_targets`, at that size). Within a region a pixel takes the
    network's change by the region's weight; where the long reach is stronger, it takes by the difference only the
    part of the change toward its target colour, at most up to that colour: beyond the hint's object the network
    often moves a pixel across, or away from, the hint's colour (toward its colours before the neutral lean),
    which made a quarter of the pixels it moved there worse on validation."""
    change, toward = hinted - base, targets - base
    change_a, change_b, toward_a, toward_b = change[..., 0], change[..., 1], toward[..., 0], toward[..., 1]
    share = np.clip((change_a * toward_a + change_b * toward_b) / np.maximum(toward_a**2 + toward_b**2, 1e-8), 0.0, 1.0)
    share *= np.maximum(long_weight - region_weight, 0.0)  # of the way toward the target colour
    return base + region_weight[..., None] * change + share[..., None] * toward


class HintRegions:
    """One photo's hint regions: for a point, how much of the change its hint makes each pixel takes.

    The distances from each hinted point are kept (a photo's hints come one click at a time), so a new
    hint measures only its own."""

    def __init__(self, l_channel, automatic_ab_norm=None, edge_weight=REGION_EDGE_WEIGHT, sigma=REGION_SIGMA,
                 lightness_sigma=REGION_LIGHTNESS_SIGMA, colour_sigma=REGION_COLOUR_SIGMA, automatic_logits=None,
                 long_strength=LONG_STRENGTH, long_lightness_sigma=LONG_LIGHTNESS_SIGMA, long_colour_sigma=LONG_COLOUR_SIGMA,
                 contrast=REGION_CONTRAST, features=None, feature_similarity=REGION_FEATURE_SIMILARITY):
        self.image_shape = np.asarray(l_channel).shape
        self.l_small = region_lightness(l_channel)
        self.ab_small = None  # the automatic colours (ab units) at the small size, for the colour term
        if automatic_ab_norm is not None:
            size = self.l_small.shape[::-1]
            shrink = np.asarray(automatic_ab_norm).shape[1] > size[0]
            self.ab_small = cv2.resize(np.asarray(automatic_ab_norm, np.float32), size,
                                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR) * lab.AB_SCALE
        self.sigma = float(sigma)
        self.lightness_sigma = lightness_sigma
        self.colour_sigma = colour_sigma
        self.costs = step_costs(self.l_small, edge_weight)
        self._distances = {}
        # the network's automatic distribution over the bins (h, w, n_bins, temperature 1), for the long reach
        self.probabilities = None if automatic_logits is None else softmax(np.asarray(automatic_logits, np.float32))
        self.long_strength, self.long_lightness_sigma, self.long_colour_sigma = long_strength, long_lightness_sigma, long_colour_sigma
        self.contrast = contrast
        self.unit_features = None if features is None else unit_centred(features)  # (h, w, C), the network's cells
        self.feature_similarity = feature_similarity

    def distance(self, x, y):
        """Geodesic distance (px at the small size) from the image pixel (x, y) to every small pixel."""
        row, col = cell_of(x, y, self.image_shape, self.l_small.shape)
        if (row, col) not in self._distances:
            self._distances[(row, col)] = geodesic_distance(self.costs, row, col)
        return self._distances[(row, col)]

    def weight_pairs(self, points):
        """Each point's small-size weights (in [0, 1]), (region, long reach): the region's, Gaussians of the geodesic
        distance from it, of the gap between each pixel's lightness and its (lightness sigma) and of the gap between
        their automatic colours (colour sigma, given the automatic colours), multiplied, and exp(-the network's feature
        distance / feature_similarity) where features are given; the long reach's
        (`long_weight`), zeros where it is off."""
        scale = self.sigma * max(self.l_small.shape)
        pairs = []
        for x, y, colour in points:
            row, col = cell_of(x, y, self.image_shape, self.l_small.shape)
            exponent = (self.distance(x, y) / scale) ** 2
            if self.lightness_sigma is not None:
                exponent += ((self.l_small - self.l_small[row, col]) / self.lightness_sigma) ** 2
            if self.colour_sigma is not None and self.ab_small is not None:
                exponent += ((self.ab_small - self.ab_small[row, col]) ** 2).sum(-1) / self.colour_sigma**2
            if self.feature_similarity is not None and self.unit_features is not None:
                exponent += 2.0 * self.feature_distance(x, y) / self.feature_similarity
            weight = np.exp(-0.5 * exponent).astype(np.float32)
            if self.contrast != 1:
                weight = np.clip(0.5 + self.contrast * (weight - 0.5), 0.0, 1.0)
            if self.long_strength > 0 and self.probabilities is not None and self.ab_small is not None:
                reach = self.long_weight(row, col, colour_ab_norm(colour) * lab.AB_SCALE)
            else:
                reach = np.zeros_like(weight)
            pairs.append((weight, reach))
        return pairs

    def feature_distance(self, x, y):
        """The cosine distance (in [0, 2]) between the network's features at the image pixel (x, y)'s cell and at
        every cell, at the small size."""
        row, col = cell_of(x, y, self.image_shape, self.unit_features.shape[:2])
        distance = 1.0 - self.unit_features @ self.unit_features[row, col]
        return cv2.resize(distance.astype(np.float32), self.l_small.shape[::-1], interpolation=cv2.INTER_LINEAR)

    def weights(self, points):
        """Each point's small-size weight (in [0, 1]): the larger of its region's and its long reach's."""
        return [np.maximum(region, reach) for region, reach in self.weight_pairs(points)]

    def bound(self, base, hinted, points, guide, fill=REGION_FILL, long_fill=LONG_FILL):
        """The colours (ab_norm, HxWx2) the points' hints give within their regions and long reach: `base` the colours
        without the points, `hinted` the network's with them, both at the size of `guide`, the photo's L there."""
        if fill == "network" and long_fill == "toward":
            pairs = self.weight_pairs(points)
            regions, reaches = [region for region, _ in pairs], [reach for _, reach in pairs]
            targets = cv2.resize(self.long_targets(points, regions, reaches), guide.shape[::-1], interpolation=cv2.INTER_NEAREST)
            region = weight_at_size(np.max(self.own_pixels_full(regions, points, guide), axis=0), guide)
            return within_reach(base, hinted, region, weight_at_size(np.max(reaches, axis=0), guide), targets)
        small = self.weights(points)
        if fill == "network":  # only the strongest counts: one filter at the output's size
            small = [np.max(small, axis=0)]
        weights = [weight_at_size(weight, guide) for weight in small]
        return within_regions(base, hinted, weights, points, self.image_shape, fill)

    def own_pixels_full(self, regions, points, guide):
        """The points' small-size `regions`, each scaled so that its own pixel's weight at the size of `guide`
        (`weight_at_size` of the strongest) reaches 1, at most 20 x (the clipping at 1 and the filter leave it short,
        so it is done OWN_PIXEL_ROUNDS times): on a small or textured object a region is a few small pixels, and
        bringing it to the output's size thinned it at the hinted pixel itself (on datasets/unlike 13% of ten hints'
        pixels ended more than 10 ab from their hint, the automatic colours being far from the true ones there)."""
        height, width = guide.shape
        pixels = [(min(int(y * height / self.image_shape[0]), height - 1), min(int(x * width / self.image_shape[1]), width - 1))
                  for x, y, _ in points]
        for _ in range(OWN_PIXEL_ROUNDS):
            values = weight_at_pixels(np.max(regions, axis=0), guide, pixels)
            regions = [np.clip(weight / max(value, 0.05), 0.0, 1.0) for weight, value in zip(regions, values)]
        return regions

    def long_targets(self, points, regions, reaches):
        """The hint colours (ab_norm, small-size HxWx2) the long reach moves each pixel toward: at each pixel, that of
        the point whose region and long reach (`regions`, `reaches`, one of each per point) add up to the most there.
        (The long reach alone ties wherever several hints' reach is clipped at 1: a hinted pixel would then move
        toward the first hint's colour, not its own.)"""
        colours = np.array([colour_ab_norm(colour) for _, _, colour in points], np.float32)
        return colours[np.argmax(np.add(regions, reaches), axis=0)]

    def long_weight(self, row, col, hint_ab):
        """The weight beyond the region of a hint of `hint_ab` (ab units) at small pixel (row, col): LONG_STRENGTH
        x the network's share near the hint's colour x the Gaussians of the lightness and automatic-colour gaps, at
        most 1."""
        share = cv2.resize(self.plausible_share(hint_ab), self.l_small.shape[::-1], interpolation=cv2.INTER_LINEAR)
        exponent = (((self.l_small - self.l_small[row, col]) / self.long_lightness_sigma) ** 2
                    + ((self.ab_small - self.ab_small[row, col]) ** 2).sum(-1) / self.long_colour_sigma**2)
        return np.clip(self.long_strength * share * np.exp(-0.5 * exponent), 0.0, 1.0).astype(np.float32)

    def plausible_share(self, hint_ab):
        """The network's automatic share (at its logits' size) of the bins within PLAUSIBLE_RADIUS of `hint_ab` (ab units)."""
        near = np.linalg.norm(ab_bins.BINS - hint_ab, axis=-1) <= PLAUSIBLE_RADIUS
        return self.probabilities[..., near].sum(-1)

    def weight(self, points):
        """The small-size weight (in [0, 1]) of the points' hints together: at each pixel, the strongest."""
        return np.max(self.weights(points), axis=0)


def unit_centred(features):
    """Features (h, w, C) less their mean over the cells, each cell's then scaled to length 1 (as HintPrior compares)."""
    centred = np.asarray(features, np.float32) - np.mean(features, axis=(0, 1), keepdims=True, dtype=np.float32)
    return centred / np.maximum(np.linalg.norm(centred, axis=-1, keepdims=True), 1e-6)


def softmax(logits):
    """logits (..., n) -> probabilities over the last axis."""
    exponent = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponent / exponent.sum(axis=-1, keepdims=True)
