"""The library entry point for running a grid: what ``benchsuite run`` does, callable from Python.

    import benchsuite
    result = benchsuite.run_grid("smoke", results="results", settings={"epochs": 5})
    run = benchsuite.load_run("smoke")

The grid is expanded once; filters select cells of it, and the run folder
remembers the whole grid (``grid.json``) so that a filtered run and a later
full one share their cells.
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from benchsuite.api import PluginError
from benchsuite.files import check_folder
from benchsuite.plugins import Registry
from benchsuite.plugins import registry as installed_registry
from benchsuite.run import grid as grids
from benchsuite.run import preflight
from benchsuite.run.cells import Cell
from benchsuite.run.store import RunStore, asked_cells, what_becomes_of_corrupt

if TYPE_CHECKING:  # the runner imports torch: only running a grid needs it
    from benchsuite.run.runner import RunSummary

_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
FILTER_AXES = {"dataset": "datasets", "architecture": "architectures", "encoder": "encoders", "codec": "codecs"}


def results_root(results: str | Path | None = None) -> Path:
    """The results folder: the one given, else ``$BENCHSUITE_RESULTS``, else ``./results``."""
    return Path(results or os.environ.get("BENCHSUITE_RESULTS", "results"))


def check_run_name(name: str) -> str:
    """A run name is one folder under the results folder: a safe character set, no path, no newline."""
    if not isinstance(name, str) or not _RUN_NAME.fullmatch(name):
        raise PluginError(f"run name {name!r}: use 1 to 100 letters, digits, '.', '_', '+' or '-', starting with a "
                          "letter or digit (a run is one folder under the results folder)")
    return name


def run_name_from(label: str) -> str:
    """A run name made from a grid file's or a folder's name (unsafe characters become '-')."""
    name = re.sub(r"[^A-Za-z0-9._+-]", "-", label).lstrip("._+-")[:100]
    if not name:
        raise PluginError(f"cannot make a run name from {label!r}: pass --run NAME")
    return check_run_name(name)


def run_folder(results: str | Path | None, name: str) -> Path:
    """The folder of run ``name``, refused unless it lies inside the results folder (no link out of it)."""
    root = check_folder(results_root(results), "results folder")
    folder = root / check_run_name(name)
    if not folder.resolve().is_relative_to(root.resolve()):
        raise PluginError(f"{folder}: resolves to {folder.resolve()}, outside the results folder {root}; "
                          "refusing to write there")
    return folder


@dataclass
class Filters:
    """Glob patterns per axis; a cell is kept when, on every axis with patterns, one of them matches."""

    datasets: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    encoders: list[str] = field(default_factory=list)
    codecs: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, **patterns: str | Iterable[str] | None) -> "Filters":
        unknown = set(patterns) - set(FILTER_AXES) - set(FILTER_AXES.values())
        if unknown:
            raise PluginError(f"unknown filter {sorted(unknown)[0]!r} (known: {', '.join(FILTER_AXES)})")
        values = {}
        for key, value in patterns.items():
            axis = FILTER_AXES.get(key, key)
            values[axis] = [value] if isinstance(value, str) else list(value or [])
        return cls(**values)

    def keeps(self, cell: Cell) -> bool:
        return _method_matches(self.architectures, cell) and all(
            _matches(getattr(self, axis), component)
            for axis, component in (("datasets", cell.dataset), ("encoders", cell.encoder), ("codecs", cell.codec)))

    def unmatched(self, cells: list[Cell]) -> list[str]:
        """Patterns that select no cell of the grid, as ``-d PATTERN`` texts."""
        flags = {"datasets": "-d", "architectures": "-a", "encoders": "-e", "codecs": "-c"}
        lost = []
        for axis, attr in (("datasets", "dataset"), ("architectures", "architecture"), ("encoders", "encoder"),
                           ("codecs", "codec")):
            for pattern in getattr(self, axis):
                if axis == "architectures":
                    found = any(_method_matches([pattern], c) for c in cells)
                else:
                    found = any(_matches([pattern], getattr(c, attr)) and getattr(c, attr) is not None for c in cells)
                if not found:
                    lost.append(f"{flags[axis]} {pattern}")
        return lost


    def several(self, cells: list[Cell]) -> list[str]:
        """One line per ``-a`` pattern that selects more than one method, naming them: ``-a dlib-ert`` takes
        both dlib presets, which a user who meant one should hear before the run."""
        lines = []
        for pattern in self.architectures:
            methods = sorted({c.method for c in cells if _method_matches([pattern], c)})
            if len(methods) > 1:
                lines.append(f"-a {pattern} selects {len(methods)} methods: {'; '.join(methods)} (quote one of "
                             "them, as printed here, to run it alone)")
        return lines


def _method_matches(patterns: list[str], cell: Cell) -> bool:
    """``-a`` names a method by its architecture's name or label, or as the tables and the dry run print it
    (``U-Net+EfficientNet-Lite0 (ImageNet)+integral regression``)."""
    return _matches(patterns, cell.architecture) or any(fnmatch.fnmatchcase(cell.method, p) for p in patterns)


def _matches(patterns: list[str], component) -> bool:
    if not patterns or component is None:  # an encoder-free or codec-free method is not filtered out by -e / -c
        return True
    return any(fnmatch.fnmatchcase(component.name, p) or fnmatch.fnmatchcase(component.label, p) for p in patterns)


@dataclass
class Plan:
    """A grid expanded against the installed plugins, and the cells the filters select."""

    grid: grids.Grid
    cells: list[Cell]
    skipped: list[grids.Skipped] = field(default_factory=list)  # incompatible combinations the filters select

    @property
    def name(self) -> str:
        return self.grid.spec.name


def plan_grid(grid: str | grids.GridSpec = "smoke", *, registry: Registry | None = None,
              filters: Filters | None = None, settings: dict[str, Any] | None = None) -> Plan:
    """The cells a run would compute, and the skipped combinations with their reasons."""
    registry = registry or installed_registry()
    spec = grids.load_spec(grid) if isinstance(grid, str) else grid
    expanded = grids.expand(spec, registry, None, settings)
    filters = filters or Filters()
    lost = filters.unmatched(expanded.cells)
    typos = [p for p in filters.datasets if f"-d {p}" in lost and not any(c in p for c in "*?[")
             and not Path(p).exists()]
    if typos:  # a plain name that is neither a folder here nor one of the grid's datasets: most likely a typo
        names = sorted({c.dataset.label for c in expanded.cells})
        raise PluginError(f"-d {typos[0]}: no folder or file {typos[0]!r} here, and no dataset of that name in "
                          f"grid {spec.name!r} ({', '.join(names) or 'none'})")
    if lost:
        methods = sorted({c.method for c in expanded.cells})
        known = f" (its methods: {'; '.join(methods)})" if any(x.startswith("-a ") for x in lost) else ""
        raise PluginError(f"grid {spec.name!r}: {', '.join(lost)} matches no cell{known}")
    expanded.notes += filters.several(expanded.cells)
    return Plan(expanded, [c for c in expanded.cells if filters.keeps(c)],
                [s for s in expanded.skipped if filters.keeps(s)])


def make_executor(registry: Registry, name: str | None = None, options: dict[str, Any] | None = None):
    """An executor plugin, the default one when no name is given, checked before anything is written."""
    if name is None:
        name = registry.the_one("executors", lambda cls: cls.default, "the default executor (default = True)").name
    executor = registry.create("executors", name, options or {})
    executor.preflight()
    return executor


@dataclass
class RunResult:
    plan: Plan
    store: RunStore
    summary: RunSummary

    @property
    def ok(self) -> bool:
        s = self.summary
        return not (s.failed or s.busy or s.pending)


def check_launch(plan: Plan, registry: Registry, *, results: str | Path | None = None, run: str | None = None,
                 executor: str | None = None, executor_options: dict[str, Any] | None = None,
                 runtime=None, change_grid: bool = False) -> preflight.Preflight:
    """Everything that would stop this launch, found before anything is written (the dry run prints it all)."""
    checked = preflight.Preflight()
    problems = checked.problems
    name = preflight.attempt(problems, check_run_name, run) if run is not None else \
        preflight.attempt(problems, run_name_from, plan.name)
    if name is not None:
        checked.folder = preflight.attempt(problems, run_folder, results, name)
    if checked.folder is not None and not change_grid:
        problems += [p for p in [preflight.attempt(problems, RunStore(checked.folder).grid_conflict,
                                                   [c.id for c in plan.grid.cells])] if p]
    options = dict(plan.grid.spec.executor)
    chosen = executor or options.pop("name", None)
    options.pop("name", None)
    checked.executor = preflight.attempt(problems, make_executor, registry, chosen,
                                         options | dict(executor_options or {}))
    problems += [p for p in [preflight.checkpoint_problem(runtime)] if p]
    if not plan.cells:
        problems.append(f"grid {plan.name!r} has no runnable cell")
    problems += preflight.component_problems(plan.cells, registry)
    data_problems, checked.missing, counts = preflight.dataset_problems(
        dict.fromkeys(c.dataset for c in plan.cells), registry, plan.grid.protocol.folds)
    problems += data_problems
    setting_problems, checked.notes = preflight.settings_problems(plan.cells, registry, counts)
    problems += setting_problems
    return checked


def run_grid(grid: str | grids.GridSpec = "smoke", *, results: str | Path | None = None, run: str | None = None,
             registry: Registry | None = None, filters: Filters | None = None,
             settings: dict[str, Any] | None = None, executor: str | None = None,
             executor_options: dict[str, Any] | None = None, force: bool = False, change_grid: bool = False,
             runtime=None, progress=None) -> RunResult:
    """Run every selected cell that is not complete yet; each cell's result is written atomically. Refused
    in one line, with nothing written, for anything :func:`check_launch` finds."""
    from benchsuite.run.runner import run_cells
    from benchsuite.train.loop import Runtime

    registry = registry or installed_registry()
    plan = plan_grid(grid, registry=registry, filters=filters, settings=settings)
    checked = check_launch(plan, registry, results=results, run=run, executor=executor,
                           executor_options=executor_options, runtime=runtime, change_grid=change_grid)
    if checked.refusal():
        raise PluginError(checked.refusal())
    for note in plan.grid.notes + checked.notes:
        if progress is not None:
            progress.note(note)
    store = RunStore(checked.folder)
    splits = split_rows(plan.grid, registry)
    store.adopt_grid(plan.name, [c.id for c in plan.grid.cells], change_grid, asked=[c.id for c in plan.cells])
    store.write_splits(splits)
    summary = run_cells(plan.cells, registry, store, checked.executor, force=force, progress=progress,
                        runtime=runtime or Runtime())
    return RunResult(plan, store, summary)


def split_rows(grid: grids.Grid, registry: Registry) -> list[dict]:
    """Every dataset's split, fold by fold (dataset, image, fold, part): what the run's splits.csv holds."""
    return [row for dataset in dict.fromkeys(c.dataset for c in grid.cells)
            for row in _split_rows(registry, dataset, grid.protocol)]


def dataset_split_rows(registry: Registry, entry: dict, protocol) -> list[dict]:
    """One grid dataset entry's split under ``protocol`` (``benchsuite splits``), as a run would draw it."""
    return _split_rows(registry, grids.components(registry, "datasets", [entry], None, [])[0], protocol)


