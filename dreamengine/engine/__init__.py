"""The engine: the gradient-ascent loop and the network it runs (model, folded norms, layers, checkpoints, class names).

It knows nothing of settings or files: a :class:`~dreamengine.DreamJob` in, a :class:`~dreamengine.DreamResult` out.
The names the flat ``dreamengine.engine`` module of the first release had (``run_job``, ``DreamJob``, ...) still
resolve here, with a :class:`DeprecationWarning` naming their new module; importing this package imports no torch.
"""

from dreamengine._moved import package_getattr

__all__: list[str] = []

__getattr__ = package_getattr(__name__)
