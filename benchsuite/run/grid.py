"""Grids: which datasets × architectures × encoders × codecs × folds to run.

A grid is a TOML file (named ones ship in ``benchsuite/grids/``). Each axis
lists names, glob patterns (``"*"`` is everything installed) or tables with
parameters (``{ name = "gaussian", sigma = 3 }``; list several to sweep).
Incompatible combinations are not errors: they are skipped with a reason.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from benchsuite import __version__, api, weights
from benchsuite.api import PluginError, extent
from benchsuite.components import is_file_record, split_entry
from benchsuite.plugins import Registry, signature_defaults
from benchsuite.protocol import TRAINING_SETTINGS, VALIDATION_SETTING, Protocol, load_protocol
from benchsuite.run.cells import Cell, Component
from benchsuite.splits import SplitTable, digest, read_split_table

AXES = ("datasets", "architectures", "encoders", "codecs")
_GRID_KEYS = {"description", "protocol", "settings", "executor", "select", "methods", *AXES}
SELECTABLE = {"dataset", "architecture", "encoder", "codec"}  # select = ["codec.sigma"]: <axis>.<parameter>


@dataclass
class GridSpec:
    name: str
    description: str
    protocol: str
    settings: dict[str, Any]
    axes: dict[str, list[Any]]  # raw entries: names, patterns or tables
    executor: dict[str, Any] = field(default_factory=dict)  # name and options, e.g. Slurm resources
    select: tuple[str, ...] = ()  # parameters chosen per fold on validation error, e.g. ("codec.sigma",)
    methods: list[dict[str, Any]] = field(default_factory=list)  # explicit combinations instead of a cross-product


@dataclass
class Skipped:
    dataset: Component
    architecture: Component
    encoder: Component | None
    codec: Component | None
    reason: str

    @property
    def method(self) -> str:
        """Architecture, encoder and codec as one readable label, as a cell's."""
        return "+".join(c.label for c in (self.architecture, self.encoder, self.codec) if c is not None)

    def describe(self) -> str:
        return f"{self.dataset.label} | {self.method}: {self.reason}"


@dataclass
class Grid:
    spec: GridSpec
    protocol: Protocol
    cells: list[Cell] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    skipped_methods: list[tuple] = field(default_factory=list)
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
        try:
            text, name = path.read_text(encoding="utf-8"), path.stem
        except UnicodeDecodeError as exc:
            raise PluginError(f"{grid}: not a text file (byte {exc.start} is not UTF-8); a grid is a TOML file") from None
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
        select=_selection(data.get("select", []), grid),
        methods=_method_entries(data.get("methods", []), grid, data),
    )


