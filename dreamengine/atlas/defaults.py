"""An atlas's defaults that ``atlas --help`` shows: this module imports no torch (nor does the package until it is
called), so the help needs none."""

from __future__ import annotations

__all__ = ["DEFAULT_BATCH", "DEFAULT_EXAMPLES", "DEFAULT_SIDE"]

#: Units of one layer dreamt in one engine run unless ``--batch`` says otherwise (benchmarks/atlas.py measures it).
DEFAULT_BATCH = 16
#: The longer side of an atlas's dreams unless ``--size`` says, where the model's input is larger: Lucid's and
#: Microscope's feature visualizations are 128 pixels, and a layer page shows 96.
DEFAULT_SIDE = 128
#: Dataset examples kept per unit (and negatives, where asked for) unless ``--examples`` says otherwise.
DEFAULT_EXAMPLES = 8
