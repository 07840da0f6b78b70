"""``python -m dreamengine`` and the ``dreamengine`` script: the command line, with Ctrl-C held while it loads."""

import sys

from dreamengine.interrupts import INTERRUPTED, interrupts_held


def main() -> None:
    """Load the command line with Ctrl-C held (:func:`~dreamengine.interrupts.interrupts_held`), then run it."""
    try:
        with interrupts_held():
            from dreamengine.cli import main as command_line
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    command_line()


if __name__ == "__main__":
    main()
