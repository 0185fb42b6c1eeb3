"""Flags a reader can check by eye, on every table and with a footnote.

‡ marks a method whose mean error on a dataset is worse than that dataset's
baseline: a method that predicts without looking at the image (an
architecture that declares ``baseline = True``, like the mean shape), so
whatever it learned is of no use there. § marks a method that put predicted
landmarks outside the image, beyond its edges [−0.5, width − 0.5] ×
[−0.5, height − 0.5] in the pixel-centre convention. ¶ marks a method whose
network collapsed on some fold (its validation loss was no better than a
flat output's, e.g. all-zero heatmaps: ``"collapsed"`` in cell.json), so
that fold's predictions are guesses. ‖ marks a network whose time budget
ended its training while its validation error was still falling (see
:func:`still_improving`): its score says how much time it had, not what it
can do. All are judged on the
headline metric and the stored predictions of the whole run, whatever metric
a table shows and whichever methods it filters, so a flag never depends on
the view.
"""
from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass, field

import pandas as pd

from benchsuite.report.render import Entry
from benchsuite.report.scores import fold_scores, load_metric, summarise
from benchsuite.run.curves import budget_minutes, starved
from benchsuite.run.results import Run, group_cells

WORSE, OUTSIDE, COLLAPSED, STARVED = "‡", "§", "¶", "‖"

@dataclass
class Flags:
    baselines: dict[str, tuple[str, float]]  # dataset -> (its best baseline method, that method's mean)
    worse: set[tuple[str, str]]  # (dataset, method) worse than the dataset's baseline
    outside: dict[tuple[str, str], int]  # (dataset, method) -> predicted landmarks outside the image
    unit: str = ""
    collapsed: dict[tuple[str, str], int] = field(default_factory=dict)  # (dataset, method) -> collapsed folds
    starved: dict[tuple[str, str], tuple[int, int, float | None]] = field(default_factory=dict)  # (dataset,
    # method) -> (folds the budget stopped still improving, folds, the largest budget in minutes)
    used: set[tuple[str, str, str]] = field(default_factory=set)  # (mark, dataset, method) shown

    def mark(self, entry: Entry, dataset: str, method: str) -> Entry:
        """The entry with the marks of this dataset × method appended (remembered for the footnotes)."""
        key = (dataset, method)
        marks = ((WORSE if key in self.worse else "") + (OUTSIDE if self.outside.get(key) else "")
                 + (COLLAPSED if self.collapsed.get(key) else "") + (STARVED if key in self.starved else ""))
        self.used |= {(mark, dataset, method) for mark in marks}
        entry.flags += marks
        return entry

    def notes(self) -> list[str]:
        """Footnotes for the marks this table used."""
        notes = []
        worse = sorted({d for mark, d, _ in self.used if mark == WORSE})
        if worse:
            notes.append(f"{WORSE}: mean error worse than the dataset's baseline, a method that ignores the image ("
                         + "; ".join(f"{d}: {self.baselines[d][0]} {self.baselines[d][1]:.2f} {self.unit}".rstrip()
                                     for d in worse) + ")")
        outside = sorted((d, m) for mark, d, m in self.used if mark == OUTSIDE)
        if outside:
            notes.append(f"{OUTSIDE}: predicted landmarks outside the image, beyond its edges (x < −0.5 or > width − "
                         "0.5, y likewise with height): " + "; ".join(f"{m} on {d}: {self.outside[(d, m)]}"
                                                                      for d, m in outside))
        collapsed = sorted((d, m) for mark, d, m in self.used if mark == COLLAPSED)
        if collapsed:
            notes.append(f"{COLLAPSED}: the network collapsed (validation loss no better than a flat output's, e.g. "
                         "all-zero heatmaps), so those folds' predictions are guesses: " + "; ".join(
                             f"{m} on {d}: {self.collapsed[(d, m)]} fold(s)" for d, m in collapsed))
        starved = sorted((d, m) for mark, d, m in self.used if mark == STARVED)
        if starved:
            notes.append(f"{STARVED}: its time budget ended its training while its validation error was still "
                         "falling, so its score says how much time it had, not how well it can do: " + "; ".join(
                             f"{m} on {d}: {self._starved_text(d, m)}" for d, m in starved)
                         + ". Give it more with benchsuite run --budget DURATION (e.g. 2h: the grid's training "
                         "time, spread over its network cells) or --set max_minutes=M (minutes per network cell); "
                         "the learning curves show whether more time helps")
        return notes

    def _starved_text(self, dataset: str, method: str) -> str:
        count, folds, minutes = self.starved[(dataset, method)]
        budget = f"{minutes:.3g} minutes of training per fold" if minutes else "its budget"
        return f"{count} of {folds} folds, {budget}"

    def columns(self, data: pd.DataFrame) -> pd.DataFrame:
        """``data`` (with dataset and method columns) plus worse_than_baseline and outside_image."""
        data = data.copy()
        keys = list(zip(data["dataset"], data["method"]))
        data["worse_than_baseline"] = [k in self.worse for k in keys]
        data["outside_image"] = [self.outside.get(k, 0) for k in keys]
        data["collapsed_folds"] = [self.collapsed.get(k, 0) for k in keys]
        data["starved_folds"] = [self.starved.get(k, (0,))[0] for k in keys]
        return data


