"""dreamengine's built-in plugins.

Each module is a plugin registered exactly as a third party's would be (by
module name, from ``dreamengine.plugins.BUILTIN_PLUGINS``) and imports only
dreamengine's public API, so each is also a worked example for plugin authors.
"""
