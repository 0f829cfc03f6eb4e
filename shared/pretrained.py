"""The models that ship with the project, and making a trained model small enough to ship.

`--model beta` means the user's own models/beta.keras when it exists, otherwise
the shipped beta/pretrained.keras (the same for full_version; alpha ships none:
it learns the user's one image). Shipped files keep their weights in float16,
half the size of float32; Keras casts them back to float32 on loading, so they
load and run like any .keras file.

    python -m shared.pretrained models/beta.keras beta/pretrained.keras   # float16 copy, training log beside it
    python -m shared.pretrained models/beta.keras beta/pretrained.keras --temperature 0.6   # decoding it keeps
"""

import argparse
import io
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np

from shared import commands, inference

WEIGHTS_FILE = "model.weights.h5"  # inside a .keras zip


def float16_copy(source, destination):
    """Write `source` (.keras) to `destination` with every float32 weight stored as float16."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[WEIGHTS_FILE] = _weights_as_float16(members[WEIGHTS_FILE])
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    partial.replace(destination)


def _weights_as_float16(weights_h5):
    converted = io.BytesIO()
    with h5py.File(io.BytesIO(weights_h5), "r") as source, h5py.File(converted, "w") as target:
        _copy_attributes(source, target)

        def copy(name, item):
            if isinstance(item, h5py.Dataset):
                values = item[()]
                target.create_dataset(name, data=values.astype(np.float16) if values.dtype == np.float32 else values)
            else:
                target.require_group(name)
            _copy_attributes(item, target[name])

        source.visititems(copy)
    return converted.getvalue()


def _copy_attributes(source, target):
    for key, value in source.attrs.items():
        target.attrs[key] = value


def main(argv=None):
    parser = argparse.ArgumentParser(description="Copy a trained model with float16 weights, to ship it.")
    parser.add_argument("source", type=Path, help="a trained .keras model")
    parser.add_argument("destination", type=Path, help="where to write the float16 copy, e.g. beta/pretrained.keras")
    parser.add_argument("--temperature", type=float,
                        help="the annealed-mean temperature the copy keeps (classification models; default: the source's)")
    commands.add_restraint_arguments(parser)
    args = parser.parse_args(argv)
    restrained = args.neutral_prior is not None or args.restraint_midpoint is not None or args.restraint_width
    if args.temperature is None and not restrained:
        float16_copy(args.source, args.destination)
    else:
        with tempfile.TemporaryDirectory() as folder:
            tempered = Path(folder) / args.source.name
            model = inference.load_keras_file(args.source)
            if args.temperature is not None:
                inference.set_temperature(model, args.temperature, args.source)
            commands.set_restraint_from(args, model, args.source)
            model.save(tempered)
            float16_copy(tempered, args.destination)
    log = args.source.with_suffix(".log.csv")
    if log.exists():  # the report's training curves read it
        shutil.copyfile(log, args.destination.with_suffix(".log.csv"))
    megabytes = lambda path: path.stat().st_size / 1e6  # noqa: E731
    print(f"wrote {args.destination} ({megabytes(args.destination):.1f} MB, from {megabytes(args.source):.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
