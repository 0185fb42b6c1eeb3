"""Discover plugins through the ``benchsuite`` entry-point group, and check what they register.

Every plugin, built-in or third-party, is an entry point whose module
implements some of the hooks in :mod:`benchsuite.hookspecs`. Nothing a
plugin does can take the suite down: a plugin that fails to import or to
register is kept as *broken* with its error; a class that breaks its kind's
contract (:func:`benchsuite.api.contract_problems`) is *rejected* with the
member at fault; a name registered by two plugins is a *conflict*, usable by
neither until one is uninstalled. ``strict=True`` turns any of these into an
error. The registry is also the one place that turns a grid's parameters
into a plugin instance (:meth:`Registry.create`).
"""
from __future__ import annotations

import functools
import importlib.metadata
import inspect
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy

from benchsuite import hookspecs
from benchsuite.api import KINDS, PluginError, Registered, contract_problems

ENTRY_POINT_GROUP = "benchsuite"


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)  # "kind name (Class): reason", one per rejected class
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None


class Registry:
    """Everything the installed plugins registered, by kind and name."""

    def __init__(self, plugins: list[PluginInfo], entries: dict[str, dict[str, Registered]],
                 conflicts: dict[tuple[str, str], list[Registered]] | None = None):
        self.plugins = plugins
        self._entries = entries
        self.conflicts = conflicts or {}

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str) -> list[Registered]:
        return [self._entries[kind][n] for n in self.names(kind)]

    def get(self, kind: str, name: str) -> Registered:
        try:
            return self._entries[kind][name]
        except KeyError:
            if (kind, name) in self.conflicts:
                raise PluginError(_conflict_text(kind, name, self.conflicts[(kind, name)])) from None
            known = ", ".join(self.names(kind)) or "none"
            raise PluginError(f"unknown {kind[:-1]} {name!r} (installed: {known})") from None

    def method_kind(self, name: str) -> str:
        """Where a grid's architectures entry is registered: "methods" for a method of that name (the mean shape,
        dlib's shape predictor), else "architectures" (a network); an error naming both kinds when neither has it."""
        if name in self._entries["methods"] or ("methods", name) in self.conflicts:
            return "methods"
        if name in self._entries["architectures"] or ("architectures", name) in self.conflicts:
            return "architectures"
        known = ", ".join(sorted({*self.names("architectures"), *self.names("methods")})) or "none"
        raise PluginError(f"unknown architecture or method {name!r} (installed: {known})")

    def method_class(self, name: str) -> type:
        """The class a grid's architectures entry names: a method's, or a network architecture's."""
        return self.get(self.method_kind(name), name).cls

    def select(self, kind: str, predicate: Callable[[type], bool]) -> list[Registered]:
        """The registered classes of a kind that declare a capability (``predicate(cls)`` is true)."""
        return [e for e in self.entries(kind) if predicate(e.cls)]

    def the_one(self, kind: str, predicate: Callable[[type], bool], what: str) -> Registered:
        """The single registered class with a capability, e.g. the headline metric; an error naming them otherwise."""
        found = self.select(kind, predicate)
        if len(found) == 1:
            return found[0]
        if not found:
            raise PluginError(f"no installed {kind[:-1]} plugin is {what}")
        names = ", ".join(f"{e.name} ({e.distribution or e.plugin})" for e in found)
        raise PluginError(f"several installed {kind} are {what}: {names}; name the one to use")

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None):
        """An instance of a registered class from a grid's parameters, checked against its signature."""
        entry = self.get(kind, name)
        why = entry.cls.unavailable()
        if why:
            raise PluginError(f"{kind[:-1]} {name} is not available here: {why}")
        params = canonical_params(entry.cls, params or {}, f"{kind[:-1]} {name}")
        try:
            return entry.cls(**params)
        except PluginError:
            raise
        except (TypeError, ValueError) as exc:
            raise PluginError(f"{kind[:-1]} {name}: bad parameters {params}: {exc}") from None

    def canonical(self, kind: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters that identify an instance: checked, typed like the defaults, defaults left out."""
        return canonical_params(self.get(kind, name).cls, params, f"{kind[:-1]} {name}", drop_defaults=True)

    def including(self, kind: str, cls: type, plugin: str = "(not installed)", version: str = "?") -> "Registry":
        """This registry plus one class that no entry point registered (a plugin package's own tests, before it
        is installed); the class must fulfil its contract, and its name must be free or already this class's."""
        problems = contract_problems(kind, cls)
        if problems:
            raise PluginError(f"{kind[:-1]} {getattr(cls, 'name', cls)!r} breaks the contract: {'; '.join(problems)}")
        current = self._entries[kind].get(cls.name)
        if current is not None and current.cls is cls:
            return self
        if current is not None and _same_place(current.cls, cls):  # its module imported a second time
            plugin, version = current.plugin, current.version
            current = None
        holders = [current] if current is not None else self.conflicts.get((kind, cls.name), [])
        if holders:
            who = " and ".join(f"plugin {r.plugin!r} ({r.distribution or '?'} {r.version}, {r.cls.__module__})"
                               for r in holders)
            raise PluginError(f"{kind[:-1]} name {cls.name!r} is already registered by {who}: with both installed "
                              "neither can be used; choose another name")
        entries = {k: dict(v) for k, v in self._entries.items()}
        entries[kind][cls.name] = Registered(kind, cls.name, cls, plugin, version, _describe(cls), "")
        return Registry(self.plugins, entries, self.conflicts)

    @property
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.broken]

    def problems(self) -> list[str]:
        """One line per broken plugin, rejected class and conflicting name."""
        lines = [f"plugin {p.name!r} is broken and was skipped: {p.error}" for p in self.broken]
        lines += [f"plugin {p.name!r}: {reason}" for p in self.plugins for reason in p.rejected]
        lines += [_conflict_text(kind, name, regs) for (kind, name), regs in sorted(self.conflicts.items())]
        return lines


