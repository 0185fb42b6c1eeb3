"""A finished run as the reports see it: its completed cells and their predictions.

Reports only read ``cell.json`` and ``predictions.parquet``. Each table is
given the context a metric needs as extra columns, so metrics stay pure
functions of one table: ``delta`` (original pixels per network-input pixel,
from the image size and the protocol's input size) and ``pixel_size_mm``
(from the dataset, recorded in cell.json). Tables written before those were
stored simply get NaN there, and the metrics that need them say "—".

A leaderboard row is one *configuration* (everything that identifies a cell
but its fold), never a mix: cells are grouped by their configuration id, and
only the cells of the run's current grid (``grid.json``) are reported unless
stale ones are asked for. Two configurations that carry the same display
labels are told apart by a short configuration id in the method label.
"""
from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from benchsuite.api import PluginError
from benchsuite.plugins import Registry
from benchsuite.run.cells import configuration_id
from benchsuite.run.store import RunStore


def _name(component: Any) -> str | None:
    return component.get("name") if isinstance(component, dict) else None


@dataclass(frozen=True)
class CellInfo:
    """One completed cell's identity, read from its cell.json."""

    id: str
    dataset: str  # the grid's label for the dataset
    method: str  # the grid's label for architecture + encoder + codec
    fold: int
    record: dict

    @property
    def config(self) -> dict:
        return self.record.get("config") or {}

    @property
    def dataset_name(self) -> str:
        """The registered dataset name (what published leaderboards match on)."""
        return _name(self.config.get("dataset")) or self.dataset

    @property
    def architecture(self) -> str | None:
        return _name(self.config.get("architecture"))

    @property
    def encoder(self) -> str | None:
        return _name(self.config.get("encoder"))

    @property
    def codec(self) -> str | None:
        return _name(self.config.get("codec"))

    @property
    def configuration_id(self) -> str:
        """What identifies this cell's method configuration, whatever its fold (and its display labels)."""
        return self.record.get("configuration_id") or configuration_id(self.config)

    @property
    def folds(self) -> int:
        """How many folds the configuration has: the split file's, else the protocol's."""
        return int(self.record.get("folds") or (self.config.get("protocol") or {}).get("folds", 1))

    @property
    def input_size(self) -> tuple[float, float] | None:
        """(width, height) of the network input; the protocol stores one side for a square."""
        size = (self.config.get("protocol") or {}).get("input_size")
        if size is None:
            return None
        return (float(size[0]), float(size[1])) if isinstance(size, (list, tuple)) else (float(size), float(size))


class Run:
    """The completed cells of one results folder, predictions loaded on demand and cached.

    ``cells`` are those of the run's current grid (all of them with ``include_stale``, stale ones labelled
    so); ``stale`` lists completed cells left from an earlier grid of the run and not reported.
    """

    def __init__(self, source: RunStore | Path | str, registry: Registry, include_stale: bool = False,
                 candidates: bool = False):
        self.store = source if isinstance(source, RunStore) else RunStore(source)
        self.registry = registry
        manifest = self.store.manifest()
        current = set(manifest["cells"]) if manifest else None
        cells, self.stale = [], []
        for r in self.store.records():
            if r.get("status") != "ok":
                continue
            cell = CellInfo(r["id"], r["dataset"], r["method"], int(r["fold"]), r)
            if current is None or cell.id in current:
                cells.append(cell)
            elif include_stale:
                cells.append(dataclasses.replace(cell, method=f"{cell.method} (stale)"))
            else:
                self.stale.append(cell)
        self.selections: list[Selection] = []
        if not candidates:
            cells, self.selections = select_on_validation(cells)
        self.cells = _distinct_labels(cells)
        self._predictions: dict[str, pd.DataFrame] = {}
        self.unfiltered = self  # what where() and only() started from: judgements on the whole run use it

    @property
    def name(self) -> str:
        return self.store.root.name

    def where(self, keep: Callable[[CellInfo], bool]) -> "Run":
        """The same run restricted to the cells ``keep`` accepts (sharing the predictions cache)."""
        subset = copy.copy(self)
        subset.cells = [c for c in self.cells if keep(c)]
        for cached in ("methods", "human_errors"):
            subset.__dict__.pop(cached, None)
        return subset

    def only(self, methods: str | None = None, datasets: str | None = None) -> "Run":
        """The same run restricted to methods and datasets matching glob patterns."""
        return self.where(lambda c: fnmatch.fnmatchcase(c.method, methods or "*")
                          and fnmatch.fnmatchcase(c.dataset, datasets or "*"))

    @property
    def datasets(self) -> list[str]:
        return sorted({c.dataset for c in self.cells})

    def predictions(self, cell: CellInfo) -> pd.DataFrame:
        if cell.id not in self._predictions:
            self._predictions[cell.id] = with_context(self.store.predictions(cell.id), cell)
        return self._predictions[cell.id]

    @cached_property
    def methods(self) -> pd.DataFrame:
        """One row per dataset × method: what it is (names from cell.json) and how many folds it has."""
        rows = []
        for (dataset, method), cells in group_cells(self.cells).items():
            first = cells[0]
            params = [c.record.get("parameters") for c in cells if c.record.get("parameters")]
            folds_done = len({c.fold for c in cells})
            rows.append({"dataset": dataset, "method": method, "dataset_name": first.dataset_name,
                         "architecture": first.architecture, "encoder": first.encoder, "codec": first.codec,
                         "output": self.codec_output(first.codec), "baseline": self.is_baseline(first.architecture),
                         "parameters": max(params) if params else None,
                         "folds_done": folds_done, "folds": first.folds, "complete": folds_done >= first.folds})
        columns = ["dataset", "method", "dataset_name", "architecture", "encoder", "codec", "output", "baseline",
                   "parameters", "folds_done", "folds", "complete"]
        return pd.DataFrame(rows, columns=columns)

    @cached_property
    def human_errors(self) -> dict[str, float]:
        """Each dataset's inter-annotator mean radial error (original pixels) as its cells recorded it, where known."""
        found: dict[str, float] = {}
        for cell in self.cells:
            value = cell.record.get("human_error")
            if isinstance(value, (int, float)) and math.isfinite(value):
                found.setdefault(cell.dataset, float(value))
        return found

    def codec_output(self, codec: str | None) -> str | None:
        """"heatmap" or "coords" as the codec plugin declares it; None for a codec-free baseline."""
        if codec is None:
            return None
        try:
            return self.registry.get("codecs", codec).cls.output
        except PluginError:
            return "unknown"

    def is_baseline(self, architecture: str | None) -> bool:
        """Whether the method plugin declares itself a baseline (a method not installed is not one)."""
        try:
            return bool(architecture) and bool(getattr(self.registry.method_class(architecture), "baseline", False))
        except PluginError:
            return False

    def landmark_order(self, dataset: str) -> list[str]:
        """The dataset's landmark names in their stored order (the dataset's own order)."""
        cell = next(c for c in self.cells if c.dataset == dataset)
        return list(pd.unique(self.predictions(cell)["landmark"]))


