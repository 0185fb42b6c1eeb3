"""benchsuite's own plugins.

Each module here is one plugin family, registered through the ``benchsuite``
entry-point group in ``pyproject.toml`` exactly as a third-party package's
plugin is. The core never imports these modules.
"""
