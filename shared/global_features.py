"""Global features from ImageNet for models with a global vector (full_version), and their on-disk cache.

With `--embedding imagenet` each image's global vector is the 1000 class
scores of a frozen InceptionResNetV2 that sees the image's grayscale version
(L with ab = 0, as RGB 0..255, resized to 299x299 and scaled by the model's own
`preprocess_input` to [-1, 1]). Training computes each image's vector once, on
the un-augmented image at the training size, and keeps it in
<model>.embeddings.npz beside the model; later epochs and later runs read it.
"""

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from shared import data, lab
from shared.data import InputError

CLASSIFIER_SIDE = 299  # px, InceptionResNetV2's input
WEIGHTS_FILE = "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5"  # what keras.applications downloads


def keras_cache_dirs():
    """Where Keras keeps downloads: $KERAS_HOME or ~/.keras, and /tmp/.keras when that is read-only."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    return [home, Path("/tmp/.keras")]


def imagenet_weights_cached(cache_dirs=None):
    """True when InceptionResNetV2's ImageNet weights are already downloaded (nothing is fetched)."""
    return any((d / "models" / WEIGHTS_FILE).is_file() for d in (cache_dirs or keras_cache_dirs()))


def choose_embedding(choice, cache_dirs=None):
    """--embedding auto|learned|imagenet -> learned or imagenet; `auto` never touches the network."""
    if choice != "auto":
        return choice
    if imagenet_weights_cached(cache_dirs):
        return "imagenet"
    print(
        "InceptionResNetV2's ImageNet weights are not in Keras's cache, so the global features are learned "
        "(`--embedding imagenet` downloads the weights, about 220 MB)"
    )
    return "learned"


class ImagenetEmbedder:
    """L images -> InceptionResNetV2's 1000 class scores for their grayscale versions.

    `classifier` is any Keras model from (N, 299, 299, 3) to (N, 1000); by
    default the ImageNet-trained InceptionResNetV2, loaded on first use through
    Keras's download cache. `images_embedded` counts the images classified.
    """

    def __init__(self, classifier=None, batch_size=8):
        self._classifier, self._owns_classifier = classifier, classifier is None
        self.batch_size = batch_size
        self.images_embedded = 0

    @property
    def classifier(self):
        if self._classifier is None:
            from keras.applications.inception_resnet_v2 import InceptionResNetV2

            try:
                self._classifier = InceptionResNetV2(weights="imagenet")
            except Exception as error:  # no network, a broken download, ...
                raise InputError(
                    f"cannot load InceptionResNetV2's ImageNet weights ({error}); "
                    "without network access train with `--embedding learned`"
                ) from error
            self._classifier.trainable = False
        return self._classifier

    def release(self):
        """Free the classifier's memory if this embedder loaded it (it is loaded again when needed)."""
        if self._owns_classifier:
            self._classifier = None

    @staticmethod
    def classifier_input(l_channels):
        """L images (each HxW, L in [0, 100]) -> (N, 299, 299, 3) float32 in [-1, 1], as the classifier expects.

        The grayscale image goes in as RGB 0..255, the range `preprocess_input` is written for.
        """
        from keras.applications.inception_resnet_v2 import preprocess_input

        grays = []
        for l_channel in l_channels:
            gray = lab.gray_from_l(l_channel)  # uint8 RGB
            shrink = max(gray.shape[:2]) > CLASSIFIER_SIDE
            interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            grays.append(cv2.resize(gray, (CLASSIFIER_SIDE, CLASSIFIER_SIDE), interpolation=interpolation))
        return np.asarray(preprocess_input(np.stack(grays).astype(np.float32)))

    def __call__(self, l_channels):
        """L images (each HxW, in [0, 100]) -> (N, 1000) float32."""
        vectors = []
        for start in range(0, len(l_channels), self.batch_size):
            chunk = self.classifier_input(l_channels[start : start + self.batch_size])
            vectors.append(np.asarray(self.classifier.predict_on_batch(chunk), np.float32))
            self.images_embedded += len(chunk)
        return np.concatenate(vectors)


# --- the training set's vectors, computed once and kept on disk ------------------------------------


def cache_path(model_path):
    """models/full_version.keras -> models/full_version.embeddings.npz"""
    return Path(f"{Path(model_path).with_suffix('')}.embeddings.npz")


def _cache_key(path, image_size):
    """Changes when the file or the training size changes."""
    path = Path(path).resolve()
    stat = path.stat()
    return hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{image_size}".encode()).hexdigest()


def _iterate(batches):
    """The batches of a tf.data.Dataset, or of a keras PyDataset (the fallback without TensorFlow)."""
    if hasattr(batches, "__getitem__") and hasattr(batches, "__len__"):
        return (batches[i] for i in range(len(batches)))
    return iter(batches)


class EmbeddingCache:
    """Image file -> global vector, stored in one .npz file; `vectors` computes only what is missing."""

    def __init__(self, path, embedder):
        self.path, self.embedder = Path(path), embedder
        self.vectors_by_key = {}
        if self.path.exists():
            try:
                with np.load(self.path) as stored:
                    self.vectors_by_key = {key: stored[key] for key in stored.files}
            except (OSError, ValueError) as error:
                print(f"ignoring the unreadable embedding cache {self.path} ({error})")

    def vectors(self, paths, image_size, batch_size=8):
        """(len(paths), D) float32, row i for paths[i]; new images are embedded (progress bar) and stored."""
        keys = [_cache_key(p, image_size) for p in paths]
        missing = [(p, k) for p, k in zip(paths, keys) if k not in self.vectors_by_key]
        if missing:
            # as validation sees them; each batch carries its images' places, as a file that cannot be decoded is left out
            places = np.arange(len(missing), dtype=np.float32)[:, None]
            images = data.make_dataset([p for p, _ in missing], image_size, batch_size, embeddings=places)
            with tqdm(total=len(missing), unit="image", desc="ImageNet embeddings", dynamic_ncols=True) as bar:
                for inputs, _ in _iterate(images):
                    l_channels = list(np.asarray(inputs["l_norm"])[..., 0] * lab.L_SCALE)
                    for place, vector in zip(np.asarray(inputs["embedding"])[:, 0], self.embedder(l_channels)):
                        self.vectors_by_key[missing[int(place)][1]] = vector
                    bar.update(len(l_channels))
            self.save()
        found = [self.vectors_by_key.get(k) for k in keys]
        if all(v is None for v in found):
            raise InputError("none of the training images can be decoded")
        blank = np.zeros_like(next(v for v in found if v is not None))  # the pipeline skips those images anyway
        return np.stack([blank if v is None else v for v in found]).astype(np.float32)

    def save(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.stem}.partial.npz")
        with open(partial, "wb") as f:
            np.savez(f, **self.vectors_by_key)
        os.replace(partial, self.path)
