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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from benchsuite.api import PluginError
from benchsuite.plugins import Registry
from benchsuite.plugins import registry as installed_registry
from benchsuite.run import grid as grids
from benchsuite.run.cells import Cell
from benchsuite.run.store import RunStore

if TYPE_CHECKING:  # the runner imports torch: only running a grid needs it
    from benchsuite.run.runner import RunSummary

FILTER_AXES = {"dataset": "datasets", "architecture": "architectures", "encoder": "encoders", "codec": "codecs"}


def results_root(results: str | Path | None = None) -> Path:
    """The results folder: the one given, else ``$BENCHSUITE_RESULTS``, else ``./results``."""
    return Path(results or os.environ.get("BENCHSUITE_RESULTS", "results"))


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
        return all(_matches(getattr(self, axis), component)
                   for axis, component in (("datasets", cell.dataset), ("architectures", cell.architecture),
                                           ("encoders", cell.encoder), ("codecs", cell.codec)))

    def unmatched(self, cells: list[Cell]) -> list[str]:
        """Patterns that select no cell of the grid, as ``-d PATTERN`` texts."""
        flags = {"datasets": "-d", "architectures": "-a", "encoders": "-e", "codecs": "-c"}
        lost = []
        for axis, attr in (("datasets", "dataset"), ("architectures", "architecture"), ("encoders", "encoder"),
                           ("codecs", "codec")):
            for pattern in getattr(self, axis):
                if not any(_matches([pattern], getattr(c, attr)) and getattr(c, attr) is not None for c in cells):
                    lost.append(f"{flags[axis]} {pattern}")
        return lost


def _matches(patterns: list[str], component) -> bool:
    if not patterns or component is None:  # an encoder-free or codec-free method is not filtered out by -e / -c
        return True
    return any(fnmatch.fnmatchcase(component.name, p) or fnmatch.fnmatchcase(component.label, p) for p in patterns)


@dataclass
class Plan:
    """A grid expanded against the installed plugins, and the cells the filters select."""

    grid: grids.Grid
    cells: list[Cell]

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
    if lost:
        raise PluginError(f"grid {spec.name!r}: {', '.join(lost)} matches no cell")
    return Plan(expanded, [c for c in expanded.cells if filters.keeps(c)])


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


def run_grid(grid: str | grids.GridSpec = "smoke", *, results: str | Path | None = None, run: str | None = None,
             registry: Registry | None = None, filters: Filters | None = None,
             settings: dict[str, Any] | None = None, executor: str | None = None,
             executor_options: dict[str, Any] | None = None, force: bool = False, change_grid: bool = False,
             runtime=None, progress=None) -> RunResult:
    """Run every selected cell that is not complete yet; each cell's result is written atomically."""
    from benchsuite.run.runner import run_cells
    from benchsuite.train.loop import Runtime

    registry = registry or installed_registry()
    plan = plan_grid(grid, registry=registry, filters=filters, settings=settings)
    if not plan.cells:
        raise PluginError(f"grid {plan.name!r} has no runnable cell")
    options = dict(plan.grid.spec.executor)
    name = executor or options.pop("name", None)
    options.pop("name", None)
    worker = make_executor(registry, name, options | dict(executor_options or {}))
    store = RunStore(results_root(results) / (run or plan.name))
    splits = split_rows(plan.grid, registry)
    store.adopt_grid(plan.name, [c.id for c in plan.grid.cells], change_grid)
    store.write_splits(splits)
    summary = run_cells(plan.cells, registry, store, worker, force=force, progress=progress,
                        runtime=runtime or Runtime())
    return RunResult(plan, store, summary)


def split_rows(grid: grids.Grid, registry: Registry) -> list[dict]:
    """Every dataset's split, fold by fold (dataset, image, fold, part): what the run's splits.csv holds."""
    from benchsuite.splits import splits_rows

    rows = []
    for dataset in dict.fromkeys(c.dataset for c in grid.cells):
        instance = registry.create("datasets", dataset.name, grids.dataset_params(dataset))
        table = grids.split_table(registry, dataset, instance)
        rows += splits_rows(instance.samples(), grid.protocol.folds, grid.protocol.split_seed,
                            grid.protocol.val_fraction, table, dataset.label)
    return rows


def with_split_file(spec: grids.GridSpec, path: str | Path) -> grids.GridSpec:
    """The grid with ``--splits FILE`` on every dataset entry."""
    entries = [entry if isinstance(entry, dict) else {"name": entry} for entry in spec.axes["datasets"]]
    if any("*" in e["name"] or "?" in e["name"] for e in entries):
        raise PluginError("--splits needs the grid's datasets named one by one, not by a pattern")
    spec.axes["datasets"] = [e | {"splits": str(path)} for e in entries]
    return spec


def load_run(run: str | Path, *, results: str | Path | None = None, registry: Registry | None = None):
    """A finished (or partial) run as the reports see it: a run name under the results folder, or a folder."""
    from benchsuite.report.results import Run

    folder = resolve_run(run, results)
    return Run(folder, registry or installed_registry())


def resolve_run(run: str | Path, results: str | Path | None = None) -> Path:
    """A run name under the results folder first; a path to a run folder otherwise."""
    under = results_root(results) / str(run)
    if (under / "cells").is_dir() or (under / "grid.json").is_file():
        return under
    path = Path(run)
    if (path / "cells").is_dir() or (path / "grid.json").is_file():
        return path
    raise PluginError(f"{run}: no results (no run of that name under {results_root(results)}, and no run folder "
                      "at that path)")


@dataclass
class RunStatus:
    folder: Path
    grid: str
    states: dict[str, list[str]]  # ok, failed, running, not started -> cell ids
    errors: dict[str, str]  # failed cell id -> its error

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.states.values())

    @property
    def complete(self) -> bool:
        return len(self.states["ok"]) == self.total


def run_status(folder: Path) -> RunStatus:
    """The state of every cell of a run's grid, read from its folder only."""
    store = RunStore(folder)
    manifest = store.manifest()
    if manifest is None:
        raise PluginError(f"{store.root}: not a run folder (no grid.json)")
    states: dict[str, list[str]] = {"ok": [], "failed": [], "running": [], "not started": []}
    errors = {}
    for cell_id in manifest["cells"]:
        status = store.status(cell_id)
        if status in ("ok", "failed"):
            states[status].append(cell_id)
            if status == "failed":
                errors[cell_id] = store.record(cell_id)["error"]
        else:
            states["running" if store.in_progress(cell_id) else "not started"].append(cell_id)
    return RunStatus(store.root, manifest["grid"], states, errors)