def _split_rows(registry: Registry, dataset, protocol) -> list[dict]:
    from benchsuite.splits import splits_rows

    instance = registry.create("datasets", dataset.name, dataset.plugin_params)
    return splits_rows(instance.samples(), protocol.folds, protocol.split_seed, protocol.val_fraction,
                       grids.split_table(registry, dataset, instance), dataset.label)


def parse_duration(text: str) -> float:
    """``90s``, ``20m``, ``2h``, ``1h30m`` or a plain number of minutes, in minutes."""
    import re

    match = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*", text)
    if text.strip().replace(".", "", 1).isdigit():
        return float(text)
    if not match or not any(match.groups()):
        raise PluginError(f"--budget must be a duration like 90s, 20m, 2h or 1h30m, got {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = 60 * hours + minutes + seconds / 60
    if total <= 0:
        raise PluginError(f"--budget must be positive, got {text!r}")
    return total


def spread_budget(spec: grids.GridSpec, registry: Registry, filters, settings: dict, minutes: float) -> dict:
    """The settings with a total time budget spread evenly over the grid's cells that train networks, as each
    one's ``max_minutes`` (methods that train none, the mean shape and dlib, are not counted)."""
    from benchsuite.api import trains_networks

    plan = plan_grid(spec, registry=registry, filters=filters, settings=settings)
    networks = [c for c in plan.cells if trains_networks(registry.method_class(c.architecture.name))]
    return settings | ({"max_minutes": round(minutes / len(networks), 3)} if networks else {})


def grid_floors(spec: grids.GridSpec, registry: Registry, settings: dict, datasets: list[str] | None = None,
                codecs: list[str] | None = None):
    """Each of the grid's codecs' error floor on each of its datasets at the grid's input size (``benchsuite
    floor``): the true landmarks encoded and decoded, no network; ``datasets``/``codecs`` filter by pattern."""
    import fnmatch

    from benchsuite.protocol import load_protocol
    from benchsuite.train.floor import floor_table

    protocol = load_protocol(spec.protocol, spec.settings | settings)
    codec_entries = ([m["codec"] for m in spec.methods if m.get("codec") is not None] if spec.methods
                     else spec.axes["codecs"])

    def chosen(axis: str, entries: list, patterns: list[str] | None):
        found = grids.components(registry, axis, entries, None, [])
        return [c for c in found if not patterns or any(fnmatch.fnmatchcase(c.name, p) or
                                                        fnmatch.fnmatchcase(c.label, p) for p in patterns)]

    def at_input(component):
        dataset = registry.create("datasets", component.name, component.plugin_params)
        return component.label, dataset, grids.input_size_for(protocol, [s.size for s in dataset.samples()])

    return floor_table([at_input(d) for d in chosen("datasets", spec.axes["datasets"], datasets)],
                       [(c.label, registry.create("codecs", c.name, c.params)) for c in
                        chosen("codecs", codec_entries, codecs)])


def with_split_file(spec: grids.GridSpec, path: str | Path) -> grids.GridSpec:
    """The grid with ``--splits FILE`` on every dataset entry."""
    entries = [entry if isinstance(entry, dict) else {"name": entry} for entry in spec.axes["datasets"]]
    if any("*" in e["name"] or "?" in e["name"] for e in entries):
        raise PluginError("--splits needs the grid's datasets named one by one, not by a pattern")
    spec.axes["datasets"] = [e | {"splits": str(path)} for e in entries]
    return spec


def load_run(run: str | Path, *, results: str | Path | None = None, registry: Registry | None = None):
    """A finished (or partial) run as the reports see it: a run name under the results folder, or a folder."""
    from benchsuite.run.results import Run

    folder = resolve_run(run, results)
    return Run(folder, registry or installed_registry())


def resolve_run(run: str | Path, results: str | Path | None = None) -> Path:
    """A run name under the results folder first; a path to a run folder otherwise."""
    if _RUN_NAME.fullmatch(str(run)):
        under = results_root(results) / str(run)
        if (under / "cells").is_dir() or (under / "grid.json").is_file():
            return under
    path = Path(run)
    if str(run) and ((path / "cells").is_dir() or (path / "grid.json").is_file()):
        return path
    raise PluginError(f"{str(run)!r}: no results (no run of that name under {results_root(results)}, and no run "
                      "folder at that path)")


@dataclass
class RunStatus:
    folder: Path
    grid: str | None  # None: the run has no grid.json, its cells are those found on disk
    states: dict[str, list[str]]  # ok, failed, corrupt, running, not started -> cell ids
    errors: dict[str, str]  # failed or corrupt cell id -> its error
    disk_bytes: int = 0  # the run folder's files
    model_bytes: int = 0  # of which kept models
    not_asked: int = 0  # cells of the grid that the run's filters left out: not part of this run

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.states.values())

    @property
    def complete(self) -> bool:
        return len(self.states["ok"]) == self.total


