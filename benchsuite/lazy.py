"""Modules imported when first used, so that importing a plugin stays cheap.

The registry imports every plugin module to learn what it registers, and
``benchsuite list``, ``leaderboard`` or ``stats`` need nothing else. A plugin
module therefore names its heavy libraries at the top, as usual, but through
:func:`lazy_import`::

    from benchsuite.lazy import lazy_import

    torch = lazy_import("torch")
    layers = lazy_import("._unet_layers", __package__)  # the module's nn.Module classes

and the library is imported the first time one of its attributes is used
(``torch.exp``, ``layers.UNet``), typically inside ``build()`` or a codec's
``loss()``. Type annotations that name it stay free under
``from __future__ import annotations``.
"""
from __future__ import annotations

import importlib
import importlib.util
import types


class LazyModule(types.ModuleType):
    """Stands for a module and imports it on the first attribute access."""

    def __init__(self, name: str, package: str | None = None):
        super().__init__(name)
        self._lazy_target = (name, package)

    def __getattr__(self, attribute: str):  # called only for what this stand-in does not have itself
        return getattr(importlib.import_module(*self._lazy_target), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {importlib.util.resolve_name(*self._lazy_target)}>"


def lazy_import(name: str, package: str | None = None) -> LazyModule:
    """``importlib.import_module(name, package)``, deferred until an attribute is used."""
    return LazyModule(name, package)
