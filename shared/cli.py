"""What every command-line script shares: paths, flags, and turning errors into messages."""

import argparse
import csv
import math
import sys
import tempfile
import warnings
from pathlib import Path

from shared.errors import InputError


REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = REPO_ROOT / "datasets"
MODELS = REPO_ROOT / "models"
RESULTS = REPO_ROOT / "results"
TIERS = ("alpha", "beta", "full_version")
DEFAULT_MODEL = "full_version"  # what `colorize`, the page, the batch job and the API use unless told: the best, and it takes hints


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not 0 < value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def writable_folder(folder, flag="--output"):
    """Create `folder` if needed and check that a file can be written in it, before any work
    starts; an InputError naming the flag otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"cannot write to {flag} {folder} ({error.strerror or error})") from error
    return folder


def writable_file(path, flag):
    """Check before any work that the file `path` can be written (its folder is created)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"cannot write {flag} {path}: it is a folder; give a file name")
    writable_folder(path.parent, flag)
    return path


def model_path(model):
    """A tier name (`beta`) means the user's own models/<tier>.keras when it exists, otherwise the
    model shipped with the project, <tier>/pretrained.keras, when there is one; anything else is a path."""
    if model not in TIERS:
        return Path(model)
    own, shipped = MODELS / f"{model}.keras", shipped_model_path(model)
    return shipped if shipped.exists() and not own.exists() else own


def shipped_model_path(tier):
    return REPO_ROOT / tier / "pretrained.keras"


def tier_of(model):
    """The tier a --model names: the name itself, or a path's file name without .keras."""
    return model if model in TIERS else Path(model).stem


def train_command(model):
    """The command that trains a tier's model, for error messages."""
    tier = tier_of(model)
    return f"python {tier}/train.py" if tier in TIERS else "python <tier>/train.py --model-out PATH"


def _format_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def run(main, argv=None):
    """Run a script's main(argv): user errors and Ctrl-C become one line and an exit code."""
    warnings.formatwarning = _format_warning
    try:
        code = main(argv)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = 130
    sys.exit(code or 0)


def write_csv(path, rows, fieldnames=None):
    """Rows (dicts with the same keys) as a CSV file with a header (`fieldnames`, default the first row's keys)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames or list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