def run_status(folder: Path) -> RunStatus:
    """The state of every cell of a run's grid, read from its folder only (it may be read-only)."""
    store = RunStore(folder)
    manifest = store.manifest()  # None without grid.json (lost, or not copied along): the cells on disk are listed
    grid_cells = manifest["cells"] if manifest else None
    asked = asked_cells(manifest) if manifest else store.cell_ids()
    states: dict[str, list[str]] = {"ok": [], "failed": [], "corrupt": [], "running": [], "not started": []}
    errors = {}
    for cell_id in asked:
        record, problem = store.inspect(cell_id)
        if store.in_progress(cell_id) and (problem or record is None or record["status"] != "ok"):
            states["running"].append(cell_id)  # being (re)computed: whatever is there now is about to change
        elif problem:
            states["corrupt"].append(cell_id)
            errors[cell_id] = f"{problem}; {what_becomes_of_corrupt(cell_id, grid_cells)}"
        elif record is None:
            states["not started"].append(cell_id)
        else:
            states[record["status"]].append(cell_id)
            if record["status"] == "failed":
                errors[cell_id] = record.get("error") or "failed"
    sizes = [(p, p.stat().st_size) for p in store.root.rglob("*") if p.is_file()]
    return RunStatus(store.root, manifest["grid"] if manifest else None, states, errors, sum(s for _, s in sizes),
                     sum(s for p, s in sizes if "model" in p.relative_to(store.root).parts),
                     len(grid_cells or ()) - len(asked) if manifest else 0)
