"""Discover plugins through the ``benchsuite`` entry-point group.

Every plugin, built-in or third-party, is an entry point whose module
implements some of the hooks in :mod:`benchsuite.hookspecs`. A plugin that
fails to import or to register is kept as *broken* with its error, so one bad
package never takes the whole suite down (``strict=True`` raises instead).
"""
from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass, field

import pluggy

from benchsuite import hookspecs
from benchsuite.api import KINDS, PluginError, Registered

ENTRY_POINT_GROUP = "benchsuite"


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None


class Registry:
    """Everything the installed plugins registered, by kind and name."""

    def __init__(self, plugins: list[PluginInfo], entries: dict[str, dict[str, Registered]]):
        self.plugins = plugins
        self._entries = entries

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str) -> list[Registered]:
        return [self._entries[kind][n] for n in self.names(kind)]

    def get(self, kind: str, name: str) -> Registered:
        try:
            return self._entries[kind][name]
        except KeyError:
            known = ", ".join(self.names(kind)) or "none"
            raise PluginError(f"unknown {kind[:-1]} {name!r} (installed: {known})") from None

    @property
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.broken]


def _describe(cls) -> str:
    text = getattr(cls, "description", None) or (cls.__doc__ or "").strip()
    return text.splitlines()[0] if text else ""


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def load_registry(strict: bool = False, entry_points=None) -> Registry:
    """Import every entry point and collect what its hooks register."""
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    pm = pluggy.PluginManager("benchsuite")
    pm.add_hookspecs(hookspecs)
    plugins: list[PluginInfo] = []
    for ep in sorted(entry_points, key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist else "?",
            version=dist.version if dist else "?",
        )
        plugins.append(info)
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except BaseException as exc:  # noqa: BLE001 - a plugin may raise anything at import
            if isinstance(exc, KeyboardInterrupt):
                raise
            info.error = _error_text(exc)
            continue
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            pm.unregister(name=ep.name)
            info.error = _error_text(exc)
            continue
        info.hooks = sorted(impl.name for impl in pm.get_hookcallers(module) or [])

    by_name = {p.name: p for p in plugins}
    entries: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
    for kind in KINDS:
        caller = getattr(pm.hook, f"register_{kind}")
        for impl in caller.get_hookimpls():
            info = by_name[impl.plugin_name]
            if info.broken:
                continue
            try:
                impl.function(register=_register_callback(kind, info, entries))
            except PluginError:
                raise
            except Exception as exc:  # noqa: BLE001
                info.error = f"register_{kind}: {_error_text(exc)}"
    _drop_broken(plugins, entries)
    broken = [p for p in plugins if p.broken]
    if strict and broken:
        raise PluginError("; ".join(f"plugin {p.name!r} is broken: {p.error}" for p in broken))
    return Registry(plugins, entries)


def _register_callback(kind: str, info: PluginInfo, entries: dict[str, dict[str, Registered]]):
    def register(cls) -> None:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls!r} has no string attribute 'name'")
        previous = entries[kind].get(name)
        if previous is not None:
            raise PluginError(
                f"{kind[:-1]} {name!r} is registered twice: by plugin {previous.plugin!r} "
                f"({previous.cls.__module__}) and by plugin {info.name!r} ({cls.__module__})"
            )
        entries[kind][name] = Registered(kind, name, cls, info.name, info.version, _describe(cls))
        info.registered.setdefault(kind, []).append(name)

    return register


def _drop_broken(plugins: list[PluginInfo], entries: dict[str, dict[str, Registered]]) -> None:
    """A plugin that failed half-way registers nothing at all."""
    broken = {p.name for p in plugins if p.broken}
    for kind_entries in entries.values():
        for name in [n for n, e in kind_entries.items() if e.plugin in broken]:
            del kind_entries[name]
    for p in plugins:
        if p.broken:
            p.registered = {}


@functools.cache
def registry(strict: bool = False) -> Registry:
    """The process-wide registry, loaded once."""
    return load_registry(strict=strict)
