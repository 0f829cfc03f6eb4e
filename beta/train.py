"""Train the beta tier on a folder of photos, with augmentation.

    python beta/train.py --epochs 1000        # datasets/landscapes/train, extra and more; Ctrl-C, then --resume
"""

from beta.model import build_model
from shared import cli, commands


def main(argv=None):
    parser = commands.build_train_parser("beta", "Train the beta tier (encoder-decoder) on a folder of photos.")
    commands.train_on_folder(parser.parse_args(argv), build_model)
    return 0


if __name__ == "__main__":
    cli.run(main)
