"""Measure trained colorizers against two baselines and write a report.

    python -m shared.evaluate [--model alpha beta ...] [--input DIR] [--output DIR]
    python shared/evaluate.py   (the same)

Each model colorizes the grayscale version (the L channel) of every photo in
--input, and every metric of `shared/metrics.py` compares the result with the
original. Two baselines go through the same metrics on the same images:

    grayscale (ab = 0)   the input itself, no colour at all
    training mean ab     the input's L with one constant ab: the pixel mean of a and b over --train-images

Written to --output (default results/report/):

    report.md            the table, which model beats both baselines, the figures
    metrics.csv          the table: mean of every metric over the images, per model and baseline, with the
                         neutral-scene cast (on the least colourful quarter of the originals: the results'
                         colourfulness / the originals') and how many images score below the grayscale input
                         on PSNR and on AuC
    per_image.csv        every metric for every image, model and baseline
    comparison.png       grayscale input, each model's result and the original, one row per image
    training_curves.png  loss and val_loss per epoch from each model's training log (<model>.log.csv)
"""

import argparse
import math
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from shared import ab_bins, cli, commands, figures, inference, lab, metrics
from shared.data import InputError, input_labels, list_images, read_images
from shared.training import DEFAULT_TRAINING_IMAGES, list_training_images, read_log, side_files

GRAYSCALE = "grayscale (ab = 0)"
MEAN_AB = "training mean ab"
BASELINES = (GRAYSCALE, MEAN_AB)

# (key, column title, which way is better, decimals); colourfulness itself has no better direction:
# it is compared with the originals' through the gap.
COLUMNS = (
    ("psnr", "PSNR (dB)", "higher", 2),
    ("ssim", "SSIM", "higher", 3),
    ("auc", "AuC (%)", "higher", 2),
    ("rebalanced_auc", "rebalanced AuC (%)", "higher", 2),
    ("ciede2000", "CIEDE2000", "lower", 2),
    ("colorfulness", "colorfulness", None, 1),
    ("colorfulness_gap", "colorfulness gap", "lower", 1),
    ("neutral_cast", "neutral-scene cast", None, 2),
    ("below_gray_psnr", "below gray (PSNR)", None, 0),
    ("below_gray_auc", "below gray (AuC)", None, 0),
)
NEUTRAL_SHARE = 0.25  # the neutral-scene cast looks at this share of a set: the least colourful originals
ARROWS = {"higher": " ↑", "lower": " ↓", None: ""}
REPORT_FILES = ("report.md", "metrics.csv", "per_image.csv", "comparison.png", "training_curves.png")


