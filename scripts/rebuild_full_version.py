"""Build full_version again from full_version/model.py with a trained model's weights copied in by
layer name: how a change to the layers without weights (the hint prior and its settings in
shared/hints.py) reaches a model already trained, without training it again.

    python scripts/rebuild_full_version.py models/fv_centred_bin25.keras models/fv_colour.keras --temperature 2.0
    python -m shared.pretrained models/fv_colour.keras full_version/pretrained.keras --temperature 2.0
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from full_version.model import NEUTRAL_LEAN, build_model  # noqa: E402
from full_version.train import copy_weights  # noqa: E402
from shared import ab_bins, commands, inference, training  # noqa: E402
from shared.layers import all_layers  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a trained full_version .keras file")
    parser.add_argument("destination", type=Path)
    parser.add_argument("--image-size", type=int, default=192, help="what the source was trained at (default: 192)")
    parser.add_argument("--temperature", type=float, default=ab_bins.DEFAULT_TEMPERATURE)
    commands.add_restraint_arguments(parser)
    args = parser.parse_args(argv)
    source = inference.load_keras_file(args.source)
    model = build_model(args.image_size, neutral_lean=NEUTRAL_LEAN in {layer.name for layer in all_layers(source)})
    copy_weights(source, model)
    restraint = {"neutral_prior": bool(args.neutral_prior), "restraint_midpoint": args.restraint_midpoint}
    if args.restraint_width is not None:
        restraint["restraint_width"] = args.restraint_width
    training.save_atomic(ab_bins.with_decoding(model, args.temperature, **restraint), args.destination)
    print(f"wrote {args.destination}: hint prior {model.get_layer('hint_prior').get_config()}")


if __name__ == "__main__":
    main()
