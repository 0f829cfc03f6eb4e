"""Colorize with the alpha tier (by default the one image it was trained on).

    python alpha/test.py [--model PATH] [--input FILE_OR_DIR] [--output DIR]
"""

from shared import cli, commands

DEFAULT_INPUT = cli.DATASETS / "alpha" / "picos_de_europa.jpg"


def main(argv=None):
    return commands.run_test("alpha", DEFAULT_INPUT, argv)


if __name__ == "__main__":
    cli.run(main)
