"""Grids: which datasets × architectures × encoders × codecs × folds to run.

A grid is a TOML file (named ones ship in ``benchsuite/grids/``). Each axis
lists names, glob patterns (``"*"`` is everything installed) or tables with
parameters (``{ name = "gaussian", sigma = 3 }``; list several to sweep).
Incompatible combinations are not errors: they are skipped with a reason.
"""
from __future__ import annotations

import fnmatch
import inspect
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from benchsuite import __version__
from benchsuite.api import PluginError
from benchsuite.plugins import Registry, signature_defaults
from benchsuite.protocol import Protocol, load_protocol
from benchsuite.run.cells import Cell, Component

AXES = ("datasets", "architectures", "encoders", "codecs")
CORE_PARAMETERS = {"architectures": ("pretrain",)}  # entry keys the core handles itself, not the plugin class
_GRID_KEYS = {"description", "protocol", "settings", "executor", *AXES}


@dataclass
class GridSpec:
    name: str
    description: str
    protocol: str
    settings: dict[str, Any]
    axes: dict[str, list[Any]]  # raw entries: names, patterns or tables
    executor: dict[str, Any] = field(default_factory=dict)  # name and options, e.g. Slurm resources


@dataclass
class Skipped:
    dataset: Component
    architecture: Component
    encoder: Component | None
    codec: Component | None
    reason: str

    def describe(self) -> str:
        parts = [c.label for c in (self.architecture, self.encoder, self.codec) if c is not None]
        return f"{self.dataset.label} | {'+'.join(parts)}: {self.reason}"


@dataclass
class Grid:
    spec: GridSpec
    protocol: Protocol
    cells: list[Cell] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # pattern matches left out, and why


def grid_names() -> list[str]:
    folder = resources.files("benchsuite") / "grids"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_spec(grid: str) -> GridSpec:
    """A named grid, or a path to the user's own TOML file."""
    path = Path(grid)
    if grid.endswith(".toml") or path.exists():
        if not path.is_file():
            raise PluginError(f"{grid}: grid file not found")
        text, name = path.read_text(), path.stem
    else:
        packaged = resources.files("benchsuite") / "grids" / f"{grid}.toml"
        if not packaged.is_file():
            raise PluginError(f"unknown grid {grid!r} (named grids: {', '.join(grid_names())}; or give a FILE.toml)")
        text, name = packaged.read_text(), grid
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(f"{grid}: not valid TOML: {exc}") from None
    unknown = set(data) - _GRID_KEYS
    if unknown:
        raise PluginError(f"{grid}: unknown grid keys {sorted(unknown)} (known: {sorted(_GRID_KEYS)})")
    axes = {}
    for axis in AXES:
        entries = data.get(axis, ["*"])
        axes[axis] = entries if isinstance(entries, list) else [entries]
    return GridSpec(
        name=name,
        description=data.get("description", ""),
        protocol=data.get("protocol", "kumar2022"),
        settings=dict(data.get("settings", {})),
        axes=axes,
        executor=dict(data.get("executor", {})),
    )


def _unusable(registry: Registry, axis: str, name: str) -> str | None:
    """Why a pattern-matched entry cannot run with its defaults, or None.

    A pattern ("*") means "everything that can run": entries needing
    parameters, and datasets whose files are not there, are left out (and
    said so) rather than turned into cells that are bound to fail.
    """
    cls = registry.get(axis, name).cls
    required = [key for key, default in signature_defaults(cls).items() if default is inspect.Parameter.empty]
    if required:
        return f"needs parameters: {', '.join(required)}"
    why = cls.unavailable()
    if why:
        return f"not available: {why}"
    if axis == "datasets":
        try:
            cls().samples()
        except PluginError as exc:
            return f"not available: {exc}"
    return None