@dataclass(frozen=True)
class Selection:
    """Which candidate a nested selection chose on one fold, and on what validation errors."""

    dataset: str
    method: str  # the selected method's label
    fold: int
    values: dict  # the chosen values of the selected parameters
    val_errors: dict  # candidate's values (as text) -> its validation error


def select_on_validation(cells: list[CellInfo]) -> tuple[list[CellInfo], list[Selection]]:
    """Replace the candidates of each nested selection by the one with the lowest validation error, per fold.

    A fold is selected only when every candidate of the group finished it; the chosen cell keeps its own test
    predictions and is reported under the group's label, so the test images never influence the choice.
    """
    plain, groups = [], {}
    for cell in cells:
        selection = cell.record.get("selection")
        if selection:
            groups.setdefault((cell.dataset, selection["group"]), []).append(cell)
        else:
            plain.append(cell)
    chosen, selections = [], []
    for (dataset, group), members in sorted(groups.items()):
        candidates = {c.configuration_id for c in members}
        by_fold: dict[int, list[CellInfo]] = {}
        for cell in members:
            by_fold.setdefault(cell.fold, []).append(cell)
        for fold, fold_cells in sorted(by_fold.items()):
            if {c.configuration_id for c in fold_cells} != candidates:
                continue  # a candidate has not finished this fold: nothing can be chosen yet
            best = min(fold_cells, key=lambda c: (_val_error(c), json.dumps(c.record["selection"]["values"],
                                                                              sort_keys=True, default=str)))
            label = best.record["selection"]["label"]
            record = best.record | {"configuration_id": group, "selected": best.record["selection"]["values"]}
            chosen.append(dataclasses.replace(best, method=label, record=record))
            selections.append(Selection(dataset, label, fold, best.record["selection"]["values"],
                                        {_values_text(c): _val_error(c) for c in fold_cells}))
    return plain + chosen, selections


def _val_error(cell: CellInfo) -> float:
    value = cell.record.get("val_mre")
    return float(value) if value is not None and value == value else float("inf")


def _values_text(cell: CellInfo) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(cell.record["selection"]["values"].items()))


def _distinct_labels(cells: list[CellInfo]) -> list[CellInfo]:
    """Cells whose (dataset, method) labels are shared by two configurations get the configuration id in the
    method label, so that no row of any table ever averages two configurations."""
    configurations: dict[tuple[str, str], set[str]] = {}
    for cell in cells:
        configurations.setdefault((cell.dataset, cell.method), set()).add(cell.configuration_id)
    return [dataclasses.replace(c, method=f"{c.method} [{c.configuration_id[:6]}]")
            if len(configurations[(c.dataset, c.method)]) > 1 else c for c in cells]


def group_cells(cells: list[CellInfo]) -> dict[tuple[str, str], list[CellInfo]]:
    groups: dict[tuple[str, str], list[CellInfo]] = {}
    for cell in cells:
        groups.setdefault((cell.dataset, cell.method), []).append(cell)
    return dict(sorted(groups.items()))


def with_context(predictions: pd.DataFrame, cell: CellInfo) -> pd.DataFrame:
    """Add ``delta`` and ``pixel_size_mm`` (NaN where unknown) for the metrics that need them."""
    table = predictions.copy()
    size = cell.input_size
    if size and {"width", "height"} <= set(table.columns):
        table["delta"] = np.maximum(table["width"] / size[0], table["height"] / size[1])
    else:
        table["delta"] = np.nan
    pixel = cell.record.get("pixel_size_mm")
    table["pixel_size_mm"] = float(pixel) if pixel else np.nan
    return table
