"""Applying a trained model: L in, ab out, at any image size; and the test.py every tier shares.

A model with a fixed input size (beta, full_version: 256x256) sees L resized to
that size; its ab is upsampled back to the image's size and merged with the
image's own full-resolution L. A fully-convolutional model (alpha) sees L at
full size, padded to a multiple of its total stride.
"""

import argparse
import csv
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

import cv2
import keras
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from shared import ab_bins, accel, cli, lab, metrics
from shared.global_features import ImagenetEmbedder
from shared.layers import embedding_of, total_stride
from shared.data import InputError, input_labels, list_images, read_images

FIGURE_ROWS = 16  # at most this many images in the comparison figure
THUMBNAIL_SIDE = 256  # px, the figure's images


def pad_to_multiple(image, multiple):
    """Mirror-pad an HxW[xC] image at the bottom and right so both sides divide by `multiple`."""
    pad_h, pad_w = (-image.shape[0]) % multiple, (-image.shape[1]) % multiple
    return np.pad(image, ((0, pad_h), (0, pad_w)) + ((0, 0),) * (image.ndim - 2), mode="symmetric")


class Colorizer:
    """Wraps a trained Keras model: `predict_ab` maps L images to ab at their own sizes."""

    def __init__(self, model, batch_size=8, embedder=None):
        self.model, self.batch_size = model, batch_size
        height, width = model.inputs[0].shape[1:3]
        self.working_size = (height, width) if height and width else None  # None: fully convolutional
        self.min_side = total_stride(model)
        self.embedding = embedding_of(model)  # None, "learned" or "imagenet"
        self.embedder = embedder  # ImageNet vectors, made on first use when the model needs them

    def check_size(self, height, width, name="image"):
        if min(height, width) < self.min_side:
            raise InputError(
                f"{name} is {width}x{height} px; this model needs at least {self.min_side}x{self.min_side}"
            )

    def network_inputs(self, l_norm):
        """The model's inputs for a batch of l_norm (N, h, w, 1), plus the ImageNet vectors of a model
        whose global features come from there (full_version --embedding imagenet)."""
        if self.embedding != "imagenet":
            return l_norm
        if self.embedder is None:
            self.embedder = ImagenetEmbedder(batch_size=self.batch_size)
        return {"l_norm": l_norm, "embedding": self.embedder(list(l_norm[..., 0] * lab.L_SCALE))}

    def predict_ab(self, l_channels):
        """L images (each HxW, L in [0, 100]) -> ab_norm images (each HxWx2, in [-1, 1])."""
        results = [None] * len(l_channels)
        for indices, batch in self._batches(l_channels):
            inputs = self.network_inputs(batch)
            if self.working_size is None:  # sizes vary: an eager call traces no graph per new size
                ab_batch = keras.ops.convert_to_numpy(self.model(inputs, training=False))
            else:  # one size: the compiled predict step is faster
                ab_batch = keras.ops.convert_to_numpy(self.model.predict_on_batch(inputs))
            ab_batch = np.asarray(ab_batch, np.float32)  # bfloat16 models answer in bfloat16
            for i, ab_norm in zip(indices, ab_batch):
                height, width = l_channels[i].shape
                if self.working_size is None:
                    results[i] = ab_norm[:height, :width]
                else:
                    results[i] = cv2.resize(ab_norm, (width, height), interpolation=cv2.INTER_LINEAR)
        return results

    def _batches(self, l_channels):
        """(indices, l_norm batch) groups: same-size images together, at most batch_size each."""
        groups = {}
        for i, l_channel in enumerate(l_channels):
            self.check_size(*l_channel.shape)
            groups.setdefault(l_channel.shape, []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = np.stack([self._prepare(l_channels[i]) for i in chunk])
                yield chunk, batch

    def _prepare(self, l_channel):
        l_norm = np.asarray(l_channel, np.float32) / lab.L_SCALE
        if self.working_size is None:
            l_norm = pad_to_multiple(l_norm, self.min_side)
        else:
            height, width = self.working_size
            shrink = height < l_norm.shape[0] or width < l_norm.shape[1]
            interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            l_norm = cv2.resize(l_norm, (width, height), interpolation=interpolation)
        return l_norm[..., None]

    def colorize(self, rgb_images):
        """Colour or grayscale RGB images -> colorized uint8 RGB; only their lightness is used."""
        l_channels = [lab.rgb_to_l(rgb) for rgb in rgb_images]
        return [lab.merge_l_ab(l, ab) for l, ab in zip(l_channels, self.predict_ab(l_channels))]


def load_model(model):
    """A tier name or a .keras path -> the Keras model, or an InputError naming the train command.

    Says in one line which file it uses: for a tier, the user's own models/<tier>.keras, else the shipped one.
    """
    path = cli.model_path(model)
    if not path.exists():
        raise InputError(f"no trained model at {path}: train one with `{cli.train_command(model)}`")
    keras_model = load_keras_file(path)
    shipped = model in cli.TIERS and path == cli.shipped_model_path(model)
    print(f"model: {path}" + (f" (shipped; `{cli.train_command(model)}` trains your own)" if shipped else ""))
    return keras_model


def load_keras_file(path, compile=False):
    """An existing .keras file -> the Keras model; InputError saying it is corrupt when it is not one."""
    if Path(path).is_dir():
        raise InputError(f"{path} is a folder, not a .keras model file")
    if not zipfile.is_zipfile(path):  # Keras itself would say "file not found"
        raise InputError(f"{path} is corrupt or not a Keras model (not a .keras zip archive)")
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as error:
        raise InputError(f"{path} is corrupt or not a Keras model ({error})") from error


def set_temperature(keras_model, temperature, name="the model"):
    """Set a classification model's annealed-mean temperature; a regression model has none to set."""
    decoding = ab_bins.decoding_layer(keras_model)
    if decoding is None:
        raise InputError(
            f"--temperature applies only to models trained with --loss classification; {name} was trained "
            "with --loss regression and predicts one colour per pixel"
        )
    if not temperature > 0:
        raise InputError(f"--temperature must be positive, got {temperature}")
    decoding.temperature = float(temperature)


def load_colorizer(model, batch_size=8, temperature=None, precision="float32"):
    """A tier name or .keras path -> a Colorizer; `temperature` (classification models only) sets the
    annealed mean's temperature: lower is more vivid, higher calmer (default 0.38, Zhang et al.);
    `precision`: what the network computes in (shared/accel.py)."""
    keras_model = accel.with_precision(load_model(model), precision)
    if temperature is not None:
        set_temperature(keras_model, temperature, cli.model_path(model))
    return Colorizer(keras_model, batch_size=batch_size)


def result_names(labels):
    """Each input's result file, relative to --output: `a/pic.jpg` -> `a/pic.png`, sub-folders kept;
    where two inputs in one folder share a stem (`pic.jpg`, `pic.png`) each keeps its extension:
    `pic.jpg.png`, `pic.png.png`."""
    plain = [PurePosixPath(label).with_suffix(".png") for label in labels]
    shared_stem = Counter(str(name).lower() for name in plain)
    return [name if shared_stem[str(name).lower()] == 1 else PurePosixPath(f"{label}.png")
            for name, label in zip(plain, labels)]


def check_output_folder(output, sources, inputs, written, flag="--output"):
    """Before any work: `output` can be written, is not inside an input folder of `sources` (results
    there would be read as inputs by the next run) and none of the `written` names (relative to
    `output`) is one of the `inputs`. InputError otherwise."""
    output = Path(output)
    for source in map(Path, sources):
        if source.is_dir() and output.resolve().is_relative_to(source.resolve()):
            raise InputError(f"{flag} {output} is inside the input folder {source}: results there would overwrite "
                             "or later be read as inputs; choose a folder outside it")
    inputs = {Path(p).resolve() for p in inputs}
    for name in written:
        if (output / name).resolve() in inputs:
            raise InputError(f"{flag} {output} would overwrite the input {output / name}; choose another folder")
    cli.writable_folder(output, flag)


def save_png(rgb, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)


def _thumbnail(rgb):
    height, width = rgb.shape[:2]
    scale = THUMBNAIL_SIDE / max(height, width)
    return cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def comparison_figure(rows, path, columns=("grayscale input", "colorized", "original")):
    """A grid: one row of images per entry of `rows`, titled by `columns`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), len(columns), figsize=(3 * len(columns), 2.6 * len(rows)), squeeze=False)
    for r, (name, images) in enumerate(rows):
        for c, image in enumerate(images):
            axes[r, c].imshow(image)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(columns[c])
        axes[r, 0].set_ylabel(name, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_test_parser(tier, default_input):
    parser = argparse.ArgumentParser(
        description=f"Colorize images with the {tier} tier and measure the result against the originals."
    )
    parser.add_argument("--model", default=tier, help=f"tier name or .keras path (default: models/{tier}.keras)")
    parser.add_argument("--input", type=Path, default=default_input, help="image file or folder (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=cli.RESULTS / tier, help="folder for results (default: %(default)s)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=8)
    add_temperature_argument(parser)
    return parser


def add_temperature_argument(parser):
    parser.add_argument(
        "--temperature", type=float,
        help="classification models only: the annealed mean's temperature; lower is more vivid, higher calmer "
             f"(default: {ab_bins.DEFAULT_TEMPERATURE}, as saved in the model)",
    )


def run_test(tier, default_input, argv=None, colorizer=None):
    """The common test.py: for each input image write <output>/<stem>.png at its own size, then
    a comparison figure and metrics.csv, and print PSNR, SSIM and colorfulness."""
    args = build_test_parser(tier, default_input).parse_args(argv)
    colorizer = colorizer or load_colorizer(args.model, args.batch_size, args.temperature)
    paths = list_images(args.input, min_side=colorizer.min_side)
    labels = dict(zip(paths, input_labels(paths, args.input)))
    names = dict(zip(paths, result_names(labels.values())))
    check_output_folder(args.output, [args.input], paths, [*names.values(), "metrics.csv", "comparison.png"])

    rows, figure_rows = [], []
    with tqdm(total=len(paths), unit="image", dynamic_ncols=True) as bar:
        for start in range(0, len(paths), args.batch_size):
            readable = list(read_images(paths[start : start + args.batch_size]))  # broken files: warned, skipped
            chunk, originals = [p for p, _ in readable], [rgb for _, rgb in readable]
            bar.update(len(paths[start : start + args.batch_size]) - len(readable))
            for path, original, result in zip(chunk, originals, colorizer.colorize(originals)):
                save_png(result, args.output / names[path])
                gray = lab.gray_rgb(original)
                row = {"image": labels[path], **metrics.image_metrics(result, original), "psnr_grayscale": metrics.psnr(gray, original)}
                rows.append(row)
                bar.write(
                    f"{labels[path]:32s} PSNR {row['psnr']:6.2f} dB (grayscale {row['psnr_grayscale']:6.2f})"
                    f"  SSIM {row['ssim']:.3f}  colorfulness {row['colorfulness']:5.1f}"
                    f" (original {row['colorfulness_original']:5.1f})"
                )
                if len(figure_rows) < FIGURE_ROWS:
                    figure_rows.append((labels[path], [_thumbnail(x) for x in (gray, result, original)]))
                bar.update(1)
    if not rows:
        raise InputError(f"none of the {len(paths)} images in {args.input} could be decoded")

    with open(args.output / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    comparison_figure(figure_rows, args.output / "comparison.png")

    mean = {key: float(np.mean([row[key] for row in rows])) for key in rows[0] if key != "image"}
    print(
        f"mean over {len(rows)} images: PSNR {mean['psnr']:.2f} dB (grayscale {mean['psnr_grayscale']:.2f} dB, "
        f"gain {mean['psnr'] - mean['psnr_grayscale']:+.2f} dB), SSIM {mean['ssim']:.3f}, "
        f"colorfulness {mean['colorfulness']:.1f} (originals {mean['colorfulness_original']:.1f})"
    )
    print(f"wrote {len(rows)} images, comparison.png and metrics.csv to {args.output}")
    return 0
