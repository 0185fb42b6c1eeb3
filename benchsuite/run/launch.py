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
from benchsuite.plugins import Registry
from benchsuite.plugins import registry as installed_registry
from benchsuite.run import grid as grids
from benchsuite.run.cells import Cell
from benchsuite.run.store import RunStore

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
    root = results_root(results)
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
    if lost:
        raise PluginError(f"grid {spec.name!r}: {', '.join(lost)} matches no cell")
    return Plan(expanded, [c for c in expanded.cells if filters.keeps(c)],
                [s for s in expanded.skipped if filters.keeps(s)])


def dataset_problems(plan: Plan, registry: Registry) -> list[str]:
    """Why the selected cells' datasets cannot be run, one line each: unreadable, or fewer images than folds.

    Read once here, so that a broken folder is refused before a run writes anything (and a dry run says so),
    instead of failing each of its cells.
    """
    problems = []
    folds = plan.grid.protocol.folds
    for component in dict.fromkeys(c.dataset for c in plan.cells):
        try:
            count = len(registry.create("datasets", component.name, grids.dataset_params(component)).samples())
        except PluginError as exc:
            problems.append(f"dataset {component.label}: {exc}")
            continue
        if count < folds and "splits" not in component.params:  # a split file brings its own folds
            problems.append(f"dataset {component.label}: {count} usable images, fewer than the {folds} folds")
    return problems


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
    if run is not None:
        check_run_name(run)
    plan = plan_grid(grid, registry=registry, filters=filters, settings=settings)
    if not plan.cells:
        raise PluginError(f"grid {plan.name!r} has no runnable cell")
    problems = dataset_problems(plan, registry)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PluginError(problems[0] + more)
    if runtime is not None and not (0 < runtime.checkpoint_every_s < float("inf")):
        raise PluginError(f"the checkpoint interval must be a number of seconds > 0, got {runtime.checkpoint_every_s}")
    options = dict(plan.grid.spec.executor)
    name = executor or options.pop("name", None)
    options.pop("name", None)
    worker = make_executor(registry, name, options | dict(executor_options or {}))
    store = RunStore(run_folder(results, run if run is not None else run_name_from(plan.name)))
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
    grid: str
    states: dict[str, list[str]]  # ok, failed, corrupt, running, not started -> cell ids
    errors: dict[str, str]  # failed or corrupt cell id -> its error
    disk_bytes: int = 0  # the run folder's files
    model_bytes: int = 0  # of which kept models

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.states.values())

    @property
    def complete(self) -> bool:
        return len(self.states["ok"]) == self.total


def run_status(folder: Path) -> RunStatus:
    """The state of every cell of a run's grid, read from its folder only (it may be read-only)."""
    store = RunStore(folder)
    manifest = store.manifest()
    if manifest is None:
        raise PluginError(f"{store.root}: not a run folder (no grid.json)")
    states: dict[str, list[str]] = {"ok": [], "failed": [], "corrupt": [], "running": [], "not started": []}
    errors = {}
    for cell_id in manifest["cells"]:
        record, problem = store.inspect(cell_id)
        if store.in_progress(cell_id) and (problem or record is None or record["status"] != "ok"):
            states["running"].append(cell_id)  # being (re)computed: whatever is there now is about to change
        elif problem:
            states["corrupt"].append(cell_id)
            errors[cell_id] = f"{problem}; the next run recomputes it"
        elif record is None:
            states["not started"].append(cell_id)
        else:
            states[record["status"]].append(cell_id)
            if record["status"] == "failed":
                errors[cell_id] = record.get("error") or "failed"
    sizes = [(p, p.stat().st_size) for p in store.root.rglob("*") if p.is_file()]
    return RunStatus(store.root, manifest["grid"], states, errors, sum(s for _, s in sizes),
                     sum(s for p, s in sizes if "model" in p.relative_to(store.root).parts))