def _components(registry: Registry, axis: str, entries: list[Any], pattern: str | None,
                notes: list[str]) -> list[Component]:
    """Resolve an axis's entries against what is installed, then filter."""
    result: list[Component] = []
    for entry in entries:
        if isinstance(entry, dict):
            params = dict(entry)
            name, label = params.pop("name", None), params.pop("label", None)
            if not isinstance(name, str):
                raise PluginError(f"a {axis} entry {entry!r} has no name")
            core = {key: params.pop(key) for key in CORE_PARAMETERS.get(axis, ()) if key in params}
            result.append(Component(name, registry.canonical(axis, name, params) | core, label))
        elif isinstance(entry, str) and any(ch in entry for ch in "*?["):
            for name in fnmatch.filter(registry.names(axis), entry):
                if pattern and not fnmatch.fnmatchcase(name, pattern):
                    continue
                reason = _unusable(registry, axis, name)
                if reason:
                    notes.append(f"{axis[:-1]} {name} left out of {entry!r}: {reason.split('; ')[0]}")
                else:
                    result.append(Component(name))
        elif isinstance(entry, str):
            registry.get(axis, entry)
            result.append(Component(entry))
        else:
            raise PluginError(f"a {axis} entry must be a name, a pattern or a table, got {entry!r}")
    if pattern:
        result = [c for c in result if fnmatch.fnmatchcase(c.name, pattern) or fnmatch.fnmatchcase(c.label, pattern)]
    return list(dict.fromkeys(result))


def encoder_incompatibility(arch_cls, encoder: Component | None) -> str | None:
    """Why an architecture cannot take this encoder (or no encoder), or None."""
    takes_encoder = arch_cls.encoder == "required"
    if encoder is not None and not takes_encoder:
        return f"{arch_cls.name} takes no encoder"
    if encoder is None and takes_encoder:
        return f"{arch_cls.name} needs an encoder and the grid lists none"
    return None


def codec_incompatibility(arch_cls, codec_cls) -> str | None:
    """Why an architecture cannot be trained with this codec (or none), or None."""
    if not arch_cls.outputs:
        return f"{arch_cls.name} is codec-free: it takes no codec" if codec_cls is not None else None
    if codec_cls is None:
        return f"{arch_cls.name} needs a codec and the grid lists none"
    if codec_cls.output not in arch_cls.outputs:
        produces = " or ".join(sorted(arch_cls.outputs))
        return f"codec {codec_cls.name} needs {codec_cls.output} output; {arch_cls.name} produces only {produces}"
    return None


def expand(
    spec: GridSpec,
    registry: Registry,
    filters: dict[str, str | None] | None = None,
    settings: dict[str, Any] | None = None,
) -> Grid:
    """The cross-product, minus incompatible combinations, times folds."""
    filters = filters or {}
    protocol = load_protocol(spec.protocol, spec.settings | dict(settings or {}))
    grid = Grid(spec=spec, protocol=protocol)
    axes = {axis: _components(registry, axis, spec.axes[axis], filters.get(axis), grid.notes) for axis in AXES}
    for dataset in axes["datasets"]:
        for arch in axes["architectures"]:
            arch_cls = registry.get("architectures", arch.name).cls
            for encoder in _with_none(axes["encoders"], arch_cls.encoder != "required"):
                reason = encoder_incompatibility(arch_cls, encoder)
                if reason:
                    grid.skipped.append(Skipped(dataset, arch, encoder, None, reason))
                    continue
                for codec in _with_none(axes["codecs"], not arch_cls.outputs):
                    codec_cls = registry.get("codecs", codec.name).cls if codec else None
                    reason = codec_incompatibility(arch_cls, codec_cls)
                    if reason:
                        grid.skipped.append(Skipped(dataset, arch, encoder, codec, reason))
                        continue
                    versions = _versions(registry, dataset, arch, encoder, codec)
                    for fold in range(protocol.folds):
                        grid.cells.append(Cell(dataset, arch, encoder, codec, fold, protocol, versions))
    return grid


def _with_none(components: list[Component], include_none: bool) -> list[Component | None]:
    return ([None] if include_none else []) + list(components)


def _versions(registry: Registry, dataset, arch, encoder, codec) -> dict[str, str]:
    """Versions of the plugins that provide this cell's components."""
    versions = {"benchsuite": __version__}
    for axis, comp in zip(AXES, (dataset, arch, encoder, codec)):
        if comp is not None:
            entry = registry.get(axis, comp.name)
            versions[entry.plugin] = entry.version
    return versions
