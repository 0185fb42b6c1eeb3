"""benchsuite's own plugins, one subpackage per kind.

``datasets/`` (synthetic, folder, known datasets, their fetcher and the file
formats), ``networks/`` (encoders and architectures), ``codecs/``,
``metrics.py`` and ``executors/``. Each module is registered through the
``benchsuite`` entry-point group in ``pyproject.toml`` exactly as a
third-party package's plugin is; the core never imports these modules.

Registering is cheap. The registry imports every module listed above, and
``benchsuite list``, ``leaderboard``, ``stats`` or ``compare`` need nothing
but the registered classes, so a registered module imports torch, timm,
segmentation-models-pytorch, torchvision and pandas only through
:func:`benchsuite.lazy.lazy_import`: ``torch = lazy_import("torch")`` at the
top, and the library loads the first time a method uses it. Classes that
*derive* from torch (``nn.Module``) cannot wait, so they live in a layer
module beside their plugin, ``networks/_<plugin>_layers.py`` (and the shared
``networks/heads.py``), which the plugin names the same way:
``layers = lazy_import("._unet_layers", __package__)``, then
``layers.UNet(...)`` in ``build()``. ``tests/test_startup.py`` fails when a
read-only command loads torch.
"""