def _conflict_text(kind: str, name: str, registrations: list[Registered]) -> str:
    who = " and ".join(f"plugin {r.plugin!r} ({r.distribution or '?'} {r.version}, {r.cls.__module__})"
                       for r in registrations)
    return f"{kind[:-1]} {name!r} is registered twice, by {who}: uninstall one of them to use it"


def _same_place(one: type, other: type) -> bool:
    return (one.__module__, one.__qualname__) == (other.__module__, other.__qualname__)


def _describe(cls) -> str:
    text = getattr(cls, "description", None) or (cls.__doc__ or "").strip()
    return text.splitlines()[0] if isinstance(text, str) and text else ""


def _error_text(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}".rstrip(": ")


def load_registry(strict: bool = False, entry_points=None) -> Registry:
    """Import every entry point and collect what its hooks register."""
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    pm = pluggy.PluginManager("benchsuite")
    pm.add_hookspecs(hookspecs)
    plugins: list[PluginInfo] = []
    for ep in sorted(entry_points, key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        info = PluginInfo(name=ep.name, module=ep.value, distribution=dist.name if dist else "?",
                          version=dist.version if dist else "?")
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
    found: dict[str, dict[str, list[Registered]]] = {kind: {} for kind in KINDS}
    for kind in KINDS:
        caller = getattr(pm.hook, f"register_{kind}")
        for impl in caller.get_hookimpls():
            info = by_name[impl.plugin_name]
            if info.broken:
                continue
            mine: list[Registered] = []
            try:
                impl.function(register=_register_callback(kind, info, mine))
            except Exception as exc:  # noqa: BLE001 - a plugin that fails half-way registers nothing
                info.error = f"register_{kind}: {_error_text(exc)}"
                continue
            for entry in mine:
                found[kind].setdefault(entry.name, []).append(entry)
    entries: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
    conflicts: dict[tuple[str, str], list[Registered]] = {}
    for kind in KINDS:
        for name, registrations in found[kind].items():
            registrations = [r for r in registrations if not by_name[r.plugin].broken]
            if len(registrations) == 1:
                entries[kind][name] = registrations[0]
            elif registrations:
                conflicts[(kind, name)] = registrations
    for p in plugins:
        if p.broken:
            p.registered = {}
    registry = Registry(plugins, entries, conflicts)
    if strict and registry.problems():
        raise PluginError("; ".join(registry.problems()))
    return registry


def _register_callback(kind: str, info: PluginInfo, mine: list[Registered]):
    def register(cls) -> None:
        name = getattr(cls, "name", None)
        label = f"{kind[:-1]} {name!r} ({getattr(cls, '__qualname__', cls)!s})"
        problems = contract_problems(kind, cls)
        if problems:
            info.rejected.append(f"{label} breaks the {kind[:-1]} contract: {'; '.join(problems)}")
            return
        mine.append(Registered(kind, name, cls, info.name, info.version, _describe(cls), info.distribution))
        info.registered.setdefault(kind, []).append(name)

    return register


@functools.cache
def registry(strict: bool = False) -> Registry:
    """The process-wide registry, loaded once."""
    return load_registry(strict=strict)


# --- parameters ----------------------------------------------------------------------------------------


def signature_defaults(cls: type) -> dict[str, Any]:
    """Each constructor parameter and its default (``inspect.Parameter.empty`` when required)."""
    return {p.name: p.default for p in _init_parameters(cls)}


def _init_parameters(cls: type) -> list[inspect.Parameter]:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    return [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def canonical_params(cls: type, params: dict[str, Any], owner: str, drop_defaults: bool = False) -> dict[str, Any]:
    """Check parameters against the constructor: unknown and missing ones are errors, values are typed like
    the annotation (an int where a float is expected becomes a float). With ``drop_defaults`` a value equal
    to its default is left out, so ``gaussian``, ``{sigma = 5}`` and ``{sigma = 5.0}`` are one configuration."""
    parameters = {p.name: p for p in _init_parameters(cls)}
    try:
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        accepts_any = True
    unknown = [key for key in params if key not in parameters]
    if unknown and not accepts_any:
        known = ", ".join(parameters) or "none"
        raise PluginError(f"{owner}: unknown parameter {unknown[0]!r} (parameters: {known})")
    missing = [name for name, p in parameters.items() if p.default is p.empty and name not in params]
    if missing:
        raise PluginError(f"{owner}: missing parameter {missing[0]!r}")
    hints = _hints(cls)
    result = {}
    for key, value in params.items():
        param = parameters.get(key)
        value = _typed(value, hints.get(key, Any), f"{owner}: parameter {key!r}")
        if drop_defaults and param is not None and param.default is not param.empty and _same(value, param.default):
            continue
        result[key] = value
    return dict(sorted(result.items()))


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - an annotation we cannot evaluate is simply not checked
        return {}


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, float) and isinstance(default, (int, float)) and not isinstance(default, bool):
        return value == float(default)
    if isinstance(default, tuple) and isinstance(value, list):
        return list(default) == value
    return type(value) is type(default) and value == default


def _typed(value: Any, hint: Any, where: str) -> Any:
    """``value`` converted to the annotated type where that is lossless; an error when it cannot be."""
    if hint is Any or hint is inspect.Parameter.empty:
        return value
    origin = typing.get_origin(hint)
    options = typing.get_args(hint) if origin in (typing.Union, types.UnionType) else (hint,)
    errors = []
    for option in options:
        try:
            return _typed_one(value, option, where)
        except PluginError as exc:
            errors.append(exc)
    raise errors[0] if len(errors) == 1 else PluginError(f"{where} must be {_hint_text(hint)}, got {value!r}")


def _typed_one(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    bad = PluginError(f"{where} must be {_hint_text(hint)}, got {value!r}")
    if hint is type(None):
        if value is None:
            return None
        raise bad
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(float(value)):
                raise PluginError(f"{where} must be a finite number, got {value!r}")
            return float(value)
        raise bad
    if hint is str:
        if isinstance(value, str):
            return value
        raise bad
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise bad
        inner = args[0] if args and (origin is list or (len(args) == 2 and args[1] is Ellipsis)) else Any
        items = [_typed(v, inner, where) for v in value]
        return items if (origin or hint) is list else tuple(items)
    if origin is dict or hint is dict:
        if isinstance(value, dict):
            return value
        raise bad
    return value  # a type this check does not know: accepted as given


def _hint_text(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
