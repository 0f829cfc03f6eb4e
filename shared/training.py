"""The training loop every tier uses: progress, best-model checkpoints, a CSV log, and resume.

Files written beside the model (for models/beta.keras):
    models/beta.keras          the best model so far (lowest val_loss, or loss without validation)
    models/beta.log.csv        epoch, loss, val_loss per epoch (the report plots it)
    models/beta.state.keras    the latest training state with optimizer, for --resume
    models/beta.state.json     which epoch that state ended and the best value so far

Ctrl-C stops training, writes the best model and the training state, and says
how to continue; `--resume` continues from there, losing at most the epoch
that was running.
"""

import argparse
import contextlib
import csv
import json
import math
import os
import tempfile
import time
from pathlib import Path

import cv2
import keras
from tqdm.auto import tqdm

from shared import ab_bins, accel, cli, data, lab
from shared.data import InputError


def side_files(model_path):
    model_path = Path(model_path)
    stem = model_path.with_suffix("")
    return {
        "log": Path(f"{stem}.log.csv"),
        "state": Path(f"{stem}.state.keras"),
        "state_info": Path(f"{stem}.state.json"),
    }


def save_atomic(model, path):
    """Write a .keras file so that an interruption never leaves a broken one behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial.keras")
    model.save(partial)
    os.replace(partial, path)


def inference_model(model):
    """What is saved for colorizing: the model itself, or for a classification model
    the same layers with the decoding of bin logits into ab_norm appended."""
    return ab_bins.with_decoding(model) if ab_bins.is_classifier(model) else model


def read_log(log_path):
    if not Path(log_path).exists():
        return []
    with open(log_path, newline="") as f:
        return list(csv.DictReader(f))


class ProgressBar(keras.callbacks.Callback):
    """One bar over all epochs (loss, val_loss, time left) and one inside each long epoch."""

    def __init__(self, epochs, initial_epoch, steps_per_epoch, images_per_epoch):
        super().__init__()
        self.epochs, self.initial_epoch = epochs, initial_epoch
        self.steps_per_epoch, self.images_per_epoch = steps_per_epoch, images_per_epoch
        self.epoch_seconds = []

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, initial=self.initial_epoch, unit="epoch", dynamic_ncols=True)
        self.batch_bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        if self.steps_per_epoch and self.steps_per_epoch > 1:
            self.batch_bar = tqdm(total=self.steps_per_epoch, unit="batch", leave=False, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        if self.batch_bar is not None:
            self.batch_bar.update(1)
            self.batch_bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.5f}")

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self.epoch_start)
        if self.batch_bar is not None:
            self.batch_bar.close()
            self.batch_bar = None
        shown = {k: f"{v:.5f}" for k, v in (logs or {}).items() if k in ("loss", "val_loss")}
        self.bar.set_postfix(shown)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        for bar in (self.batch_bar, getattr(self, "bar", None)):
            if bar is not None:
                bar.close()
        self.batch_bar = None

    def images_per_second(self):
        """Median over epochs (the first one, which compiles the graph, left out when there are more)."""
        seconds = sorted(self.epoch_seconds[1:] or self.epoch_seconds)
        if not seconds or not self.images_per_epoch:
            return None
        return self.images_per_epoch / seconds[len(seconds) // 2]


class Checkpointer(keras.callbacks.Callback):
    """Keeps the best weights, and writes them and the training state at most every `interval_s`.

    Writing every epoch would dominate the alpha tier's one-image epochs; the
    last values are always written when training ends or is interrupted.
    """

    def __init__(self, model_path, monitor, best=math.inf, interval_s=30.0):
        super().__init__()
        self.model_path, self.files = Path(model_path), side_files(model_path)
        self.monitor, self.best, self.interval_s = monitor, best, interval_s
        self.best_weights, self.epochs_done = None, None
        self.last_write = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done = epoch + 1
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best:
            self.best, self.best_weights = float(value), self.model.get_weights()
        if time.monotonic() - self.last_write >= self.interval_s:
            self.write()

    def write(self):
        if self.epochs_done is None:
            return
        if self.best_weights is not None:
            best = keras.models.clone_model(self.model)  # uncompiled: no optimizer state, a third of the size
            best.set_weights(self.best_weights)
            save_atomic(inference_model(best), self.model_path)
            self.best_weights = None
        save_atomic(self.model, self.files["state"])
        info = {"epochs_done": self.epochs_done, "monitor": self.monitor, "best": self.best}
        self.files["state_info"].write_text(json.dumps(info))
        self.last_write = time.monotonic()


def fit(
    model,
    train_data,
    *,
    epochs,
    model_path,
    val_data=None,
    resume=False,
    steps_per_epoch=None,
    images_per_epoch=None,
    checkpoint_interval_s=30.0,
    fit_kwargs=None,
):
    """Train `model` up to `epochs` epochs in all, keeping the best model at `model_path`.

    With resume=True the model, optimizer and epoch count come from the last
    saved training state. Returns a dict with epochs_done, best and
    images_per_second.
    """
    if epochs <= 0:
        raise InputError(f"--epochs must be positive, got {epochs}")
    model_path = Path(model_path)
    if not accel.is_chief():  # multi-worker: every worker runs the same loop, only worker 0 keeps files
        model_path = Path(tempfile.mkdtemp(prefix="colorize-worker-")) / model_path.name
    files = side_files(model_path)
    monitor = "val_loss" if val_data is not None else "loss"

    initial_epoch, best = 0, math.inf
    if resume:
        if not files["state"].exists() or not files["state_info"].exists():
            raise InputError(f"nothing to resume: no training state at {files['state']} (train without --resume first)")
        info = json.loads(files["state_info"].read_text())
        initial_epoch, best = info["epochs_done"], info["best"]
        if info["monitor"] != monitor:
            best = math.inf
        if initial_epoch >= epochs:
            raise InputError(f"{model_path} has already trained {initial_epoch} epochs; ask for more with --epochs")
        model = keras.models.load_model(files["state"])
        print(f"resuming at epoch {initial_epoch + 1} of {epochs} from {files['state']}")
        _truncate_log(files["log"], initial_epoch)
    else:
        for path in files.values():
            path.unlink(missing_ok=True)
    model_path.parent.mkdir(parents=True, exist_ok=True)

    progress = ProgressBar(epochs, initial_epoch, steps_per_epoch, images_per_epoch)
    checkpointer = Checkpointer(model_path, monitor, best, checkpoint_interval_s)
    callbacks = [keras.callbacks.CSVLogger(str(files["log"]), append=resume), progress, checkpointer]
    x, y = train_data if isinstance(train_data, tuple) else (train_data, None)
    try:
        model.fit(
            x,
            y,
            validation_data=val_data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=0,
            shuffle=False,  # datasets shuffle themselves; alpha has one image
            **(fit_kwargs or {}),
        )
    except KeyboardInterrupt:
        progress.close()
        checkpointer.write()
        done = checkpointer.epochs_done or initial_epoch
        print(f"\nstopped after epoch {done}; best model at {model_path}; continue with --resume", flush=True)
        raise
    checkpointer.write()
    return {
        "model": model,
        "epochs_done": checkpointer.epochs_done,
        "best": checkpointer.best,
        "monitor": monitor,
        "images_per_second": progress.images_per_second(),
    }


def _truncate_log(log_path, n_epochs):
    """Drop log rows of epochs after the saved state, which are about to be trained again."""
    rows = read_log(log_path)
    if len(rows) <= n_epochs:
        return
    with open(log_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows[:n_epochs])


# --- the command line of the tiers that train on a folder of photos (beta, full_version) ----------

DEFAULT_TRAINING_IMAGES = (cli.DATASETS / "landscapes" / "train", cli.DATASETS / "landscapes" / "extra")


def build_train_parser(tier, description, epochs=100, batch_size=8, image_size=256, learning_rate=3e-4):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--images", type=Path, nargs="+", default=list(DEFAULT_TRAINING_IMAGES),
                        help="folders, images or list files of training photos (default: %(default)s)")
    parser.add_argument("--epochs", type=cli.positive_int, default=epochs, help="epochs in all (default: %(default)s)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=batch_size, help="(default: %(default)s)")
    parser.add_argument("--image-size", type=cli.positive_int, default=image_size,
                        help="training resolution in px (default: %(default)s)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=learning_rate, help="(default: %(default)s)")
    add_loss_argument(parser, default="classification")
    parser.add_argument("--val-share", type=float, default=0.1,
                        help="share of the images held out for validation (default: %(default)s)")
    parser.add_argument("--model-out", type=Path, default=cli.MODELS / f"{tier}.keras", help="(default: %(default)s)")
    parser.add_argument("--resume", action="store_true", help="continue the last interrupted training")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split (default: %(default)s)")
    add_speed_flags(parser)
    return parser


def add_loss_argument(parser, default):
    parser.add_argument(
        "--loss", choices=ab_bins.LOSSES, default=default,
        help="classification: a distribution over ab bins, rebalanced toward rare colours (vivid); "
             "regression: mean-squared error on ab (the reference design's, dull) (default: %(default)s)",
    )


def list_training_images(sources, min_side=1):
    """Every usable image of one or more folders, images or list files, each once, sorted."""
    sources = [sources] if isinstance(sources, (str, Path)) else sources
    return sorted({path for source in sources for path in data.list_images(source, min_side=min_side)})


def class_weights_for(paths, image_size, loss):
    """The rebalancing weights of these training images for the classification loss (None for regression).

    From each image's ab at the training size, un-augmented; the same images give the same weights.
    """
    if loss != "classification":
        return None

    def ab_at_training_size(path):
        rgb = cv2.resize(data.read_rgb(path), (image_size, image_size), interpolation=cv2.INTER_AREA)
        return lab.rgb_to_lab(rgb)[..., 1:]

    images = tqdm(paths, desc="colour histogram", unit="image", leave=False, dynamic_ncols=True, delay=2)
    return ab_bins.rebalancing_weights(ab_bins.bin_histogram(ab_at_training_size(p) for p in images))


def add_speed_flags(parser):
    parser.add_argument(
        "--precision", choices=accel.PRECISIONS, default="float32",
        help="bfloat16 computes in bfloat16 with float32 weights (about 2x faster on CPUs with native "
             "bfloat16, quality not yet measured); auto = bfloat16 on such CPUs, float32 elsewhere "
             "(default: %(default)s)",
    )
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
    make_dataset = make_dataset or data.make_dataset
    if args.image_size % 8:
        raise InputError(f"--image-size must be a multiple of 8, got {args.image_size}")
    if not 0 <= args.val_share < 1:
        raise InputError(f"--val-share must be in [0, 1), got {args.val_share}")
    strategy = accel.distribution_strategy()  # first: a multi-worker one must exist before TensorFlow runs
    paths = list_training_images(args.images)
    train_paths, val_paths = data.split_validation(paths, args.val_share, seed=args.seed)
    print(f"training on {len(train_paths)} images, validating on {len(val_paths)}, at {args.image_size}px, "
          f"{args.loss} loss")
    class_weights = None if args.resume else class_weights_for(train_paths, args.image_size, args.loss)
    cache = {"on": True, "off": False}.get(getattr(args, "cache", "auto"), "auto")
    train_data = make_dataset(train_paths, args.image_size, args.batch_size, augment=True, shuffle=True,
                              **({"cache": cache} if cache != "auto" else {}))
    val_data = make_dataset(val_paths, args.image_size, args.batch_size) if val_paths else None
    precision = accel.set_precision(getattr(args, "precision", "float32"))
    print(f"precision: {precision}")
    if strategy is not None:
        print(f"training on {strategy.num_replicas_in_sync} replicas with {type(strategy).__name__}; "
              f"global batch {args.batch_size}")
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = build_model(image_size=args.image_size, learning_rate=args.learning_rate, loss=args.loss,
                                class_weights=class_weights)
            result = fit(
                model,
                train_data,
                epochs=args.epochs,
                model_path=args.model_out,
                val_data=val_data,
                resume=args.resume,
                steps_per_epoch=math.ceil(len(train_paths) / args.batch_size),
                images_per_epoch=len(train_paths),
            )
    finally:
        keras.config.set_dtype_policy("float32")
    speed = result["images_per_second"]
    print(
        f"best {result['monitor']} {result['best']:.5f}; model at {args.model_out}"
        + (f"; {speed:.2f} training images/s (median epoch)" if speed else "")
    )
    return result
