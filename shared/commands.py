"""The commands the tiers' scripts share: train on a folder of photos, and the common test.py.

The library (training, inference, data, ...) holds no command line; the scripts
(<tier>/train.py, <tier>/test.py, shared/video.py, shared/evaluate.py) build
their flags and call these.
"""

import argparse
import contextlib
import math
from collections import Counter
from pathlib import Path, PurePosixPath

import keras
import numpy as np
from tqdm.auto import tqdm

from shared import ab_bins, accel, cli, data, figures, hints, inference, lab, metrics, photo_files, training
from shared.data import InputError, input_labels, list_images, read_rgb


FIGURE_ROWS = 16  # at most this many images in the comparison figure
THUMBNAIL_SIDE = 256  # px, the figure's images


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


def save_png(rgb, path, source=None, software=None):
    """Write a result (its suffix says the format; uint16: 16-bit) with `source`'s metadata and `software` named
    in it: `shared.photo_files.write_photo`, into a folder made if needed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    photo_files.write_photo(rgb, path, source, software)


def build_test_parser(tier, default_input):
    parser = argparse.ArgumentParser(
        description=f"Colorize images with the {tier} tier and measure the result against the originals."
    )
    parser.add_argument("--model", default=tier, help=f"tier name or .keras path (default: {tier}: models/{tier}.keras, else the shipped one)")
    parser.add_argument("--input", type=Path, default=default_input, help="image file or folder (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=cli.RESULTS / tier, help="folder for results (default: %(default)s)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=8)
    add_temperature_argument(parser)
    add_neutral_lean_argument(parser)
    add_precision_argument(parser)
    add_hint_arguments(parser)
    return parser


def add_hint_arguments(parser):
    parser.add_argument("--hints", type=Path, metavar="JSON",
                        help='colours you want at points of one photo: a JSON list of {"x": 120, "y": 40, "color": '
                             '"#3a7bd5"} (x the column, y the row, in the photo\'s pixels; models trained with hints)')
    parser.add_argument("--reference", type=Path, metavar="IMAGE",
                        help="a photo whose colours set the palette (models trained with hints)")


def read_guidance(args, n_images):
    """(hints as [(x, y, (r, g, b))] or None, reference uint8 RGB or None) from --hints and --reference."""
    if args.hints is not None and n_images != 1:
        raise InputError(f"--hints are points of one photo: give one --input photo, not {n_images}")
    points = hints.read_photo_hints(args.hints) if args.hints else None
    reference = read_rgb(args.reference) if args.reference is not None else None
    return points, reference


def add_precision_argument(parser, default=accel.COLORIZING_PRECISION):
    """--precision: what the network computes in (colorizing defaults to auto, training to float32)."""
    parser.add_argument(
        "--precision", choices=accel.PRECISIONS, default=default,
        help="bfloat16 computes in bfloat16 with float32 weights (about 2x faster on CPUs with native "
             "bfloat16); auto = bfloat16 on such CPUs, float32 elsewhere (default: %(default)s)",
    )


def add_temperature_argument(parser):
    parser.add_argument(
        "--temperature", type=float,
        help="classification models only: the annealed mean's temperature; lower is more vivid, higher calmer "
             f"(default: {ab_bins.DEFAULT_TEMPERATURE}, as saved in the model)",
    )


def add_restraint_arguments(parser):
    """--neutral-prior, --restraint-midpoint, --restraint-width: classification models' restraint where the
    network is unsure (shared/ab_bins.py's annealed_mean); not given: as the model has it."""
    parser.add_argument("--neutral-prior", action=argparse.BooleanOptionalAction, default=None,
                        help="classification models: flatten unsure pixels toward grey, not toward the bins' "
                             "orange centroid (default: as saved in the model)")
    parser.add_argument("--restraint-midpoint", type=float, metavar="ENTROPY",
                        help="classification models: fade each pixel's colour by sigmoid((midpoint - its normalised "
                             "entropy) / width); 0..1, lower restrains more (default: as saved; off in older models)")
    parser.add_argument("--restraint-width", type=float, help="the width of that fade (default: as saved, 0.1)")
    add_neutral_lean_argument(parser)


def add_neutral_lean_argument(parser):
    parser.add_argument("--neutral-lean", type=float, metavar="STRENGTH",
                        help="models with a neutral lean (full_version): how far a scene the model judges grey "
                             "(snow, concrete, an overcast street) is pulled toward grey; 0 keeps the network's own "
                             "colours, 1 the lean as fitted (the least ab error), 2 twice that (default: as saved; 0.3 in the shipped "
                             "full_version)")


def set_restraint_from(args, keras_model, name="the model"):
    """Apply --neutral-prior, --restraint-midpoint/width and --neutral-lean to a loaded model, where given."""
    midpoint = inference.UNCHANGED if args.restraint_midpoint is None else args.restraint_midpoint
    if args.neutral_prior is not None or args.restraint_midpoint is not None or args.restraint_width is not None:
        inference.set_restraint(keras_model, args.neutral_prior, midpoint, args.restraint_width, name)
    if args.neutral_lean is not None:
        inference.set_neutral_lean(keras_model, args.neutral_lean, name)


def run_test(tier, default_input, argv=None, colorizer=None):
    """The common test.py: for each input image write <output>/<stem>.png at its own size, then
    a comparison figure and metrics.csv, and print PSNR, SSIM and colorfulness."""
    args = build_test_parser(tier, default_input).parse_args(argv)
    colorizer = colorizer or inference.load_colorizer(args.model, args.batch_size, args.temperature, args.precision,
                                                      args.neutral_lean)
    paths = list_images(args.input, min_side=colorizer.min_side)
    labels = dict(zip(paths, input_labels(paths, args.input)))
    names = dict(zip(paths, result_names(labels.values())))
    check_output_folder(args.output, [args.input], paths, [*names.values(), "metrics.csv", "comparison.png"])
    points, reference = read_guidance(args, len(paths))
    colorizer.check_guidance(points, reference)

    rows, figure_rows = [], []
    with tqdm(total=len(paths), unit="image", dynamic_ncols=True) as bar:
        for start in range(0, len(paths), args.batch_size):
            readable = list(photo_files.read_photos(paths[start : start + args.batch_size]))  # broken files: warned, skipped
            chunk, originals = [p for p, _ in readable], [photo.pixels for _, photo in readable]  # 16-bit stays
            bar.update(len(paths[start : start + args.batch_size]) - len(readable))
            chunk_points = None if points is None else [hints.check_points(points, *o.shape[:2]) for o in originals]
            results = colorizer.colorize(originals, chunk_points, reference)
            for path, original, result in zip(chunk, originals, results):
                save_png(result, args.output / names[path], path, photo_files.software_tag(args.model))
                result, original = photo_files.as_8_bits(result), photo_files.as_8_bits(original)  # measured in 8 bits
                gray = lab.gray_rgb(original)
                row = {"image": labels[path], **metrics.image_metrics(result, original), "psnr_grayscale": metrics.psnr(gray, original)}
                rows.append(row)
                bar.write(
                    f"{labels[path]:32s} PSNR {row['psnr']:6.2f} dB (grayscale {row['psnr_grayscale']:6.2f})"
                    f"  SSIM {row['ssim']:.3f}  colorfulness {row['colorfulness']:5.1f}"
                    f" (original {row['colorfulness_original']:5.1f})"
                )
                if len(figure_rows) < FIGURE_ROWS:
                    figure_rows.append((labels[path], [figures.thumbnail(x, THUMBNAIL_SIDE) for x in (gray, result, original)]))
                bar.update(1)
    if not rows:
        raise InputError(f"none of the {len(paths)} images in {args.input} could be decoded")

    cli.write_csv(args.output / "metrics.csv", rows)
    figures.grid_figure(figure_rows, ["grayscale input", "colorized", "original"], args.output / "comparison.png")

    mean = {key: float(np.mean([row[key] for row in rows])) for key in rows[0] if key != "image"}
    print(
        f"mean over {len(rows)} images: PSNR {mean['psnr']:.2f} dB (grayscale {mean['psnr_grayscale']:.2f} dB, "
        f"gain {mean['psnr'] - mean['psnr_grayscale']:+.2f} dB), SSIM {mean['ssim']:.3f}, "
        f"colorfulness {mean['colorfulness']:.1f} (originals {mean['colorfulness_original']:.1f})"
    )
    print(f"wrote {len(rows)} images, comparison.png and metrics.csv to {args.output}")
    return 0


def build_train_parser(tier, description, epochs=100, batch_size=8, image_size=256, learning_rate=3e-4):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--images", type=Path, nargs="+", default=list(training.DEFAULT_TRAINING_IMAGES),
                        help="folders, images or list files of training photos (default: %(default)s)")
    parser.add_argument("--epochs", type=cli.positive_int, default=epochs, help="epochs in all (default: %(default)s)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=batch_size, help="(default: %(default)s)")
    parser.add_argument("--image-size", type=cli.positive_int, default=image_size,
                        help="training resolution in px (default: %(default)s)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=learning_rate, help="(default: %(default)s)")
    add_loss_argument(parser, default="classification")
    parser.add_argument("--val-share", type=float, default=0.1,
                        help="share of the images held out for validation (default: %(default)s)")
    parser.add_argument("--more-train-images", type=Path, nargs="+", default=[], metavar="SOURCE",
                        help="photos added to the training set after --images is split, so that the split of "
                             "--images stays what it was without them (folders, images or list files)")
    parser.add_argument("--more-val-images", type=Path, nargs="+", default=[], metavar="SOURCE",
                        help="photos added to the validation set after --images is split")
    parser.add_argument("--more-train-repeat", type=cli.positive_int, default=1, metavar="N",
                        help="each --more-train-images photo comes N times an epoch, so that a few photos of a "
                             "kind the others lack weigh more (default: %(default)s)")
    parser.add_argument("--model-out", type=Path, default=cli.MODELS / f"{tier}.keras", help="(default: %(default)s)")
    parser.add_argument("--resume", action="store_true", help="continue the last interrupted training")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh even where --model-out already holds a trained model (deletes it)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split, the initial weights and the augmentation (default: %(default)s)")
    add_speed_flags(parser)
    return parser


def add_loss_argument(parser, default):
    parser.add_argument(
        "--loss", choices=ab_bins.LOSSES, default=default,
        help="classification: a distribution over ab bins, rebalanced toward rare colours (vivid); "
             "regression: mean-squared error on ab (the reference design's, dull) (default: %(default)s)",
    )


def add_speed_flags(parser):
    add_precision_argument(parser, default=accel.TRAINING_PRECISION)
    parser.add_argument(
        "--cache", choices=("auto", "on", "off"), default="auto",
        help="keep the decoded, resized photos in memory after the first epoch; auto = when they take "
             f"at most {data.CACHE_LIMIT_BYTES >> 20} MiB (default: %(default)s)",
    )


def train_on_folder(args, build_model, make_dataset=None):
    """List, split and stream the photos, then train `build_model(image_size, learning_rate, loss, class_weights)`.

    `make_dataset(paths, image_size, batch_size, augment=, shuffle=)` makes the
    batches (default `data.make_dataset`); full_version adds its embeddings there.
    """
    strategy = accel.distribution_strategy()  # first: a multi-worker one must exist before TensorFlow runs
    train_paths, val_paths = _checked_photos(args, build_model)
    class_weights = None if args.resume else training.class_weights_for(train_paths, args.image_size, args.loss)
    keras.utils.set_random_seed(args.seed)  # the same flags give the same initial weights and augmentation
    train_data, val_data = _datasets(args, train_paths, val_paths, make_dataset or data.make_dataset,
                                     equal_batches=accel.is_multi_worker(strategy))
    print(f"precision: {accel.set_precision(getattr(args, 'precision', accel.TRAINING_PRECISION))}")
    if strategy is not None:
        print(f"training on {strategy.num_replicas_in_sync} replicas with {type(strategy).__name__}; "
              f"global batch {args.batch_size}")
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = build_model(image_size=args.image_size, learning_rate=args.learning_rate, loss=args.loss,
                                class_weights=class_weights)
            result = training.fit(
                model,
                train_data,
                epochs=args.epochs,
                model_path=args.model_out,
                val_data=val_data,
                resume=args.resume,
                overwrite=args.overwrite,
                steps_per_epoch=math.ceil(len(train_paths) / args.batch_size),
                images_per_epoch=len(train_paths),
            )
    finally:
        keras.config.set_dtype_policy("float32")
    _print_outcome(result, args.model_out)
    return result


def _checked_photos(args, build_model):
    """(training photos, validation photos), once every flag is checked, before any training work."""
    if args.image_size % 8:
        raise InputError(f"--image-size must be a multiple of 8, got {args.image_size}")
    if not 0 <= args.val_share < 1:
        raise InputError(f"--val-share must be in [0, 1), got {args.val_share}")
    paths = training.list_training_images(args.images)
    train_paths, val_paths = data.split_validation(paths, args.val_share, seed=args.seed)
    train_paths, val_paths = _with_more_photos(args, train_paths, val_paths)
    if not train_paths:
        raise InputError(f"--val-share {args.val_share} holds out all {len(paths)} images, leaving none to train on: "
                         "give a smaller --val-share (0 trains on all) or more images")
    args.model_out = training.check_model_out(args.model_out, args.resume, args.overwrite)
    training.check_memory(build_model, args.image_size, args.batch_size)
    print(f"training on {len(train_paths)} images, validating on {len(val_paths)}, at {args.image_size}px, "
          f"{args.loss} loss")
    return train_paths, val_paths


def _with_more_photos(args, train_paths, val_paths):
    """(training, validation photos) with --more-train-images (each --more-train-repeat times) and
    --more-val-images added; InputError when a photo would be in both."""
    more_train = training.list_training_images(args.more_train_images) if getattr(args, "more_train_images", None) else []
    more_val = training.list_training_images(args.more_val_images) if getattr(args, "more_val_images", None) else []
    val_paths = sorted(set(val_paths) | set(more_val))
    both = (set(train_paths) | set(more_train)) & set(val_paths)
    if both:
        raise InputError(f"{len(both)} photos would be both trained on and validated on, e.g. {sorted(both)[0]}: "
                         "--more-train-images and --more-val-images must not overlap each other or --images")
    more_train = [path for path in more_train if path not in set(train_paths)]
    return sorted(train_paths) + more_train * getattr(args, "more_train_repeat", 1), val_paths


def _datasets(args, train_paths, val_paths, make_dataset, equal_batches=False):
    """(augmented, shuffled training batches; validation batches or None).

    equal_batches (several workers): every batch full, so that each worker gets its equal share; the
    last images of each (reshuffled) epoch that do not fill a batch wait for the next."""
    cache = {"on": True, "off": False}.get(getattr(args, "cache", "auto"), "auto")
    train_data = make_dataset(train_paths, args.image_size, args.batch_size, augment=True, shuffle=True,
                              **({"cache": cache} if cache != "auto" else {}))
    val_data = make_dataset(val_paths, args.image_size, args.batch_size) if val_paths else None
    if equal_batches:
        for name, paths in (("training", train_paths), ("validation", val_paths)):
            if paths and len(paths) < args.batch_size:
                raise InputError(f"with several workers every batch must be full: {len(paths)} {name} images "
                                 f"make no batch of {args.batch_size}; give a smaller --batch-size or more images")
        train_data = train_data.rebatch(args.batch_size, drop_remainder=True)
        val_data = val_data.rebatch(args.batch_size, drop_remainder=True) if val_data is not None else None
    return train_data, val_data


def _print_outcome(result, model_out):
    speed = result["images_per_second"]
    if not result["model_written"]:
        print(f"no epoch beat the best {result['monitor']} of before; the model at {model_out} is unchanged")
    print(
        f"best {result['monitor']} {result['best']:.5f}; model at {model_out}"
        + ("" if accel.is_chief() else " (written by worker 0)")
        + (f"; {speed:.2f} training images/s (median epoch)" if speed else "")
    )
