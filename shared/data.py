"""Finding and reading images, and the `tf.data` pipeline that feeds training.

Training decodes each file in parallel threads (in the graph where TensorFlow
can) and augments it on the fly. A small set's decoded photos are cached in
memory after the first epoch; larger sets stream from disk every epoch, so peak
memory does not grow with the number of images. Augmentation runs on RGB before the conversion to Lab, so L
and ab stay aligned.
"""

import math
import os
import warnings
from pathlib import Path

import cv2
import keras
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shared import lab
from shared.errors import InputError  # noqa: F401 (shared.data.InputError is where callers find it)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
CACHE_LIMIT_BYTES = 1 << 30  # make_dataset(cache="auto") keeps decoded photos in memory up to this much
GRAPH_FORMATS = {"JPEG", "PNG", "BMP"}  # what tf.io.decode_image reads the way read_rgb does (see graph_decodable)


def read_rgb(path):
    """Read any image file as uint8 RGB HxWx3: alpha dropped, grayscale and palette expanded.

    Every mode Pillow opens comes out at its own brightness: 1-bit as 0 or 255;
    16-bit grayscale (I;16, I;16B, I;16L, I;16N) scaled from 0..65535 to 0..255, not
    clipped; `I` (32-bit integers, how some readers give 16-bit files) taken as
    0..65535 too; `F` (floats) as 0..1 when no value exceeds 1, else as 0..255 when
    none exceeds 255, else as 0..65535; 16-bit RGB(A) PNGs, which Pillow gives as
    8-bit, as they are; palette, CMYK, LA, PA and RGBA through Pillow's conversion.
    Raises InputError for a file that cannot be decoded (also one cut short).
    """
    try:
        with Image.open(path) as image:
            return pillow_rgb(ImageOps.exif_transpose(image))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"cannot read {path} as an image ({error})") from error