_JUDGED: weakref.WeakKeyDictionary[Run, Flags] = weakref.WeakKeyDictionary()  # per unfiltered run


def flags_of(run: Run) -> Flags:
    """The flags of every dataset × method of the unfiltered run, judged once per run (every table of a
    report asks), each table getting its own record of the marks it used."""
    whole = run.unfiltered
    if whole not in _JUDGED:
        _JUDGED[whole] = _judge(whole)
    return dataclasses.replace(_JUDGED[whole], used=set())


def _judge(run: Run) -> Flags:
    metric = load_metric(run.registry)
    summary = summarise(fold_scores(run, metric), metric.higher_is_better)
    summary = summary.merge(run.methods[["dataset", "method", "baseline"]], on=["dataset", "method"])
    baselines, worse = {}, set()
    for dataset, group in summary.groupby("dataset"):
        floors = group[group["baseline"] & group["mean"].notna()]
        if floors.empty:
            continue
        floor = floors.loc[floors["mean"].idxmax() if metric.higher_is_better else floors["mean"].idxmin()]
        baselines[dataset] = (floor["method"], float(floor["mean"]))
        others = group[~group["baseline"]]
        beaten = others["mean"] < floor["mean"] if metric.higher_is_better else others["mean"] > floor["mean"]
        worse |= {(dataset, method) for method in others[beaten]["method"]}
    collapsed: dict[tuple[str, str], int] = {}
    for cell in run.cells:
        if cell.record.get("collapsed"):
            collapsed[(cell.dataset, cell.method)] = collapsed.get((cell.dataset, cell.method), 0) + 1
    return Flags(baselines, worse, outside_counts(run), metric.unit, collapsed, starved_cells(run))


def starved_cells(run: Run) -> dict[tuple[str, str], tuple[int, int, float | None]]:
    """Per dataset × method with a fold the budget stopped still improving: those folds, its folds, the budget."""
    found: dict[tuple[str, str], tuple[int, int, float | None]] = {}
    for (dataset, method), cells in group_cells(run.cells).items():
        hungry = [c for c in cells if starved(c.record)]
        if hungry:
            budgets = [b for b in map(budget_minutes, (c.record for c in hungry)) if b]
            found[(dataset, method)] = (len(hungry), cells[0].folds, max(budgets) if budgets else None)
    return found


def outside_counts(run: Run) -> dict[tuple[str, str], int]:
    """Predicted landmarks outside their image per dataset × method (tables without image sizes count none)."""
    counts: dict[tuple[str, str], int] = {}
    for cell in run.cells:
        p = run.predictions(cell)
        if not {"width", "height"} <= set(p.columns):
            continue
        outside = ((p["pred_x"] < -0.5) | (p["pred_x"] > p["width"] - 0.5) |
                   (p["pred_y"] < -0.5) | (p["pred_y"] > p["height"] - 0.5))
        key = (cell.dataset, cell.method)
        counts[key] = counts.get(key, 0) + int(outside.sum())
    return counts
