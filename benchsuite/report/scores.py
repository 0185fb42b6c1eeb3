"""Scores of a run under one metric, at the levels the papers report.

Per image (the unit of the paired tests), per fold (the mean over the fold's
test images, or the metric's own ``fold_score``), per landmark, and per
method: mean ± sample std (ddof = 1) over folds. A method missing folds is
flagged incomplete; its mean is shown for information but never treated as
comparable (no bold, no rank, no test).
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from benchsuite.api import PluginError
from benchsuite.plugins import Registry
from benchsuite.run.results import Run

FOLD_COLUMNS = ["dataset", "method", "fold", "folds", "score", "images", "missing"]


def parse_metric(spec: str) -> tuple[str, dict[str, Any]]:
    """``"hit-rate(threshold=2,unit=delta)"`` -> ("hit-rate", {"threshold": 2.0, "unit": "delta"})."""
    match = re.fullmatch(r"\s*([\w.-]+)\s*(?:\((.*)\))?\s*", spec)
    if not match:
        raise PluginError(f"bad metric {spec!r} (expected NAME or NAME(key=value,...))")
    params = {}
    for item in filter(None, (match.group(2) or "").split(",")):
        key, _, value = item.partition("=")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            params[key.strip()] = value.strip()
    return match.group(1), params


def load_metric(registry: Registry, spec: str | None = None):
    """A metric from its spec; without one, the metric that declares itself the headline."""
    if spec is None:
        return registry.create("metrics", headline_metric(registry))
    name, params = parse_metric(spec)
    return registry.create("metrics", name, params)


def headline_metric(registry: Registry) -> str:
    return registry.the_one("metrics", lambda cls: cls.headline, "the headline metric (headline = True)").name


def missing_truth(predictions: pd.DataFrame) -> int:
    """Landmarks without ground truth in this table (excluded from every metric, counted here)."""
    return int((predictions["x"].isna() | predictions["y"].isna()).sum())


def fold_scores(run: Run, metric) -> pd.DataFrame:
    """One row per completed cell: its score, test images and missing landmarks."""
    rows = []
    for cell in run.cells:
        predictions = run.predictions(cell)
        if "fold" in metric.scores:
            score = metric.fold_score(predictions)
        else:
            per_image = metric.per_image(predictions)
            score = float(per_image.mean())
        rows.append({"dataset": cell.dataset, "method": cell.method, "fold": cell.fold, "folds": cell.folds,
                     "score": score, "images": int(predictions["image_id"].nunique()),
                     "missing": missing_truth(predictions)})
    return pd.DataFrame(rows, columns=FOLD_COLUMNS)


def image_scores(run: Run, metric) -> pd.DataFrame:
    """One row per out-of-fold test image: the metric's per-image value."""
    frames = []
    for cell in run.cells:
        values = metric.per_image(run.predictions(cell))
        frames.append(pd.DataFrame({"dataset": cell.dataset, "method": cell.method, "fold": cell.fold,
                                    "image_id": values.index.astype(str), "value": values.to_numpy(float)}))
    columns = ["dataset", "method", "fold", "image_id", "value"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def landmark_scores(run: Run, metric) -> pd.DataFrame:
    """One row per cell × landmark: the metric over that fold's images, with the landmark's position."""
    frames = []
    for cell in run.cells:
        predictions = run.predictions(cell)
        values = metric.per_landmark(predictions)
        order = {name: i for i, name in enumerate(pd.unique(predictions["landmark"]))}
        frames.append(pd.DataFrame({"dataset": cell.dataset, "method": cell.method, "fold": cell.fold,
                                    "folds": cell.folds, "landmark": values.index.astype(str),
                                    "index": [order[n] for n in values.index], "score": values.to_numpy(float)}))
    columns = ["dataset", "method", "fold", "folds", "landmark", "index", "score"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def summarise(scores: pd.DataFrame, higher_is_better: bool = False, by: tuple[str, ...] = ("dataset", "method"),
              images: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean ± sample std over folds per group; complete ones first, best first.

    With ``images`` (from ``image_scores``) also the median and 90th
    percentile over all out-of-fold test images, each image counted once.
    """
    group = list(by)
    aggregations = {"mean": ("score", "mean"), "std": ("score", "std"), "folds_done": ("fold", "nunique"),
                    "folds": ("folds", "max")}
    if "images" in scores:
        aggregations |= {"images": ("images", "sum"), "missing": ("missing", "sum")}
    table = scores.groupby(group, sort=True).agg(**aggregations).reset_index()
    table["complete"] = table["folds_done"] >= table["folds"]
    if images is not None:
        spread = images.groupby(group)["value"].agg(median="median", p90=lambda v: np.nanpercentile(v, 90))
        table = table.merge(spread.reset_index(), on=group, how="left")
    keys = group[:-1] + ["complete", "mean"]
    ascending = [True] * (len(group) - 1) + [False, not higher_is_better]
    return table.sort_values(keys, ascending=ascending, ignore_index=True)


def best_per_group(summary: pd.DataFrame, higher_is_better: bool, by: str | list[str] = "dataset") -> pd.Series:
    """True where a complete method has the best mean of its group (ties all count as best)."""
    complete = summary["mean"].where(summary["complete"])
    best = complete.groupby([summary[k] for k in ([by] if isinstance(by, str) else by)]).transform(
        "max" if higher_is_better else "min")
    return (complete == best) & complete.notna()
