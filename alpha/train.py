"""Train the alpha tier on one image, then colorize that same image and show the gain.

    python alpha/train.py                       # datasets/alpha/picos_de_europa.jpg, 1000 epochs
    python alpha/train.py --image my.jpg --epochs 300
"""

import argparse
import time
from pathlib import Path

from alpha.model import build_model
from shared import ab_bins, cli, commands, data, inference, lab, layers, training

DEFAULT_IMAGE = cli.DATASETS / "alpha" / "picos_de_europa.jpg"


def training_data(rgb, min_side):
    """The one image as (train_data, steps_per_epoch) for `training.fit`: L/100 in, ab/128 out, padded
    to a multiple of `min_side`, held in memory (see `data.in_memory_pair`)."""
    l_norm, ab_norm = lab.split_lab(lab.rgb_to_lab(rgb, fast=False))  # training as before issue 27
    x = inference.pad_to_multiple(l_norm, min_side)[None]  # (1, H, W, 1), L/100
    y = inference.pad_to_multiple(ab_norm, min_side)[None]  # (1, H, W, 2), ab/128
    return data.in_memory_pair(x, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the alpha tier on one image and colorize it.")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="the one training image (default: %(default)s)")
    parser.add_argument("--epochs", type=cli.positive_int, default=1000, help="(default: %(default)s)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=1e-3, help="(default: %(default)s)")
    parser.add_argument("--model-out", type=Path, default=cli.MODELS / "alpha.keras", help="(default: %(default)s)")
    parser.add_argument("--output", type=Path, default=cli.RESULTS / "alpha", help="(default: %(default)s)")
    commands.add_loss_argument(parser, default="regression")
    parser.add_argument("--resume", action="store_true", help="continue the last interrupted training")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh even where --model-out already holds a trained model (deletes it)")
    args = parser.parse_args(argv)

    args.model_out = training.check_model_out(args.model_out, args.resume, args.overwrite)
    model = build_model(args.learning_rate, loss=args.loss)
    min_side = layers.total_stride(model)
    paths = data.list_images(args.image, min_side=min_side)
    if len(paths) != 1:
        raise data.InputError(f"alpha trains on one image; {args.image} holds {len(paths)}")
    results = commands.result_names(data.input_labels(paths, args.image))
    commands.check_output_folder(args.output, [args.image], paths, [*results, "metrics.csv", "comparison.png"])
    rgb = data.read_rgb(paths[0])
    train_data, steps = training_data(rgb, min_side)
    if args.loss == "classification" and not args.resume:  # weights from the one image's own colours
        counts = ab_bins.bin_histogram([lab.rgb_to_lab(rgb, fast=False)[..., 1:]])
        model = build_model(args.learning_rate, loss=args.loss, class_weights=ab_bins.rebalancing_weights(counts))

    start = time.perf_counter()
    training.fit(model, train_data, epochs=args.epochs, model_path=args.model_out, resume=args.resume,
                 overwrite=args.overwrite, steps_per_epoch=steps)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s; model at {args.model_out}")
    return commands.run_test(
        "alpha", DEFAULT_IMAGE, ["--model", str(args.model_out), "--input", str(paths[0]), "--output", str(args.output)]
    )


if __name__ == "__main__":
    cli.run(main)
