"""Which trained models a run keeps on disk (``benchsuite run --keep-weights best|all|none``).

Each fold's model of a network is tens of MB (a U-Net fold: 46 MB), so a lab grid of 25 cells would keep
hundreds of MB that nobody uses. ``best`` (the default) keeps, once every cell the run asked for is
complete, the fold models of each dataset's best method (ties: all of them): what ``fit --from-folds`` on
the winner reads. ``fit`` without ``--from-folds`` trains afresh and needs none. ``all`` keeps every model;
``none`` saves none.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from benchsuite.report import scores as _scores
from benchsuite.run.results import Run
from benchsuite.run.store import RunStore, asked_cells

KEEP = ("best", "all", "none")
MODEL = "model"


def keep_best_models(folder: Path, registry) -> int:
    """Remove the kept models of every cell but those of each dataset's best complete method; the bytes
    freed. Nothing is removed while a cell the run asked for is not complete (the best is not known yet)."""
    store = RunStore(folder)
    manifest = store.manifest()
    asked = set(asked_cells(manifest)) if manifest else set(store.cell_ids())
    if any(store.status(cell_id) != "ok" for cell_id in asked):
        return 0
    run = Run(store, registry)
    metric = _scores.load_metric(registry)
    summary = _scores.summarise(_scores.fold_scores(run, metric), metric.higher_is_better)
    if summary.empty:
        return 0
    best = summary[_scores.best_per_group(summary, metric.higher_is_better)]
    winners = set(zip(best["dataset"], best["method"]))
    freed = 0
    for cell in run.cells:
        model = store.cell_dir(cell.id) / MODEL
        if (cell.dataset, cell.method) in winners or not model.is_dir():
            continue
        freed += _remove(model)
    return freed


def _remove(model: Path) -> int:
    """Remove a model folder, renamed first so that a reader sees the whole model or none; its bytes."""
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    going = model.with_name(f".{MODEL}.removing-{os.getpid()}")
    try:
        model.rename(going)
    except OSError:
        return 0  # removed by another launcher meanwhile
    shutil.rmtree(going, ignore_errors=True)
    return size
