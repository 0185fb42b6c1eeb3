"""How each cell was trained, as its cell.json recorded it: time, epochs, what stopped it, input, weights, augmentation.

A reader who sees a network lose needs to know first whether it was given a fair chance: how many minutes it
trained, whether its budget cut it off while its validation error still fell (``run.curves.still_improving``),
whether it started from pretrained weights and what augmentation it saw. Methods without epochs (the mean
shape, dlib's shape predictor) have only their fit time.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from benchsuite.run.results import CellInfo, Run

CURVE_COLUMNS = ["dataset", "method", "fold", "epoch", "minutes", "val_mre"]
AUGMENTATION = (  # protocol setting -> how it reads (value formatted), in the order shown
    ("rotate_deg", lambda v: f"rotation ±{v:g}°"),
    ("scale", lambda v: f"zoom ±{100 * v:g} %"),
    ("translate", lambda v: f"shift ±{100 * v:g} %"),
    ("hflip", lambda v: f"flip p = {v:g}"),
    ("channel_shift", lambda v: f"channel shift ≤ {v:g}"),
    ("channel_split", lambda v: "channel split"),
)


def trains_epochs(record: dict) -> bool:
    """Whether the cell trained a network epoch by epoch (the mean shape and dlib fit in one go)."""
    return isinstance(record.get("epochs_run"), int) or bool(record.get("learning_curve"))


def training_minutes(record: dict) -> float | None:
    """Minutes of fitting: a network's training and validation passes (what its budget counts), a one-go
    method's fit; None where the cell did not record it."""
    seconds = record.get("train_seconds")
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return None
    extra = record.get("validation_seconds")
    return (seconds + (extra if isinstance(extra, (int, float)) and math.isfinite(extra) else 0.0)) / 60


def _params(component) -> dict:
    return (component or {}).get("params") or {} if isinstance(component, dict) else {}


def pretrained(cell: CellInfo) -> str:
    """Where a network's weights started: ImageNet, a named file, pre-training on other datasets, or random."""
    if not trains_epochs(cell.record):
        return "—"
    sources = [_params(cell.config.get(part)).get("weights") for part in ("encoder", "architecture")]
    source = next((s for s in sources if s), None)
    if isinstance(source, dict):  # a weights file recorded with its digest: {"file", "sha256"}
        source = source.get("file")
    if source == "imagenet":
        text = "ImageNet"
    elif source:
        text = Path(str(source)).name
    elif cell.record.get("weights"):
        text = Path(str(cell.record["weights"].get("file", "file"))).name
    else:
        text = ""
    if cell.record.get("pretrain"):
        text = f"{text}, then other datasets" if text else "other datasets"
    return text or "no (random)"


def augmentation(cell: CellInfo) -> str:
    """The geometric and colour augmentation a network trained with, in words ("none" without any)."""
    if not trains_epochs(cell.record):
        return "—"
    protocol = cell.config.get("protocol") or {}
    parts = [say(protocol[key]) for key, say in AUGMENTATION if protocol.get(key)]
    return ", ".join(parts) or "none"


def input_text(cell: CellInfo) -> str:
    size = cell.input_size if trains_epochs(cell.record) else None
    return f"{size[0]:g}×{size[1]:g}" if size else "—"


def curves(run: Run) -> pd.DataFrame:
    """Every network cell's learning curve: one row per epoch with its elapsed minutes (training and validation,
    what a budget counts) and validation mean radial error; cells recorded without a curve have none."""
    rows = [{"dataset": c.dataset, "method": c.method, "fold": c.fold, "epoch": p.get("epoch"),
             "minutes": p.get("elapsed_seconds", math.nan) / 60, "val_mre": p.get("val_mre")}
            for c in run.cells for p in c.record.get("learning_curve") or []
            if isinstance(p, dict) and isinstance(p.get("elapsed_seconds"), (int, float))]
    table = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    table["val_mre"] = pd.to_numeric(table["val_mre"], errors="coerce")
    return table


def fits(run: Run, fold_scores: pd.DataFrame) -> pd.DataFrame:
    """Each one-go method's folds (no epochs): fit minutes and test score (they hold no validation out)."""
    minutes = {(c.dataset, c.method, c.fold): training_minutes(c.record) for c in run.cells
               if not trains_epochs(c.record)}
    table = fold_scores[[k in minutes for k in zip(fold_scores.dataset, fold_scores.method, fold_scores.fold)]].copy()
    table["minutes"] = [minutes[k] for k in zip(table.dataset, table.method, table.fold)]
    return table.dropna(subset=["minutes"])[["dataset", "method", "fold", "minutes", "score"]]
