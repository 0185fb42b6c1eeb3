"""Leaderboards from stored predictions only: ``benchsuite leaderboard RUN --table NAME``.

Per dataset, each method's score is the mean ± sample std over folds of its
fold scores (a fold's score is the mean over its test images), like the
tables of the fish paper. The tables themselves live in
``benchsuite.report.tables``; this module is the command and the short
summary that ``benchsuite run`` prints at the end.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from benchsuite.api import PluginError
from benchsuite.plugins import Registry
from benchsuite.report import scores as _scores
from benchsuite.report.render import FORMATS, terminal_format
from benchsuite.report.render import render as _render
from benchsuite.run.results import Run
from benchsuite.run.store import RunStore


def fold_scores(store: RunStore, registry: Registry, metric_name: str | None = None) -> pd.DataFrame:
    """One row per completed cell: dataset, method, fold, folds, score, images, missing."""
    run = Run(store, registry)
    return _scores.fold_scores(run, _scores.load_metric(registry, metric_name))


def summarise(scores: pd.DataFrame, higher_is_better: bool = False) -> pd.DataFrame:
    """Mean ± sample std (ddof=1) over folds; a method missing folds is flagged incomplete."""
    return _scores.summarise(scores, higher_is_better)


def command(folder: Path, registry: Registry, table: str = "summary", fmt: str | None = None, alpha: float = 0.05,
            methods: str | None = None, datasets: str | None = None, plot: str | None = None,
            dagger: str = "wilcoxon", include_stale: bool = False, candidates: bool = False) -> str:
    """The text of one table of a run (``fmt`` None: plain at a terminal, else markdown); with ``plot`` also
    writes the per-landmark bar chart."""
    from benchsuite.report import tables

    fmt = fmt or terminal_format()
    if fmt not in FORMATS:
        raise PluginError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    run = Run(folder, registry, include_stale, candidates).only(methods, datasets)
    if not run.cells:
        raise PluginError(f"{folder}: no completed cell" + (" matches the filters" if methods or datasets else " yet"))
    if plot is not None:
        if table != "per-landmark":
            raise PluginError("--plot draws the per-landmark chart: use it with --table per-landmark")
        from benchsuite.report.plots import per_landmark_bars

        summary, metric = tables.landmark_summary(run)
        path = per_landmark_bars(summary, Path(plot) if plot else Path(folder) / "plots" / "per-landmark.png",
                                 metric.unit)
        print(f"per-landmark chart written to {path}", file=sys.stderr)
    return _render(tables.build(run, table, alpha, dagger), fmt) + selection_note(run) + stale_note(run)


def selection_note(run: Run) -> str:
    """Which value each fold's nested selection chose, on validation error alone."""
    if not run.selections:
        return ""
    lines = ["\n\nchosen per fold on validation error (mean radial error of the fold's validation images, px), "
             "never on test (--candidates shows every candidate's own test scores):"]
    for s in run.selections:
        chosen = ", ".join(f"{k} = {v}" for k, v in sorted(s.values.items()))
        lines.append(f"  {s.dataset} | {s.method} | fold {s.fold}: {chosen} (validation error "
                     f"{min(s.val_errors.values()):.2f} px among {len(s.val_errors)} candidates)")
    return "\n".join(lines)


def stale_note(run: Run) -> str:
    """The completed cells of an earlier grid of this run, listed apart: never averaged into a row."""
    if not run.stale:
        return ""
    groups: dict[tuple[str, str], set[int]] = {}
    for cell in run.stale:
        groups.setdefault((cell.dataset, cell.method), set()).add(cell.fold)
    lines = [f"\n\n{len(run.stale)} completed cells belong to an earlier grid of this run and are not shown "
             "(--include-stale reports them, labelled stale):"]
    lines += [f"  {dataset} | {method}: folds {', '.join(map(str, sorted(folds)))}"
              for (dataset, method), folds in sorted(groups.items())]
    return "\n".join(lines)
