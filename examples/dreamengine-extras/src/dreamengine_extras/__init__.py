"""dreamengine-extras: an example third-party dreamengine plugin that teaches what the built-ins do not.

It adds, once installed (``pip install dreamengine-extras``):

* parametrization ``pyramid`` -- a parametrization of its own: the image as a
  Laplacian pyramid, so the optimizer moves large shapes as readily as pixels;
* model ``colours:NAME,NAME,...`` -- a model loader hook serving a tiny network
  of its own, built from the name, whose classes are colours;
* a run observer -- ``dreamengine_run_end`` writes a JSON sidecar of scores
  beside each run's files, when ``DREAMENGINE_EXTRAS_SIDECAR=1``;
* initializers ``radial`` (a radial colour gradient) and ``checkerboard``;
* command ``dreamengine tv IMAGE...`` -- the total variation of image files, to
  compare how smooth dreams made with different settings are.

Each module holds one kind of thing and knows nothing of plugins;
:mod:`dreamengine_extras.plugin` connects them to dreamengine's hooks and is
what the ``dreamengine`` entry point in ``pyproject.toml`` names.
"""
