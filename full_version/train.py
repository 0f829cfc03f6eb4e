"""Train the full_version tier: EfficientNet-Lite0's ImageNet features, a decoder, and simulated users' hints.

    python full_version/train.py --epochs 100          # datasets/landscapes/train, extra and more; Ctrl-C, then --resume
    python full_version/train.py --init-from full_version --fine-tune --learning-rate 3e-5 --model-out models/full_version_ft.keras

The encoder's ImageNet weights ship with the project (shared/weights/), so this
runs offline. It first trains with the encoder frozen (everything but the
encoder learns); `--fine-tune` trains the encoder too, its BatchNorm statistics
kept as ImageNet left them, best from a frozen-encoder model (`--init-from`)
with a lower learning rate. Every training image gets a simulated user's hints
(shared/hints.py), drawn anew each epoch, for the hint path; the automatic
colours learn as they would without them (full_version/model.py). Validation
gives none, so the best model is the best automatic colorizer.
"""

import argparse
from functools import partial


from full_version.model import NEUTRAL_LEAN, TRAINING_OUTPUTS, build_model, unfreeze_encoder
from shared import cli, commands, data, hints
from shared.data import InputError
from shared.inference import load_model
from shared.layers import all_layers

DEFAULT_IMAGE_SIZE = 192  # px: EfficientNet's features at 1/32 are 6x6; 224 trains 2x slower on a 2-core CPU


def main(argv=None):
    parser = commands.build_train_parser("full_version", "Train the full_version tier on a folder of photos.",
                                         image_size=DEFAULT_IMAGE_SIZE)
    parser.add_argument(
        "--init-from", metavar="MODEL",
        help="start from a trained full_version model (`full_version`: your models/full_version.keras, else the "
             "shipped one; or a .keras path) instead of ImageNet's encoder and a random decoder",
    )
    parser.add_argument(
        "--fine-tune", action="store_true",
        help="train the ImageNet encoder too (its BatchNorm statistics stay as ImageNet left them); "
             "best with --init-from a frozen-encoder model and a lower --learning-rate such as 3e-5",
    )
    parser.add_argument(
        "--hints", action=argparse.BooleanOptionalAction, default=True,
        help="give every training image a simulated user's hints and, on some, its palette (default: on)",
    )
    args = parser.parse_args(argv)
    if args.init_from and args.resume:
        raise InputError("--init-from starts a new training; --resume continues one: give only one of them")
    if args.loss != "classification":
        raise InputError("full_version predicts colour classes; --loss regression is for alpha and beta")
    start = check_design(load_model(args.init_from)) if args.init_from else None
    build = partial(build_for_training, start=start, fine_tune=args.fine_tune)
    commands.train_on_folder(args, build, make_dataset=partial(hinted_dataset, simulate=args.hints))
    return 0


def build_for_training(image_size, learning_rate, *, start=None, fine_tune=False, **loss_options):
    model = build_model(image_size, learning_rate, **loss_options)
    if start is not None:
        copy_weights(start, model)
    return unfreeze_encoder(model, learning_rate) if fine_tune else model


def check_design(source):
    """`source` if it is a full_version model of this design, else an InputError saying so."""
    if not hints.takes_hints(source) or "encoder" not in {layer.name for layer in source.layers}:
        raise InputError(f"{source.name} is not a full_version model of this design (EfficientNet-Lite0 encoder, "
                         "hints): --init-from takes one that full_version/train.py trained")
    return source


def copy_weights(source, target, new_layers=(NEUTRAL_LEAN,)):
    """Set every layer of `target` that has weights from the layer of the same name in `source`; those
    named in `new_layers` that `source` lacks (added since it was trained) keep their initial weights."""
    source_layers = {layer.name: layer for layer in all_layers(source)}
    for layer in target.layers:
        if not layer.weights or (layer.name in new_layers and layer.name not in source_layers):
            continue
        match = source_layers.get(layer.name)
        if match is None or [w.shape for w in match.weights] != [w.shape for w in layer.weights]:
            raise InputError(f"{source.name} is not a full_version model of this design (EfficientNet-Lite0 "
                             f"encoder, a hint path of its own): it has no layer {layer.name!r} of the same shape")
        layer.set_weights(match.get_weights())


def hinted_dataset(paths, image_size, batch_size, augment=False, shuffle=False, simulate=True, **options):
    """Training batches carry a simulated user's hints (unless simulate=False); validation batches
    (not augmented) none. The true colours are the target of both the model's outputs."""
    hints = "simulated" if augment and simulate else "none"
    return data.make_dataset(paths, image_size, batch_size, augment=augment, shuffle=shuffle, hints=hints,
                             targets=TRAINING_OUTPUTS, **options)


if __name__ == "__main__":
    cli.run(main)
