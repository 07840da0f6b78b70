"""Studies: grids of dreams (epochs x steps x classes ...), planned, rendered on an executor (local or Ray), and
shown as contact sheets and a gallery page.
"""

from dreamengine._moved import package_getattr

__all__: list[str] = []

__getattr__ = package_getattr(__name__)  # the names the flat module of the first release had, with a DeprecationWarning
