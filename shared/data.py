"""Finding and reading images, and the `tf.data` pipeline that feeds training.

Training streams from disk: every epoch decodes each file again, in parallel
threads, and augments it on the fly, so peak memory does not grow with the
number of images. Augmentation runs on RGB before the conversion to Lab, so L
and ab stay aligned.
"""

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shared import lab

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


class InputError(Exception):
    """Something the user gave us is wrong; the message says what and how to fix it."""


def read_rgb(path):
    """Read any image file as uint8 RGB HxWx3: alpha dropped, grayscale and palette expanded."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"cannot read {path} as an image ({error})") from error


def image_size(path):
    """(width, height) from the file's header, or None if it is not a readable image."""
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except Exception:  # PIL raises many kinds on broken files
        return None


def list_images(source, min_side=1):
    """Readable images from a file or a folder, sorted.

    `source` is an image file, a folder (searched recursively), or a text file
    with one image path per line. Files that are not images, cannot be read or
    are smaller than `min_side` pixels are skipped with a warning. Raises
    InputError when nothing usable is left.
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

    images = []
    for path in candidates:
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            warnings.warn(f"skipping {path}: not an image file ({', '.join(IMAGE_EXTENSIONS)})", stacklevel=2)
            continue
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


def _load_tf(path):
    import tensorflow as tf

    def read(path_bytes):
        return read_rgb(path_bytes.decode())

    rgb = tf.numpy_function(read, [path], tf.uint8, stateful=False)
    rgb.set_shape([None, None, 3])
    return tf.image.convert_image_dtype(rgb, tf.float32)  # RGB in [0, 1]


def random_affine_tf(rgb, max_rotation_deg=20.0, max_shear_rad=0.2, zoom_range=(0.8, 1.2), flip=True):
    """Random rotation, shear, zoom and horizontal flip of one HxWx3 image, as one bilinear warp.

    Shear is up to 0.2 rad (about 11 degrees); borders are filled by reflection.
    """
    import tensorflow as tf

    height = tf.cast(tf.shape(rgb)[0], tf.float32)
    width = tf.cast(tf.shape(rgb)[1], tf.float32)
    angle = tf.random.uniform([], -1.0, 1.0) * max_rotation_deg * math.pi / 180.0
    shear = tf.random.uniform([], -max_shear_rad, max_shear_rad)
    zoom = tf.random.uniform([], zoom_range[0], zoom_range[1])
    mirror = tf.where(tf.random.uniform([]) < 0.5, -1.0, 1.0) if flip else tf.constant(1.0)

    # Forward map (content moves by it): rotate @ shear @ zoom @ mirror.
    cos, sin = tf.cos(angle), tf.sin(angle)
    rotate = tf.reshape(tf.stack([cos, -sin, sin, cos]), [2, 2])
    shear_m = tf.reshape(tf.stack([1.0, -tf.sin(shear), 0.0, tf.cos(shear)]), [2, 2])
    scale = tf.reshape(tf.stack([zoom * mirror, 0.0, 0.0, zoom]), [2, 2])
    inverse = tf.linalg.inv(rotate @ shear_m @ scale)  # output pixel -> input pixel

    center = tf.stack([(width - 1.0) / 2.0, (height - 1.0) / 2.0])
    offset = center - tf.linalg.matvec(inverse, center)
    transform = tf.stack(
        [inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1], 0.0, 0.0]
    )
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=rgb[None],
        transforms=transform[None],
        output_shape=tf.shape(rgb)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )[0]
    return tf.clip_by_value(warped, 0.0, 1.0)


def to_network_pair_tf(rgb):
    """RGB [0, 1] -> (l_norm HxWx1, ab_norm HxWx2): the network's input and target."""
    return lab.split_lab_tf(lab.rgb_to_lab_tf(rgb))


def make_dataset(paths, image_size=256, batch_size=8, augment=False, shuffle=False, seed=None):
    """A `tf.data.Dataset` of (l_norm, ab_norm) batches streamed from image files.

    Each image is squashed to image_size x image_size (as test time does), then
    augmented if asked. Decoding and augmentation run in parallel threads and
    are prefetched while the model trains.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    dataset = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(_load_tf, num_parallel_calls=autotune, deterministic=not shuffle)
    size = [image_size, image_size]
    dataset = dataset.map(lambda rgb: tf.image.resize(rgb, size, antialias=True), num_parallel_calls=autotune)
    if augment:
        dataset = dataset.map(random_affine_tf, num_parallel_calls=autotune)
    dataset = dataset.map(to_network_pair_tf, num_parallel_calls=autotune)
    return dataset.batch(batch_size).prefetch(autotune)
