"""The engine: the gradient-ascent loop and the network it runs (model, folded norms, layers, checkpoints, class names).

It knows nothing of settings or files: a :class:`~dreamengine.DreamJob` in, a :class:`~dreamengine.DreamResult` out.
Importing this package imports no torch.
"""