def _method_entries(entries: Any, grid: str, data: dict) -> list[dict[str, Any]]:
    """``methods = [{ architecture = ..., encoder = ..., codec = ... }]``: exactly these combinations."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PluginError(f"{grid}: methods must be a list of tables with architecture, encoder and codec")
    if "methods" in data and not entries:
        raise PluginError(f"{grid}: methods = [] lists no method; list the methods to run, or remove it to run "
                          "the architectures × encoders × codecs product")
    for entry in entries:
        unknown = set(entry) - {"architecture", "encoder", "codec", "min_downscale"}
        if unknown or "architecture" not in entry:
            raise PluginError(f"{grid}: a methods entry needs an architecture and may have an encoder, a codec and "
                              f"min_downscale, got {sorted(entry)}")
        least = entry.get("min_downscale", 1)
        if isinstance(least, bool) or not isinstance(least, (int, float)) or not least >= 1:
            raise PluginError(f"{grid}: min_downscale must be a number >= 1 (original pixels per input pixel), "
                              f"got {least!r}")
    if entries and {"architectures", "encoders", "codecs"} & set(data):
        raise PluginError(f"{grid}: give either methods or the architectures/encoders/codecs axes, not both")
    return list(entries)


def _selection(entries: Any, grid: str) -> tuple[str, ...]:
    """``select = ["codec.sigma"]``: parameters whose value is chosen per fold on validation, never on test."""
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise PluginError(f"{grid}: select must be a list of \"axis.parameter\" texts, e.g. [\"codec.sigma\"]")
    for entry in entries:
        axis, _, param = entry.partition(".")
        if axis not in SELECTABLE or not param:
            raise PluginError(f"{grid}: select entry {entry!r} must be <axis>.<parameter> with axis one of "
                              f"{', '.join(sorted(SELECTABLE))}")
    return tuple(entries)


def _unusable(registry: Registry, axis: str, name: str) -> str | None:
    """Why a pattern-matched entry cannot run with its defaults, or None.

    A pattern ("*") means "everything that can run": entries needing
    parameters, and datasets whose files are not there, are left out (and
    said so) rather than turned into cells that are bound to fail.
    """
    cls = registry.get(_kind(registry, axis, name), name).cls
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


def components(registry: Registry, axis: str, entries: list[Any], pattern: str | None,
                notes: list[str]) -> list[Component]:
    """Resolve an axis's entries against what is installed, then filter."""
    result: list[Component] = []
    for entry in entries:
        if isinstance(entry, dict):
            name, params, core, label = split_entry(axis, entry)
            if not isinstance(name, str):
                raise PluginError(f"a {axis} entry {entry!r} has no name")
            if "splits" in core:
                core["splits"] = _split_file(core["splits"])
            kind = _kind(registry, axis, name)
            params = _weights_by_content(registry, kind, name, registry.canonical(kind, name, params))
            result.append(Component(name, params | core, label))
        elif isinstance(entry, str) and any(ch in entry for ch in "*?["):
            for name in fnmatch.filter(_names(registry, axis), entry):
                if pattern and not fnmatch.fnmatchcase(name, pattern):
                    continue
                reason = _unusable(registry, axis, name)
                if reason:
                    notes.append(f"{axis[:-1]} {name} left out of {entry!r}: {reason.split('; ')[0]}")
                else:
                    result.append(Component(name))
        elif isinstance(entry, str):
            registry.get(_kind(registry, axis, entry), entry)
            result.append(Component(entry))
        else:
            raise PluginError(f"a {axis} entry must be a name, a pattern or a table, got {entry!r}")
    if pattern:
        result = [c for c in result if fnmatch.fnmatchcase(c.name, pattern) or fnmatch.fnmatchcase(c.label, pattern)]
    return list(dict.fromkeys(result))


def _kind(registry: Registry, axis: str, name: str) -> str:
    """The registry kind of an axis entry: the architectures axis also lists methods (the mean shape, dlib)."""
    return registry.method_kind(name) if axis == "architectures" else axis


def _names(registry: Registry, axis: str) -> list[str]:
    """What a pattern on an axis can match: on the architectures axis, networks and methods alike."""
    return sorted({*registry.names(axis), *registry.names("methods")}) if axis == "architectures" else \
        registry.names(axis)


def reads(method_cls, selecting: bool) -> frozenset[str]:
    """The protocol settings a cell's result depends on besides the split: everything for the core's network
    method, a method's own declaration otherwise; the validation cut where validation is held out (a method
    that stops early on it, or any candidate of a nested selection)."""
    if issubclass(method_cls, api.Architecture):
        return TRAINING_SETTINGS
    held_out = method_cls.uses_validation or selecting
    return frozenset(method_cls.reads) | ({VALIDATION_SETTING} if held_out else set())


def encoder_incompatibility(arch_cls, encoder: Component | None) -> str | None:
    """Why an architecture cannot take this encoder (or no encoder), or None."""
    takes_encoder = getattr(arch_cls, "encoder", "none") == "required"  # a method takes none
    if encoder is not None and not takes_encoder:
        return f"{arch_cls.name} takes no encoder"
    if encoder is None and takes_encoder:
        return f"{arch_cls.name} needs an encoder and the grid lists none"
    return None


