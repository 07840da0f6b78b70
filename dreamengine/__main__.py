"""``python -m dreamengine``: the command line."""

from .cli import main

main()
