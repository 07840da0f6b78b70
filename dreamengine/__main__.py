"""``python -m dreamengine``: the command line."""

from dreamengine.cli import main

main()