def codec_incompatibility(arch_cls, codec_cls) -> str | None:
    """Why an architecture cannot be trained with this codec (or none), or None."""
    if not issubclass(arch_cls, api.Architecture):
        return f"{arch_cls.name} is a method of its own: it takes no codec" if codec_cls is not None else None
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
    datasets = components(registry, "datasets", spec.axes["datasets"], filters.get("datasets"), grid.notes)
    methods = list(_methods(spec, registry, filters, grid))
    for dataset in datasets:
        table = split_table(registry, dataset)
        cell_protocol, sizes = _for_dataset(protocol, registry, dataset, any(m[3] > 1 for m in methods))
        for arch, encoder, codec, least in methods:
            downscale = _downscale(sizes, cell_protocol) if least > 1 else least
            if downscale < least:
                grid.skipped.append(Skipped(dataset, arch, encoder, codec,
                                            f"for images at least {least:g}× the network input; these are "
                                            f"{downscale:.2f}× {'×'.join(map(str, extent(cell_protocol.input_size)))}"))
                continue
            versions = _versions(registry, dataset, arch, encoder, codec)
            defaults = _defaults(registry, spec.select, dataset, arch, encoder, codec)
            settings = reads(registry.method_class(arch.name), bool(spec.select))
            for fold in range(len(table.folds) if table else protocol.folds):
                grid.cells.append(Cell(dataset, arch, encoder, codec, fold, cell_protocol, versions,
                                       select=spec.select, select_defaults=defaults, reads=settings))
        for arch, encoder, codec, reason in grid.skipped_methods:
            grid.skipped.append(Skipped(dataset, arch, encoder, codec, reason))
    _check_labels(grid.cells)
    _check_selection(grid)
    return grid


