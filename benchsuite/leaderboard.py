"""Leaderboards from stored predictions only: per dataset, each method's
score as mean ± std over folds (the fold's score is the mean over its test
images), like the tables of the fish paper."""
from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from benchsuite.plugins import Registry
from benchsuite.store import RunStore

FORMATS = ("md", "csv", "latex")


def fold_scores(store: RunStore, registry: Registry, metric_name: str = "mre") -> pd.DataFrame:
    """One row per completed cell: dataset, method, fold, score, images."""
    metric = registry.get("metrics", metric_name).cls()
    rows = []
    for record in store.records():
        if record["status"] != "ok":
            continue
        per_image = metric.per_image(store.predictions(record["id"]))
        rows.append({
            "dataset": record["dataset"],
            "method": record["method"],
            "fold": record["fold"],
            "folds": record["config"]["protocol"]["folds"],
            "score": float(per_image.mean()),
            "images": int(per_image.count()),
        })
    return pd.DataFrame(rows, columns=["dataset", "method", "fold", "folds", "score", "images"])


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sample std (ddof=1) over folds; a method missing folds is flagged incomplete."""
    grouped = scores.groupby(["dataset", "method"], sort=True)
    table = grouped.agg(mean=("score", "mean"), std=("score", "std"), folds_done=("fold", "nunique"),
                        folds=("folds", "max"), images=("images", "sum")).reset_index()
    table["complete"] = table["folds_done"] == table["folds"]
    return table.sort_values(["dataset", "complete", "mean"], ascending=[True, False, True], ignore_index=True)


def render(table: pd.DataFrame, fmt: str = "md", metric_label: str = "MRE (px)") -> str:
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    rows = []
    for row in table.itertuples():
        score = f"{row.mean:.2f} ± {row.std:.2f}" if row.folds_done > 1 else f"{row.mean:.2f}"
        folds = f"{row.folds_done}/{row.folds}" + ("" if row.complete else " incomplete")
        rows.append([row.dataset, row.method, score, folds, row.images])
    headers = ["dataset", "method", f"{metric_label} mean ± std over folds", "folds", "test images"]
    return tabulate(rows, headers=headers, tablefmt="github" if fmt == "md" else "latex")