def build_parser():
    parser = argparse.ArgumentParser(
        description="Measure colorization models against the grayscale and training-mean baselines "
        "and write a report (table, CSV, comparison figure, training curves)."
    )
    parser.add_argument(
        "--model", nargs="+", default=None,
        help="tier names or .keras paths (default: every tier with a models/<tier>.keras or a shipped model)",
    )
    parser.add_argument(
        "--input", type=Path, default=cli.DATASETS / "landscapes" / "test",
        help="folder (or file) of colour photos to measure on (default: %(default)s)",
    )
    parser.add_argument(
        "--train-images", type=Path, nargs="+", default=list(DEFAULT_TRAINING_IMAGES),
        help="the training photos, for the mean-ab baseline (default: %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=cli.RESULTS / "report", help="report folder (default: %(default)s)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=8)
    parser.add_argument(
        "--temperature", type=float,
        help="annealed-mean temperature for the classification models (default: each model's own, 0.38)",
    )
    commands.add_restraint_arguments(parser)
    commands.add_precision_argument(parser)
    parser.add_argument(
        "--thumbnail-side", type=cli.positive_int, default=128,
        help="px, longest side of each image in comparison.png (default: %(default)s)",
    )
    parser.add_argument(
        "--figure-images", type=cli.positive_int, default=16,
        help="at most this many images (rows) in comparison.png (default: %(default)s)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    models = resolve_models(args.model)  # {label: tier name or path}
    colorizers = {label: inference.load_colorizer(model, args.batch_size, precision=args.precision)
                  for label, model in models.items()}
    if args.temperature is not None:  # for the models that decode a colour distribution
        for colorizer in colorizers.values():
            if ab_bins.decoding_layer(colorizer.model) is not None:
                inference.set_temperature(colorizer.model, args.temperature)
    for colorizer in colorizers.values():  # --neutral-prior, --restraint-*: where given, for those that decode
        if ab_bins.decoding_layer(colorizer.model) is not None:
            commands.set_restraint_from(args, colorizer.model, colorizer.model.name)
    paths = list_images(args.input, min_side=max(c.min_side for c in colorizers.values()))
    train_paths = list_training_images(args.train_images)
    commands.check_output_folder(args.output, [args.input, *args.train_images], [*paths, *train_paths], REPORT_FILES)
    mean_ab = training_mean_ab(train_paths)
    print(f"training mean ab over {_folders(args.train_images)}: a = {mean_ab[0]:.2f}, b = {mean_ab[1]:.2f}")

    per_image, figure_rows = measure(paths, colorizers, mean_ab, args)
    if not per_image:
        raise InputError(f"none of the {len(paths)} images in {args.input} could be decoded")
    paths = sorted({row["image"] for row in per_image})  # those measured
    methods = list(colorizers) + list(BASELINES)
    table = summarize(per_image, methods)
    verdicts = [verdict(label, table) for label in colorizers]

    cli.write_csv(args.output / "per_image.csv", per_image)
    cli.write_csv(args.output / "metrics.csv", [{"method": m, "images": len(paths), **table[m]} for m in methods])
    grid_columns = ["grayscale input"] + list(colorizers) + ["original"]
    figures.grid_figure(figure_rows, grid_columns, args.output / "comparison.png")
    notes = training_curves({label: cli.model_path(model) for label, model in models.items()},
                            args.output / "training_curves.png")
    if len(paths) > len(figure_rows):
        notes.append(f"comparison.png shows the first {len(figure_rows)} of {len(paths)} images (--figure-images)")
    for note in notes:
        warnings.warn(note, stacklevel=2)

    markdown = markdown_table(table, methods)
    original_colorfulness = originals_colorfulness(per_image)
    (args.output / "report.md").write_text(
        report_text(args, models, colorizers, len(paths), mean_ab, markdown, verdicts, notes, original_colorfulness),
        encoding="utf-8",
    )
    print(f"\nmean over {len(paths)} images from {args.input}:\n\n{markdown}\n")
    print(f"↑ higher is better, ↓ lower is better; the originals' colorfulness is {original_colorfulness:.1f}\n")
    print("\n".join(verdicts))
    print(f"\nwrote report.md, metrics.csv, per_image.csv and figures to {args.output}")
    return 0


def resolve_models(requested):
    """{label: model} for the requested tiers/paths, or every tier that has a trained model."""
    if not requested:
        requested = [tier for tier in cli.TIERS if cli.model_path(tier).exists()]
        if not requested:
            commands = ", ".join(f"`{cli.train_command(tier)}`" for tier in cli.TIERS)
            raise InputError(f"no trained model in {cli.MODELS}: train one first with {commands}, or pass --model PATH")
    models = {}
    for model in requested:
        label = cli.tier_of(model)
        if label in models or label in BASELINES:
            label = str(model)  # two paths with the same file name: tell them apart by the whole path
        models[label] = model
    return models


def _folders(paths):
    return " + ".join(str(p) for p in paths)


def training_mean_ab(paths):
    """The pixel mean of a and b over all images (each pixel counts once), one image in memory at a time."""
    ab_sum, pixels = np.zeros(2, np.float64), 0
    for _, rgb in tqdm(read_images(paths), total=len(paths), desc="training mean ab", unit="image",
                       dynamic_ncols=True, leave=False):  # a file that cannot be decoded is skipped
        ab = lab.rgb_to_lab(rgb)[..., 1:]
        ab_sum += ab.reshape(-1, 2).sum(axis=0, dtype=np.float64)
        pixels += ab.shape[0] * ab.shape[1]
    if not pixels:
        raise InputError(f"none of the {len(paths)} training images could be decoded")
    return ab_sum / pixels


def constant_ab_rgb(rgb, ab):
    """The image's own L with the same ab (two numbers, Lab units) everywhere, as uint8 RGB."""
    l_channel = lab.rgb_to_l(rgb)
    ab_norm = np.broadcast_to(np.asarray(ab, np.float32) / lab.AB_SCALE, l_channel.shape + (2,))
    return lab.merge_l_ab(l_channel, ab_norm)


def measure(paths, colorizers, mean_ab, args):
    """Every metric for every image and method, and the thumbnails of the comparison figure."""
    per_image, figure_rows = [], []
    labels = dict(zip(paths, input_labels(paths, args.input)))  # unique, also for same-named files in sub-folders
    with tqdm(total=len(paths), desc="evaluating", unit="image", dynamic_ncols=True) as bar:
        for start in range(0, len(paths), args.batch_size):
            readable = list(read_images(paths[start : start + args.batch_size]))  # broken files: warned, skipped
            chunk, originals = [p for p, _ in readable], [rgb for _, rgb in readable]
            bar.update(len(paths[start : start + args.batch_size]) - len(readable))
            results = {label: c.colorize(originals) for label, c in colorizers.items()}
            results[GRAYSCALE] = [lab.gray_rgb(x) for x in originals]
            results[MEAN_AB] = [constant_ab_rgb(x, mean_ab) for x in originals]
            for i, (path, original) in enumerate(zip(chunk, originals)):
                for method, images in results.items():
                    per_image.append({"image": labels[path], "method": method, **metrics.image_metrics(images[i], original)})
                if len(figure_rows) < args.figure_images:
                    row = [results[GRAYSCALE][i]] + [results[label][i] for label in colorizers] + [original]
                    figure_rows.append((labels[path], [figures.thumbnail(x, args.thumbnail_side) for x in row]))
                bar.update(1)
    return per_image, figure_rows


def summarize(per_image, methods):
    """{method: {metric: mean over images}}; the colourfulness gap is |mean M(results) - mean M(originals)|."""
    table = {}
    for method in methods:
        rows = [row for row in per_image if row["method"] == method]
        mean = {key: float(np.mean([row[key] for row in rows])) for key in rows[0] if key not in ("image", "method")}
        mean["colorfulness_gap"] = abs(mean["colorfulness"] - mean["colorfulness_original"])
        mean["neutral_cast"] = neutral_scene_cast(rows)
        below = below_gray(per_image, method)
        mean["below_gray_psnr"], mean["below_gray_auc"] = below["psnr"], below["auc"]
        table[method] = {key: mean[key] for key, *_ in COLUMNS}
    return table


def neutral_scene_cast(rows, share=NEUTRAL_SHARE):
    """One method's rows -> on the `share` of the images whose originals are least colourful (at least one),
    the mean colourfulness of its results divided by the originals' mean colourfulness: 1 keeps neutral
    scenes as neutral as they were, 2 paints them twice as colourful. NaN when those originals have none."""
    least = sorted(rows, key=lambda row: row["colorfulness_original"])[: max(1, math.ceil(share * len(rows)))]
    original = float(np.mean([row["colorfulness_original"] for row in least]))
    return float(np.mean([row["colorfulness"] for row in least])) / original if original > 0 else math.nan


def below_gray(per_image, method, keys=("psnr", "auc")):
    """{metric: how many images the method scores strictly below the grayscale input on}."""
    gray = {row["image"]: row for row in per_image if row["method"] == GRAYSCALE}
    rows = [row for row in per_image if row["method"] == method]
    return {key: sum(row[key] < gray[row["image"]][key] for row in rows) for key in keys}


def originals_colorfulness(per_image):
    return float(np.mean([row["colorfulness_original"] for row in per_image if row["method"] == GRAYSCALE]))


def beats(value, other, better):
    return value > other if better == "higher" else value < other


def verdict(label, table):
    """One line: does the model beat both baselines, and on which metrics not."""
    misses = []
    for key, title, better, decimals in COLUMNS:
        if better is None:
            continue
        lost = [b for b in BASELINES if not beats(table[label][key], table[b][key], better)]
        if lost:
            versus = ", ".join(f"{b} {table[b][key]:.{decimals}f}" for b in lost)
            misses.append(f"{title} {table[label][key]:.{decimals}f} vs {versus}")
    if not misses:
        return f"{label}: beats both baselines on every metric."
    return f"{label}: does NOT beat both baselines; behind or level on {'; '.join(misses)}."


def markdown_table(table, methods):
    header = ["method"] + [title + ARROWS[better] for _, title, better, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        cells = [method] + [f"{table[method][key]:.{decimals}f}" for key, _, _, decimals in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_text(args, models, colorizers, n_images, mean_ab, markdown, verdicts, notes, original_colorfulness):
    model_list = ", ".join(
        f"{label} (`{cli.model_path(model)}`, {ab_bins.loss_of(colorizer.model)} loss)"
        for (label, model), colorizer in zip(models.items(), colorizers.values())
    )
    lines = [
        "# Colorization report",
        "",
        f"Models: {model_list}. Images: {n_images} from `{args.input}`. "
        f"Mean-ab baseline: a = {mean_ab[0]:.2f}, b = {mean_ab[1]:.2f} (pixel mean over `{_folders(args.train_images)}`).",
        "",
        markdown,
        "",
        "Means over the images. ↑ higher is better (PSNR, SSIM, AuC), ↓ lower is better (CIEDE2000, colorfulness gap). "
        f"Colorfulness has no better direction by itself; the originals' is {original_colorfulness:.1f}, "
        "and the gap is the distance to it. PSNR and SSIM are on 8-bit RGB; AuC is the area under the "
        "cumulative ab-error curve for thresholds 0..150 (Zhang et al. 2016); rebalanced AuC weighs each pixel by "
        "the inverse frequency of its true colour's ab bin in its image, so rare saturated colours count as "
        "much as common dull ones and a grey guess no longer scores well. "
        f"The neutral-scene cast is, on the {NEUTRAL_SHARE:.0%} of the images whose originals are least colourful, "
        "the results' mean colorfulness divided by the originals' (1.0: neutral scenes stay as neutral as they are; "
        "2.0: painted twice as colourful). Below gray counts the images on which the method scores strictly below "
        f"the grayscale input itself, on PSNR and on AuC (out of {n_images}).",
        "",
        *[f"- {line}" for line in verdicts],
        "",
        "![comparison](comparison.png)",
        "",
    ]
    if (args.output / "training_curves.png").exists():
        lines += ["![training curves](training_curves.png)", ""]
    if notes:
        lines += ["Notes:", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(lines)


# --- figures ------------------------------------------------------------------------------


def read_curve(log_path):
    """(epochs, loss, val_loss) from a training log; epochs count from 1; missing values are NaN."""

    def number(text):
        try:
            return float(text)
        except (TypeError, ValueError):  # "NA" or empty: Keras writes NA for a val_loss it did not compute
            return math.nan

    rows = read_log(log_path)
    epochs = np.array([number(row.get("epoch")) + 1 for row in rows])
    loss = np.array([number(row.get("loss")) for row in rows])
    val_loss = np.array([number(row.get("val_loss")) for row in rows])
    return epochs, loss, val_loss


def training_curves(model_files, path):
    """One panel per model with a training log; returns notes about the models left out."""
    Path(path).unlink(missing_ok=True)  # no stale figure from an earlier report when no log is left
    curves, notes = {}, []
    for label, model_file in model_files.items():
        log_path = side_files(model_file)["log"]
        if not log_path.exists():
            notes.append(f"no training log for {label} at {log_path}: its training curve is left out")
            continue
        epochs, loss, val_loss = read_curve(log_path)
        if not np.isfinite(loss).any():
            notes.append(f"the training log {log_path} has no loss values: {label}'s training curve is left out")
            continue
        curves[label] = (epochs, loss, val_loss)
    if not curves:
        return notes

    plt = figures.pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3), squeeze=False)
    for ax, (label, (epochs, loss, val_loss)) in zip(axes[0], curves.items()):
        ax.plot(epochs, loss, label="loss (training)")
        if np.isfinite(val_loss).any():
            ax.plot(epochs, val_loss, label="val_loss (validation)")
        if np.nanmin(np.concatenate([loss, val_loss])) > 0:
            ax.set_yscale("log")
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return notes


if __name__ == "__main__":
    cli.run(main)
