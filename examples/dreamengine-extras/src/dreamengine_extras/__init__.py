"""dreamengine-extras: an example third-party dreamengine plugin.

It adds, once installed (``pip install dreamengine-extras``):

* regularizer ``smooth`` -- a total-variation penalty with a ``squared`` option (the built-in ``tv`` has none);
* regularizer ``affine`` -- a random rotation and scaling before each forward pass;
* objective ``diverse-logit`` -- the target logit, minus how alike the batch items
  look at a layer, so one batch dreams several different takes on a class;
* initializers ``radial`` (a radial colour gradient) and ``checkerboard``;
* command ``dreamengine tv IMAGE...`` -- the total variation of image files, to
  compare how smooth dreams made with different settings are.

Each module holds one kind of component and knows nothing of plugins;
:mod:`dreamengine_extras.plugin` registers them with dreamengine's hooks and is
what the ``dreamengine`` entry point in ``pyproject.toml`` names.
"""
