"""The training loop every tier uses: progress, best-model checkpoints, a CSV log, and resume.

Files written beside the model (for models/beta.keras):
    models/beta.keras          the best model so far (lowest val_loss, or loss without validation)
    models/beta.log.csv        epoch, loss, val_loss per epoch (the report plots it)
    models/beta.state.keras    the latest training state with optimizer, for --resume
    models/beta.state.json     which epoch that state ended and the best value so far

Ctrl-C stops training, writes the best model and the training state, and says
how to continue; `--resume` continues from there, losing at most the epoch
that was running. Further Ctrl-Cs while that is written wait until it is done;
every file is replaced atomically, so the previous complete one stays until
then. The best model, the state and the log always cover the same epochs.

A second run without --resume refuses to replace a trained model; --overwrite
starts afresh. A loss that is not a finite number stops training with an error.
"""

import contextlib
import csv
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import cv2
import keras
from tqdm.auto import tqdm

from shared import ab_bins, accel, cli, data, lab
from shared.data import InputError
from shared.inference import load_keras_file


def side_files(model_path):
    model_path = Path(model_path)
    stem = model_path.with_suffix("")
    return {
        "log": Path(f"{stem}.log.csv"),
        "state": Path(f"{stem}.state.keras"),
        "state_info": Path(f"{stem}.state.json"),
    }


def save_atomic(model, path):
    """Write a .keras file so that an interruption never leaves a broken one behind: the previous
    file stays until the new one is complete. A failure is an InputError, with no partial file left."""
    path = Path(path)
    partial = path.with_name(f".{path.stem}.partial.keras")
    _write_atomic(path, partial, lambda: model.save(partial))


def write_text_atomic(text, path):
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    _write_atomic(path, partial, lambda: partial.write_text(text))


