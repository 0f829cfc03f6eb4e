"""Colorize photos the beta tier never saw, at each photo's own size, and measure them.

    python beta/test.py [--model PATH] [--input FILE_OR_DIR] [--output DIR]
"""

from shared import cli, commands

DEFAULT_INPUT = cli.DATASETS / "landscapes" / "test"


def main(argv=None):
    return commands.run_test("beta", DEFAULT_INPUT, argv)


if __name__ == "__main__":
    cli.run(main)