def _weights_by_content(registry: Registry, kind: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A ``weights`` parameter that names a file (a path, or "imagenet" for a plugin that declares its file)
    recorded with the file's sha256, so that the file's content, not its path, is part of the cells' identity;
    the same for the plugin tables a method declares nested in its parameters (``nested``); a missing,
    unreadable or tampered file is an error now, before anything runs."""
    cls = registry.get(kind, name).cls
    for key, nested_kind in getattr(cls, "nested", {}).items():
        inner = params.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            inner_params = {k: v for k, v in inner.items() if k != "name"}
            params = params | {key: {"name": inner["name"]} | _weights_by_content(registry, nested_kind,
                                                                                    inner["name"], inner_params)}
    if not isinstance(params.get("weights"), str):
        return params
    pretrained = getattr(cls, "pretrained", None)
    if params["weights"] == weights.IMAGENET and weights.unavailable(pretrained):
        return params  # left as it is: the method is skipped as unavailable here (_unavailable), the rest runs
    return params | {"weights": weights.identified(f"{kind[:-1]} {name}", params["weights"], pretrained)}


def _split_file(value: Any) -> dict[str, str]:
    """A dataset entry's ``splits = "FILE.csv"``: its path and the digest of its content (part of the identity)."""
    if is_file_record(value):
        return value
    if not isinstance(value, str) or not value:
        raise PluginError(f"splits must be the path of a CSV file, got {value!r}")
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise PluginError(f"{value}: split file not found")
    return {"file": str(path), "sha256": digest(path)}


def split_table(registry: Registry, dataset: Component, instance=None) -> SplitTable | None:
    """The user's split for a dataset entry, checked against its samples; None for the usual k-fold."""
    spec = dataset.core("splits")
    if not spec:
        return None
    if digest(Path(spec["file"])) != spec["sha256"]:
        raise PluginError(f"{spec['file']}: the split file changed since the grid was loaded")
    instance = instance or registry.create("datasets", dataset.name, dataset.plugin_params)
    # A run names the dataset by its label, which carries the split file; another run's splits.csv, written
    # without one, names it by its label without it: either selects the rows.
    plain = dataclasses.replace(dataset, params={k: v for k, v in dataset.params.items() if k != "splits"})
    return read_split_table(Path(spec["file"]), [s.id for s in instance.samples()], (dataset.label, plain.label))


def _defaults(registry: Registry, select: tuple[str, ...], *components: Component | None) -> dict[str, Any]:
    """The default of each selected parameter, for candidates that leave it unset (canonical ids drop defaults)."""
    by_axis = dict(zip(("dataset", "architecture", "encoder", "codec"), zip(AXES, components)))
    defaults = {}
    for entry in select:
        axis, _, param = entry.partition(".")
        kind, component = by_axis[axis]
        if component is not None:
            value = signature_defaults(registry.get(_kind(registry, kind, component.name), component.name).cls).get(param, inspect.Parameter.empty)
            defaults[entry] = None if value is inspect.Parameter.empty else value
    return defaults


def _check_selection(grid: Grid) -> None:
    """Each selected parameter must take several values among otherwise equal configurations."""
    for entry in grid.spec.select:
        groups: dict[str, set] = {}
        for cell in grid.cells:
            group = cell.selection()
            if group is not None:
                groups.setdefault(group[0], set()).add(json.dumps(group[2].get(entry), default=str))
        if not any(len(values) > 1 for values in groups.values()):
            raise PluginError(f"grid {grid.spec.name!r}: select {entry!r} takes one value only; list several values "
                              f"of it on its axis to choose among")
        grid.notes.append(f"select {entry}: every value is trained on each fold; the one with the lowest "
                          f"validation error is chosen per fold and reported on that fold's test images")


def _check_labels(cells: list[Cell]) -> None:
    """Two different configurations must not share the labels every table shows them under."""
    seen: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        first = seen.setdefault((cell.dataset.label, cell.method), cell)
        if first.configuration_id != cell.configuration_id:
            raise PluginError(
                f"two different configurations are both labelled {cell.dataset.label} | {cell.method}: "
                f"{_spelled(first)} and {_spelled(cell)}; give them different labels")


def _spelled(cell: Cell) -> str:
    parts = [c.as_dict() for c in (cell.dataset, cell.architecture, cell.encoder, cell.codec) if c is not None]
    return " + ".join(f"{p['name']}{p['params'] or ''}" for p in parts)


def _methods(spec: GridSpec, registry: Registry, filters: dict, grid: Grid):
    """(architecture, encoder, codec) triples: the grid's explicit ``methods`` list, else the axes' cross-product
    minus incompatible combinations (recorded, with their reason, in ``grid.skipped_methods``)."""
    least: dict[tuple, float] = {}  # a method's min_downscale, where its entry gives one
    if spec.methods:
        candidates = []
        for entry in spec.methods:
            parts = [components(registry, axis, [entry[key]] if entry.get(key) is not None else [], None, grid.notes)
                     for axis, key in (("architectures", "architecture"), ("encoders", "encoder"),
                                       ("codecs", "codec"))]
            candidates.append((parts[0][0], parts[1][0] if parts[1] else None, parts[2][0] if parts[2] else None))
            least[candidates[-1]] = float(entry.get("min_downscale", 1))
    else:
        axes = {axis: components(registry, axis, spec.axes[axis], filters.get(axis), grid.notes)
                for axis in AXES[1:]}
        candidates = [(arch, encoder, codec) for arch in axes["architectures"]
                      for encoder in _with_none(axes["encoders"], getattr(registry.method_class(arch.name), "encoder",
                                                                          "none") != "required")
                      for codec in _with_none(axes["codecs"], not issubclass(registry.method_class(arch.name),
                                                                            api.Architecture))]
    for arch, encoder, codec in candidates:
        arch_cls = registry.method_class(arch.name)
        codec_cls = registry.get("codecs", codec.name).cls if codec else None
        reason = (encoder_incompatibility(arch_cls, encoder) or codec_incompatibility(arch_cls, codec_cls)
                  or _unavailable(registry, arch, encoder, codec))
        if reason:
            grid.skipped_methods.append((arch, encoder, codec, reason))
        else:
            yield arch, encoder, codec, least.get((arch, encoder, codec), 1.0)


def _unavailable(registry: Registry, *parts: Component | None) -> str | None:
    """Why a method cannot run on this machine (an optional library is missing), said once in the dry run."""
    for axis, part in zip(AXES[1:], parts):
        cls = part and registry.get(_kind(registry, axis, part.name), part.name).cls
        why = cls and cls.unavailable()
        if cls and not why and part.params.get("weights") == weights.IMAGENET:  # not identified: not here
            why = f'weights = "imagenet": {weights.unavailable(getattr(cls, "pretrained", None))}'
        if why:
            return f"{part.name} is not available here: {why}"
    return None


def _for_dataset(protocol: Protocol, registry: Registry, dataset: Component,
                 need_sizes: bool = False) -> tuple[Protocol, list[tuple[int, int]]]:
    """The protocol a dataset's cells use (``input_size = "auto"`` resolved from its images' sizes), and those
    sizes where they were read (for "auto", or when a method is only for large originals)."""
    if protocol.input_size != "auto" and not need_sizes:
        return protocol, []
    sizes = [s.size for s in registry.create("datasets", dataset.name, dataset.plugin_params).samples()]
    return dataclasses.replace(protocol, input_size=input_size_for(protocol, sizes)), sizes


def input_size_for(protocol: Protocol, sizes: list[tuple[int, int]]):
    """The protocol's input size, or for ``"auto"`` the one :func:`auto_input_size` gives images of these sizes."""
    return auto_input_size(sizes) if protocol.input_size == "auto" else protocol.input_size


def _downscale(sizes: list[tuple[int, int]], protocol: Protocol) -> float:
    """Original pixels per input pixel (δ) of the median image, letterboxed into the network input."""
    if not sizes:
        return 1.0
    width, height = extent(protocol.input_size)
    return float(np.median([max(w / width, h / height) for w, h in sizes]))


def auto_input_size(sizes: list[tuple[int, int]], delta: float = 4.0, smallest: int = 128,
                    largest: int = 192) -> tuple[int, int]:
    """A network input for images of these sizes: about ``delta`` original pixels per input pixel on the median
    image's longest side, within [smallest, largest], sides multiples of 32, the median aspect ratio kept.

    ``largest`` keeps a network's epochs within a CPU's budget: on the X-rays 160×192 trained 88-98 epochs in
    10 minutes, 320×384 about 9. Precision on larger originals comes from coarse to fine's crops instead. It
    does not depend on the device, so every launcher of a run draws the same cells."""
    widths, heights = np.median([w for w, _ in sizes]), np.median([h for _, h in sizes])
    longest = min(max(_multiple(max(widths, heights) / delta), smallest), largest)
    shortest = max(_multiple(longest * min(widths, heights) / max(widths, heights), up=True), 32)
    return (longest, shortest) if widths >= heights else (shortest, longest)


def _multiple(value: float, of: int = 32, up: bool = False) -> int:
    return int((np.ceil if up else np.round)(value / of) * of)


def _with_none(components: list[Component], include_none: bool) -> list[Component | None]:
    return ([None] if include_none else []) + list(components)


def _versions(registry: Registry, dataset, arch, encoder, codec) -> dict[str, str]:
    """Versions of the plugins that provide this cell's components."""
    versions = {"benchsuite": __version__}
    for axis, comp in zip(AXES, (dataset, arch, encoder, codec)):
        if comp is not None:
            entry = registry.get(_kind(registry, axis, comp.name), comp.name)
            versions[entry.plugin] = entry.version
    return versions
