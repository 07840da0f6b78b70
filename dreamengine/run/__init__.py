"""A run: from settings (:class:`~dreamengine.RunConfig`, presets, objective expressions) to a prepared job, through
the engine, to the files written (pictures carrying their settings).
"""