def _write_atomic(path, partial, write):
    try:
        with interrupts_deferred():
            path.parent.mkdir(parents=True, exist_ok=True)
            write()
            os.replace(partial, path)
    except OSError as error:
        raise InputError(f"cannot write {path} ({error.strerror or error})") from error
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def interrupts_deferred(note=None):
    """Ctrl-C (SIGINT) inside the block does not stop it: the block finishes, then KeyboardInterrupt
    is raised (once, however many arrived). `note` is printed when one arrives. Nested blocks and
    threads other than the main one just run the block."""
    if threading.current_thread() is not threading.main_thread() or getattr(
        signal.getsignal(signal.SIGINT), "deferring", False
    ):
        yield
        return
    arrived = []

    def defer(signum, frame):
        arrived.append(signum)
        if note:
            print(note, file=sys.stderr, flush=True)

    defer.deferring = True
    previous = signal.signal(signal.SIGINT, defer)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if arrived and previous not in (signal.SIG_IGN, None):
        raise KeyboardInterrupt


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
    last values are always written when training ends or is interrupted. What
    is written is always as of the end of the last finished epoch, also when
    Ctrl-C stops the next one midway. A loss that is not a finite number stops
    training; `nonfinite` then says where, and that epoch is not counted.
    """

    def __init__(self, model_path, monitor, best=math.inf, interval_s=30.0):
        super().__init__()
        self.model_path, self.files = Path(model_path), side_files(model_path)
        self.monitor, self.best, self.interval_s = monitor, best, interval_s
        self.best_weights, self.epochs_done, self.best_epoch = None, None, None
        self.epoch_end = None  # (weights, optimizer variables) at the end of the last finished epoch
        self.nonfinite, self.model_written, self.current_epoch = None, False, 0
        self.last_write = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self._check_finite(self.current_epoch, "loss", (logs or {}).get("loss"))

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        with interrupts_deferred():  # the epoch's numbers and weights are taken all together, or not at all
            value = (logs or {}).get(self.monitor)
            if self.nonfinite or not self._check_finite(epoch, self.monitor, value):
                return
            weights = self.model.get_weights()
            self.epoch_end = (weights, [v.numpy() for v in self.model.optimizer.variables])
            if value is not None and value < self.best:
                self.best, self.best_weights, self.best_epoch = float(value), weights, epoch + 1
            self.epochs_done = epoch + 1
            if time.monotonic() - self.last_write >= self.interval_s:
                self.write()

    def _check_finite(self, epoch, name, value):
        """False, and training told to stop, once a loss is not a finite number."""
        if self.nonfinite is None and value is not None and not math.isfinite(value):
            self.nonfinite = (epoch + 1, name, float(value))
            self.model.stop_training = True
        return self.nonfinite is None

    def write(self):
        """Write the best model (if it changed), the training state and its info, as of the end of
        the last finished epoch; Ctrl-C waits until all three are written."""
        if self.epochs_done is None:
            return
        with interrupts_deferred("\nwriting the model and the training state; they will be complete in a moment"):
            weights, optimizer_values = self.epoch_end
            self.model.set_weights(weights)  # a no-op at an epoch's end; after Ctrl-C midway, the last finished one
            for variable, value in zip(self.model.optimizer.variables, optimizer_values):
                variable.assign(value)
            if self.best_weights is not None:
                best = keras.models.clone_model(self.model)  # uncompiled: no optimizer state, a third of the size
                best.set_weights(self.best_weights)
                save_atomic(inference_model(best), self.model_path)
                self.best_weights, self.model_written = None, True
            save_atomic(self.model, self.files["state"])
            info = {"epochs_done": self.epochs_done, "monitor": self.monitor, "best": self.best}
            write_text_atomic(json.dumps(info), self.files["state_info"])
            self.last_write = time.monotonic()


def fit(
    model,
    train_data,
    *,
    epochs,
    model_path,
    val_data=None,
    resume=False,
    overwrite=False,
    steps_per_epoch=None,
    images_per_epoch=None,
    checkpoint_interval_s=30.0,
    fit_kwargs=None,
):
    """Train `model` up to `epochs` epochs in all, keeping the best model at `model_path`.

    With resume=True the model, optimizer and epoch count come from the last
    saved training state. Without it, a trained model already at `model_path`
    is an InputError unless overwrite=True (see `check_model_out`).
    `steps_per_epoch` (batches) sizes the progress bar, and the epoch only for
    data that repeats forever (alpha's one batch): otherwise each epoch reads its
    data to the end, which may be shorter when a file cannot be decoded.
    Returns a dict with epochs_done, best, best_epoch and images_per_second.
    A loss that is not finite stops training and raises an InputError that
    says whether a model was written.
    """
    if epochs <= 0:
        raise InputError(f"--epochs must be positive, got {epochs}")
    model_path = check_model_out(model_path, resume, overwrite)
    if not accel.is_chief():  # multi-worker: every worker runs the same loop, only worker 0 keeps files
        model_path = Path(tempfile.mkdtemp(prefix="colorize-worker-")) / model_path.name
    files = side_files(model_path)
    monitor = "val_loss" if val_data is not None else "loss"

    if resume:
        model, initial_epoch, best = _resume_state(files, monitor, epochs, model_path)
    else:
        initial_epoch, best = 0, math.inf
        for path in files.values():
            path.unlink(missing_ok=True)
    model_path.parent.mkdir(parents=True, exist_ok=True)

    progress = ProgressBar(epochs, initial_epoch, steps_per_epoch, images_per_epoch)
    checkpointer = Checkpointer(model_path, monitor, best, checkpoint_interval_s)
    callbacks = [keras.callbacks.CSVLogger(str(files["log"]), append=resume), progress, checkpointer]
    x, y = train_data if isinstance(train_data, tuple) else (train_data, None)
    # Keras says this at the end of the first epoch of any dataset of unknown length (ours, as files
    # that cannot be decoded are left out); training goes on regardless
    warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
    try:
        model.fit(
            x,
            y,
            validation_data=val_data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch if data.is_endless(x) else None,
            callbacks=callbacks,
            verbose=0,
            shuffle=False,  # datasets shuffle themselves; alpha has one image
            **(fit_kwargs or {}),
        )
    except KeyboardInterrupt:
        with interrupts_deferred("\nwriting the model and the training state; they will be complete in a moment"):
            progress.close()
            done = _write_what_is_done(checkpointer, files["log"], initial_epoch)
            kept = f"best model at {model_path}" if model_path.exists() else "no model written yet"
            print(f"\nstopped after epoch {done}; {kept}; continue with --resume", flush=True)
        raise
    done = _write_what_is_done(checkpointer, files["log"], initial_epoch)
    _check_a_model_was_written(checkpointer, model_path)
    return {
        "model": model,
        "epochs_done": done,
        "best": checkpointer.best,
        "best_epoch": checkpointer.best_epoch,
        "model_written": checkpointer.model_written,
        "monitor": monitor,
        "images_per_second": progress.images_per_second(),
    }


def _check_a_model_was_written(checkpointer, model_path):
    """InputError when training ended on a loss that is not finite, or wrote no model; it says what is kept."""
    if checkpointer.nonfinite:
        epoch, name, value = checkpointer.nonfinite
        where = f" (epoch {checkpointer.best_epoch})" if checkpointer.best_epoch else ""
        kept = f"the best model so far{where} is at {model_path}" if model_path.exists() else "no model was written"
        raise InputError(f"training stopped in epoch {epoch}: {name} became {value} (not a finite number); "
                         f"try a lower --learning-rate; {kept}")
    if not model_path.exists():
        raise InputError(f"no model was written to {model_path}")


def _resume_state(files, monitor, epochs, model_path):
    """(model with its optimizer, epochs done, best value so far) from the last saved training state;
    the log loses the rows of any epoch after it, which is about to be trained again."""
    if not files["state"].exists() or not files["state_info"].exists():
        raise InputError(f"nothing to resume: no training state at {files['state']} (train without --resume first)")
    info = json.loads(files["state_info"].read_text())
    initial_epoch = info["epochs_done"]
    best = info["best"] if info["monitor"] == monitor else math.inf
    if initial_epoch >= epochs:
        raise InputError(f"{model_path} has already trained {initial_epoch} epochs; ask for more with --epochs")
    model = load_keras_file(files["state"], compile=True)
    print(f"resuming at epoch {initial_epoch + 1} of {epochs} from {files['state']}")
    _truncate_log(files["log"], initial_epoch)
    return model, initial_epoch, best


def _write_what_is_done(checkpointer, log_path, initial_epoch):
    """Write the best model and state of the finished epochs, and drop any log row of an epoch they
    do not include (Ctrl-C between the log and the checkpoint, or a loss that was not finite)."""
    checkpointer.write()
    done = checkpointer.epochs_done or initial_epoch
    if done == 0:
        Path(log_path).unlink(missing_ok=True)
    else:
        _truncate_log(log_path, done)
    return done


def check_model_out(model_path, resume=False, overwrite=False):
    """Check, before any work, where training will write; returns the path to use.

    `.keras` is added when the name lacks it (Keras loads nothing else). The
    file must be writable. Without `resume`, a trained model or training state
    already there is an InputError that says how to go on, unless `overwrite`:
    then that model, state and log are deleted now.
    """
    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        model_path = model_path.with_name(model_path.name + ".keras")
        print(f"note: writing the model to {model_path} (a Keras model file needs the .keras suffix)")
    cli.writable_file(model_path, "--model-out")
    files = side_files(model_path)
    if resume and overwrite:
        raise InputError("--resume continues a training and --overwrite starts afresh: give one of them")
    trained = [path for path in (model_path, files["state"]) if path.exists()]
    if trained and not resume and not overwrite:
        raise InputError(
            f"{trained[0]} already holds a trained model: continue its training with --resume, start afresh "
            "with --overwrite (deletes it), or write elsewhere with --model-out"
        )
    if overwrite:
        for path in (model_path, *files.values()):
            path.unlink(missing_ok=True)
    return model_path


def _truncate_log(log_path, n_epochs):
    """Drop log rows of epochs after the saved state, which are about to be trained again."""
    rows = read_log(log_path)
    if len(rows) <= n_epochs:
        return
    cli.write_csv(log_path, rows[:n_epochs], fieldnames=list(rows[0].keys()))


# --- the command line of the tiers that train on a folder of photos (beta, full_version) ----------

DEFAULT_TRAINING_IMAGES = tuple(cli.DATASETS / "landscapes" / name for name in ("train", "extra", "more"))

PROBE_SIZE = 64  # px: the size `check_memory` builds the network at to count its activations


def check_memory(build_model, image_size, batch_size, available=None):
    """InputError before any data is read when training `build_model` at `image_size` px would
    need more than the machine's free memory (`available` bytes; default MemAvailable).

    The estimate: every layer's float32 output for a batch, three times over (kept for the
    backward pass, its gradient, and working copies), plus the batch itself as RGB. It grows
    with the square of the size, so the network is built once, small, and scaled up.
    """
    available = available or _available_memory()
    if not available:
        return
    probe = build_model(image_size=PROBE_SIZE, learning_rate=1e-3)
    values = sum(math.prod(d for d in shape[1:] if d) for shape in _output_shapes(probe))
    scale = (image_size / PROBE_SIZE) ** 2
    needed = 4 * batch_size * (3 * values + 3 * PROBE_SIZE**2) * scale
    if needed > available:
        fits = int(image_size * math.sqrt(available / needed)) // 8 * 8
        raise InputError(
            f"--image-size {image_size} with --batch-size {batch_size} needs about {needed / 2**30:.1f} GiB to train, "
            f"more than the {available / 2**30:.1f} GiB of memory free: use --image-size {fits} or less, "
            "or a smaller --batch-size"
        )


def _output_shapes(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _output_shapes(layer)
        else:
            outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
            yield from (tuple(o.shape) for o in outputs)


def _available_memory():
    """Bytes of memory free for a new process (MemAvailable), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None


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

    def ab_at_training_size(rgb):
        return lab.rgb_to_lab(cv2.resize(rgb, (image_size, image_size), interpolation=cv2.INTER_AREA), fast=False)[..., 1:]

    images = tqdm(paths, desc="colour histogram", unit="image", leave=False, dynamic_ncols=True, delay=2)
    return ab_bins.rebalancing_weights(
        ab_bins.bin_histogram(ab_at_training_size(rgb) for _, rgb in data.read_images(images))
    )


