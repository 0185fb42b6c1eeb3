"""benchsuite's own plugins, one subpackage per kind.

``datasets/`` (synthetic, folder, known datasets, their fetcher and the file
formats), ``networks/`` (encoders and architectures), ``codecs/``,
``metrics.py`` and ``executors/``. Each module is registered through the
``benchsuite`` entry-point group in ``pyproject.toml`` exactly as a
third-party package's plugin is; the core never imports these modules.
"""
