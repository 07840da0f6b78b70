"""dreamengine's built-in plugins.

Each module is a plugin registered exactly as a third party's would be (by
module name, from ``dreamengine.plugins.BUILTIN_PLUGINS``) and imports only
dreamengine's public API, so each is also a worked example for plugin authors.

The regularizers are grouped by what they do: ``transforms.py`` (what the network
sees in one step), ``penalties.py`` (added to the loss), ``gradients.py`` (the
gradient), ``projections.py`` and ``mask.py`` (the stored image after each step).
"""