def pillow_rgb(image):
    """An opened Pillow image -> uint8 RGB HxWx3, each mode as `read_rgb` documents."""
    if image.mode in WIDE_GRAY_MODES:
        gray = _gray_to_uint8(np.asarray(image), image.mode)
        return np.repeat(gray[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


WIDE_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")  # one channel, more than 8 bits


def _gray_to_uint8(values, mode):
    """A 16-bit, 32-bit integer or float grayscale array -> uint8, by the range `read_rgb` documents."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    top = 65535.0
    if mode == "F":
        top = next((t for t in (1.0, 255.0) if values.max(initial=0.0) <= t), top)
    return np.round(np.clip(values, 0.0, top) * (255.0 / top)).astype(np.uint8)


def read_images(paths, reader=None):
    """(path, uint8 RGB) for each readable path, in order; a file that cannot be decoded (a JPEG
    cut short passes the header check in `list_images`) is skipped with a warning. `reader`: another
    function of a path in place of read_rgb (one that raises InputError for what it cannot read)."""
    for path in paths:
        try:
            yield path, (reader or read_rgb)(path)
        except InputError as error:
            warnings.warn(f"skipping {path}: {error}", stacklevel=2)


def input_labels(paths, source):
    """Each image's name relative to `source` (the --input folder, list file or image), as a POSIX
    string: `a/pic.jpg`. Results are written under these names, so two inputs never share one."""
    source = Path(source)
    root = source if source.is_dir() else source.parent
    labels = []
    for path in paths:
        try:
            labels.append(Path(path).resolve().relative_to(root.resolve()).as_posix())
        except ValueError:  # a list file may name images anywhere
            labels.append(Path(path).resolve().as_posix().lstrip("/"))
    return labels


def image_size(path):
    """(width, height) from the file's header, or None if it is not a readable image."""
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except Exception:  # PIL raises many kinds on broken files
        return None


def image_files(source):
    """The files named like images in `source`, sorted, without opening them (see `list_images`).

    `source` is an image file, a folder (searched recursively, hidden files left out), or a text file
    with one image path per line. Other files are skipped with a warning; InputError when `source`
    does not exist.
    """
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source} does not exist")
    if source.is_dir():
        candidates = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
    elif source.suffix.lower() in (".txt", ".lst"):
        lines = source.read_text().splitlines()
        candidates = [(source.parent / line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    else:
        candidates = [source]
    named_like_images = []
    for path in candidates:
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            named_like_images.append(path)
        else:
            warnings.warn(f"skipping {path}: not an image file ({', '.join(IMAGE_EXTENSIONS)})", stacklevel=3)
    return named_like_images


def list_images(source, min_side=1):
    """Readable images from a file or a folder, sorted.

    `source` is an image file, a folder (searched recursively), or a text file
    with one image path per line. Files that are not images, cannot be read or
    are smaller than `min_side` pixels are skipped with a warning. Raises
    InputError when nothing usable is left.
    """
    images = []
    for path in image_files(source):
        size = image_size(path) if path.is_file() else None
        if size is None:
            warnings.warn(f"skipping {path}: cannot be read as an image", stacklevel=2)
        elif min(size) < min_side:
            warnings.warn(f"skipping {path}: {size[0]}x{size[1]} px is below the {min_side} px minimum", stacklevel=2)
        else:
            images.append(path)
    if not images:
        raise InputError(f"no usable images in {source} (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return images


def split_validation(paths, share=0.1, seed=0):
    """Hold out `share` of the images (at least one, when there are two or more) for validation."""
    paths = list(paths)
    if len(paths) < 2 or share <= 0:
        return paths, []
    order = np.random.default_rng(seed).permutation(len(paths))
    n_val = max(1, int(round(share * len(paths))))
    val = sorted(paths[i] for i in order[:n_val])
    train = sorted(paths[i] for i in order[n_val:])
    return train, val


# --- tf.data pipeline ---------------------------------------------------------------------


def graph_decodable(path):
    """True when TensorFlow's own decoder gives what `read_rgb` gives: an 8-bit JPEG, PNG or BMP in
    RGB, grayscale or palette, not turned by EXIF. Everything else goes through Pillow."""
    try:
        with Image.open(path) as image:
            orientation = image.getexif().get(0x0112, 1)
            image_format, mode = image.format, image.mode
        decodable = image_format in GRAPH_FORMATS and mode in ("RGB", "L", "P", "RGBA", "LA") and orientation == 1
        return decodable and _ends_whole(path, image_format)
    except Exception:  # unreadable here: let read_rgb say why
        return False


def _ends_whole(path, image_format):
    """False for a JPEG or PNG whose end marker is missing (a truncated file): Pillow then reads it and warns."""
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 16))
        tail = f.read()
    if image_format == "JPEG":
        return tail.rstrip(b"\0").endswith(b"\xff\xd9")
    if image_format == "PNG":
        return b"IEND" in tail
    return True


def _decode_tf(path, in_graph):
    """One file -> RGB float32 [0, 1]: tf.io.decode_image inside the graph, or Pillow (read_rgb) outside."""
    import tensorflow as tf

    def graph():
        rgb = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.convert_image_dtype(rgb, tf.float32)

    rgb = tf.cond(in_graph, graph, lambda: _load_tf(path))
    rgb.set_shape([None, None, 3])
    return rgb


def _read_or_empty(path):
    """read_rgb, or a 0x0x3 image (with `read_images`'s warning) for a file that cannot be decoded."""
    for _, rgb in read_images([path]):
        return rgb
    return np.zeros((0, 0, 3), np.uint8)


def _load_tf(path):
    """RGB float [0, 1]; 0x0 for a file that cannot be decoded (`make_dataset` drops those)."""
    import tensorflow as tf

    def read(path_bytes):
        return _read_or_empty(path_bytes.decode())

    rgb = tf.numpy_function(read, [path], tf.uint8, stateful=False)
    rgb.set_shape([None, None, 3])
    return tf.image.convert_image_dtype(rgb, tf.float32)  # RGB in [0, 1]


def random_affine_transform(height, width, rng=np.random, max_rotation_deg=20.0, max_shear_rad=0.2,
                            zoom_range=(0.8, 2.0), flip=True):
    """A random rotation, shear, zoom and horizontal flip about the image centre, then a random shift.

    Returns the 8 numbers [a0, a1, a2, b0, b1, b2, 0, 0] that map an output
    pixel (x, y) to the input pixel (a0 x + a1 y + a2, b0 x + b1 y + b2), the
    form both TensorFlow's projective transform and OpenCV's inverse warp take.
    Shear is up to 0.2 rad (about 11 degrees). A zoom above 1 shows a crop of
    1/zoom of each side, shifted anywhere inside the image: random crops at
    several scales, so the network cannot learn colour from position alone.
    """
    angle = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    shear = rng.uniform(-max_shear_rad, max_shear_rad)
    zoom = rng.uniform(*zoom_range)
    mirror = -1.0 if flip and rng.uniform() < 0.5 else 1.0
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear_m = np.array([[1.0, -np.sin(shear)], [0.0, np.cos(shear)]])
    scale = np.array([[zoom * mirror, 0.0], [0.0, zoom]])
    inverse = np.linalg.inv(rotate @ shear_m @ scale)  # forward map moves content; we need output -> input
    center = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    slack = max(0.0, 1.0 - 1.0 / zoom) / 2.0  # how far the crop's centre may move, as a share of each side
    shift = np.array([width, height]) * rng.uniform(-slack, slack, size=2) if slack else np.zeros(2)
    offset = center + shift - inverse @ center
    return np.array([*inverse[0], offset[0], *inverse[1], offset[1], 0.0, 0.0], dtype=np.float32)


def image_rng(image_seed, purpose):
    """The generator of one training image's random draws for one purpose (AUGMENTATION or USER): a
    function of the image's seed alone, so parallel threads draw the same whatever their order, and
    training with and without simulated users sees the same augmentation."""
    return np.random.default_rng([int(image_seed) % 2**63, purpose])


AUGMENTATION, USER = 0, 1  # image_rng's purposes


def seeded_affine_transform(height, width, image_seed):
    return random_affine_transform(height, width, rng=image_rng(image_seed, AUGMENTATION))


def random_affine_tf(rgb, image_seed):
    """`random_affine_transform` drawn from the image's seed, applied to one HxWx3 TensorFlow image,
    bilinear, borders reflected."""
    import tensorflow as tf

    shape = tf.shape(rgb)
    transform = tf.numpy_function(seeded_affine_transform, [shape[0], shape[1], image_seed], tf.float32,
                                  stateful=False)
    transform.set_shape([8])
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=rgb[None],
        transforms=transform[None],
        output_shape=shape[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )[0]
    return tf.clip_by_value(warped, 0.0, 1.0)


def to_network_pair_tf(rgb):
    """RGB [0, 1] -> (l_norm HxWx1, ab_norm HxWx2): the network's input and target."""
    return lab.split_lab_tf(lab.rgb_to_lab_tf(rgb))


def make_dataset(paths, image_size=256, batch_size=8, augment=False, shuffle=False, seed=None, cache="auto",
                 decode="auto", hints=None, targets=1):
    """A `tf.data.Dataset` of (l_norm, ab_norm) batches streamed from image files.

    Each image is squashed to image_size x image_size (as test time does), then
    augmented if asked. Decoding and augmentation run in parallel threads and
    are prefetched while the model trains. With `hints` (a model that takes hints,
    shared/hints.py) they are ({"l_norm", "hints", "palette"}, ab_norm):
    hints="simulated" draws a simulated user's points and palette for every
    image anew each epoch, hints="none" gives none (the automatic task). Each augmented image's
    random draws come from a seed of its own (drawn in order from NumPy's state, which --seed sets), so
    the same seed gives the same batches. `targets` > 1 repeats ab_norm as a tuple, for a model with that
    many outputs trained on the same colours. Where TensorFlow is not installed (Keras
    on PyTorch, say, on a GPU machine) the same batches come from `PhotoBatches`.

    Speed options (benchmarks/speed.py measures them): `decode="auto"` decodes
    JPEG, PNG and BMP with TensorFlow inside the graph, in parallel and outside
    Python's lock, and everything else with Pillow; `decode="pillow"` sends every
    file through Pillow. `cache=True` keeps the decoded, resized photos in memory
    after the first epoch (augmentation still differs every epoch); "auto" does
    so when they take at most CACHE_LIMIT_BYTES, so large sets keep streaming in
    flat memory.
    """
    if hints not in (None, "simulated", "none"):
        raise ValueError(f"hints must be None, 'simulated' or 'none', got {hints!r}")
    try:
        import tensorflow as tf
    except ImportError:
        return PhotoBatches(paths, image_size, batch_size, augment, shuffle, seed, hints, targets)

    size = [image_size, image_size]
    if cache == "auto":
        cache = len(paths) * image_size * image_size * 3 * 4 <= CACHE_LIMIT_BYTES
    in_graph = [decode != "pillow" and graph_decodable(p) for p in paths]

    def read(path, in_graph):
        return _decode_tf(path, in_graph)

    def readable(rgb):  # a file that broke in Pillow is 0x0 (warned in _read_or_empty): skipped
        return tf.size(rgb) > 0

    def resized(rgb):
        return tf.image.resize(rgb, size, antialias=True)

    def decoded(dataset):
        dataset = dataset.map(read, num_parallel_calls=autotune, deterministic=True)
        dataset = dataset.ignore_errors(log_warning=True)  # backstop: graph decoding of a file broken midway
        return dataset.filter(readable).map(resized, num_parallel_calls=autotune, deterministic=True)

    def pair(rgb, *image_seed):
        if augment:
            rgb = random_affine_tf(rgb, *image_seed)
        l_norm, ab_norm = to_network_pair_tf(rgb)
        target = ab_norm if targets == 1 else (ab_norm,) * targets
        if hints is not None:
            user_seed = image_seed if hints == "simulated" else ()
            return {"l_norm": l_norm, **hint_inputs_tf(ab_norm, *user_seed)}, target
        return l_norm, target

    autotune = tf.data.AUTOTUNE
    path_strings = [str(p) for p in paths]
    dataset = tf.data.Dataset.from_tensor_slices((path_strings, in_graph))
    if cache:  # decode once, in file order, then shuffle what is cached (a cache after shuffle would freeze its order)
        dataset = decoded(dataset).cache()
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if not cache:
        dataset = decoded(dataset)
    if augment or hints == "simulated":  # each image its own seed, anew each epoch (NumPy's state: --seed)
        image_seeds = tf.data.Dataset.random(seed=np.random.randint(2**31), rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip((dataset, image_seeds))
    dataset = dataset.map(pair, num_parallel_calls=autotune, deterministic=True)
    return dataset.batch(batch_size).prefetch(autotune)


def simulated_user_np(ab_norm, image_seed):
    """shared.hints.simulated_user with a generator of the image's own seed."""
    from shared import hints

    return hints.simulated_user(ab_norm, image_rng(image_seed, USER))


def hint_inputs_tf(ab_norm, user_seed=None):
    """{"hints": (H, W, 3), "palette": (n_bins + 1,)} for one image: a simulated user's, drawn from
    `user_seed` (so parallel threads give the same draws in any order), or none without a seed."""
    import tensorflow as tf

    from shared.hints import HINT_CHANNELS, PALETTE_SIZE

    height, width = tf.shape(ab_norm)[0], tf.shape(ab_norm)[1]
    if user_seed is not None:
        hint_map, palette = tf.numpy_function(simulated_user_np, [ab_norm, user_seed], [tf.float32, tf.float32],
                                              stateful=False)
    else:
        hint_map, palette = tf.zeros([height, width, HINT_CHANNELS]), tf.zeros([PALETTE_SIZE])
    hint_map.set_shape(ab_norm.shape[:-1] + [HINT_CHANNELS])
    palette.set_shape([PALETTE_SIZE])
    return {"hints": hint_map, "palette": palette}


def is_endless(dataset):
    """True for a `tf.data` dataset that repeats forever: an epoch of it needs a number of steps."""
    cardinality = getattr(dataset, "cardinality", None)
    if not callable(cardinality):
        return False
    import tensorflow as tf

    return int(cardinality()) == int(tf.data.INFINITE_CARDINALITY)


def in_memory_pair(x, y):
    """Arrays that fit in memory as (train_data, steps_per_epoch) for `training.fit`, one batch per epoch.

    With TensorFlow: a repeated `tf.data` dataset of the one batch. Keras wraps
    NumPy arrays in a new dataset at every epoch, which costs about as much as
    alpha's whole training step; one dataset that repeats is made once.
    Without TensorFlow: the arrays themselves.
    """
    try:
        import tensorflow as tf
    except ImportError:
        return (x, y), None
    return tf.data.Dataset.from_tensors((x, y)).repeat(), 1


class PhotoBatches(keras.utils.PyDataset):
    """`make_dataset`'s batches made with NumPy and OpenCV in worker threads, without TensorFlow.

    Each photo is decoded and resized once and kept in memory (image_size^2 x 3
    bytes each: 26 MB for 132 photos at 256 px), up to CACHE_LIMIT_BYTES; beyond that,
    photos are decoded anew each epoch. Augmentation and simulated users are drawn anew each epoch, from a seed per photo.
    """

    def __init__(self, paths, image_size, batch_size, augment, shuffle, seed=None, hints=None, targets=1):
        super().__init__(workers=os.cpu_count() or 1, use_multiprocessing=False)
        self.paths, self.image_size, self.batch_size = list(paths), image_size, batch_size
        self.augment, self.shuffle, self.hints, self.targets = augment, shuffle, hints, targets
        self.rng = np.random.default_rng(seed)
        self.resized = {}  # path index -> uint8 RGB at image_size x image_size
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.paths) / self.batch_size)

    def __getitem__(self, index):
        start = index * self.batch_size
        rgbs = {i: self._load(i) for i in self.order[start : start + self.batch_size]}
        rgbs = {i: rgb for i, rgb in rgbs.items() if rgb is not None}  # broken files are skipped
        for i in (*self.order[start + self.batch_size :], *self.order[:start]):  # none left: borrow one
            if rgbs:
                break
            if (rgb := self._load(i)) is not None:
                rgbs[i] = rgb
        if not rgbs:
            raise InputError(f"none of the {len(self.paths)} training images can be decoded")
        pairs = [lab.split_lab(lab.rgb_to_lab_fast(rgb)) for rgb in rgbs.values()]
        l_norm, ab_norm = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        target = ab_norm if self.targets == 1 else (ab_norm,) * self.targets
        if self.hints is not None:
            return {"l_norm": l_norm, **self._hint_inputs(ab_norm, list(rgbs))}, target
        return l_norm, target

    def _load(self, index):
        """Photo `index` at the training size, augmented if asked; None (warned once) if it cannot be decoded."""
        size = (self.image_size, self.image_size)
        rgb = self.resized.get(index)
        if rgb is None:
            rgb = _read_or_empty(self.paths[index])
            if rgb.size:
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            if (len(self.resized) + 1) * max(rgb.nbytes, 1) <= CACHE_LIMIT_BYTES:
                self.resized[index] = rgb  # a broken file stays 0x0: skipped without a new warning
        if rgb.size == 0:
            return None
        if self.augment:
            transform = seeded_affine_transform(*size, self.image_seeds[index])
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            rgb = cv2.warpAffine(rgb, transform[:6].reshape(2, 3), size, flags=flags, borderMode=cv2.BORDER_REFLECT)
        return rgb

    def _hint_inputs(self, ab_norm, indices):
        from shared import hints

        if self.hints == "simulated":
            users = [simulated_user_np(ab, self.image_seeds[i]) for ab, i in zip(ab_norm, indices)]
            return {"hints": np.stack([u[0] for u in users]), "palette": np.stack([u[1] for u in users])}
        return {"hints": np.zeros((*ab_norm.shape[:-1], hints.HINT_CHANNELS), np.float32),
                "palette": np.zeros((len(ab_norm), hints.PALETTE_SIZE), np.float32)}

    def on_epoch_end(self):
        """A new order (if shuffling) and new seeds for each photo's augmentation and simulated user."""
        self.order = self.rng.permutation(len(self.paths)) if self.shuffle else np.arange(len(self.paths))
        self.image_seeds = self.rng.integers(2**62, size=len(self.paths))
