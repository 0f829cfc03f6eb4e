"""Colorize photos the full_version tier never saw, at each photo's own size, and measure them.

    python full_version/test.py [--model PATH] [--input FILE_OR_DIR] [--output DIR]

The saved model records whether its global features are learned or come from
ImageNet; with ImageNet, InceptionResNetV2 (from Keras's cache) runs too.
"""

from shared import cli, commands

DEFAULT_INPUT = cli.DATASETS / "landscapes" / "test"


def main(argv=None):
    return commands.run_test("full_version", DEFAULT_INPUT, argv)


if __name__ == "__main__":
    cli.run(main)
