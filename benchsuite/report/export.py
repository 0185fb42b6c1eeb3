"""``benchsuite export RUN --to parquet|csv``: every prediction of a run as one tidy table.

One row per run × dataset × method × fold × test image × landmark, so that
several runs' exports can be queried together (DuckDB, pandas, R) without
knowing the results folder's layout. Read from ``cell.json`` and
``predictions.parquet`` only; needs no plugin.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from benchsuite.api import PluginError
from benchsuite.distance import radial_errors
from benchsuite.files import check_file, write_atomic
from benchsuite.run.cells import configuration_id
from benchsuite.run.store import RunStore

FORMATS = ("parquet", "csv")
COLUMN_MEANINGS = {
    "run": "the run's name", "dataset": "the dataset as the tables name it", "method": "the method's label",
    "configuration_id": "the method's settings (one leaderboard row)", "fold": "the fold the image was tested in",
    "image": "the image's id in its dataset", "landmark": "the landmark's name",
    "truth_x, truth_y": "the annotation", "pred_x, pred_y": "the prediction",
    "error": "radial error, original pixels (empty where the landmark has no annotation)",
}


def export_columns() -> str:
    """The columns and the coordinate convention, for ``export --help``."""
    lines = [f"  {name}: {meaning}" for name, meaning in COLUMN_MEANINGS.items()]
    intro = textwrap.fill("One row per run, dataset, method, fold, test image and landmark. Coordinates are in "
                          "the original image's pixels: x counts from the left, y from the top (as in the image "
                          "file), and the centre of the top-left pixel is (0, 0).", 79)
    return intro + "\n\ncolumns:\n" + "\n".join(lines)
COLUMNS = ["run", "dataset", "method", "configuration_id", "fold", "image", "landmark", "truth_x", "truth_y",
           "pred_x", "pred_y", "error"]


def tidy(folder: Path) -> pd.DataFrame:
    """Every stored prediction of a run's completed cells; ``error`` is the radial error in original pixels
    (NaN where the landmark has no ground truth)."""
    store = RunStore(folder)
    frames = []
    for record in store.records():
        if record.get("status") != "ok":
            continue
        predictions = store.predictions(record["id"])
        config = record.get("config") or {}
        frames.append(pd.DataFrame({
            "run": record.get("run") or store.root.name,
            "dataset": record["dataset"],
            "method": record["method"],
            "configuration_id": record.get("configuration_id") or configuration_id(config),
            "fold": int(record["fold"]),
            "image": predictions["image_id"].astype(str),
            "landmark": predictions["landmark"].astype(str),
            "truth_x": predictions["x"].astype(float),
            "truth_y": predictions["y"].astype(float),
            "pred_x": predictions["pred_x"].astype(float),
            "pred_y": predictions["pred_y"].astype(float),
        }))
    if not frames:
        raise PluginError(f"{folder}: no completed cell to export")
    table = pd.concat(frames, ignore_index=True)
    table["error"] = radial_errors(table[["pred_x", "pred_y"]].to_numpy(float),
                                   table[["truth_x", "truth_y"]].to_numpy(float))
    return table[COLUMNS]


def export(folder: Path, fmt: str = "parquet", out: Path | None = None) -> tuple[Path, int]:
    """Write the tidy table (atomically) to ``out``, by default ``RUN/export/predictions.<fmt>``; the path and
    the number of rows."""
    if fmt not in FORMATS:
        raise PluginError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out = check_file(out or Path(folder) / "export" / f"predictions.{fmt}", "export", f"predictions.{fmt}")
    table = tidy(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, lambda handle: table.to_parquet(handle, index=False) if fmt == "parquet"
                 else table.to_csv(handle, index=False))
    return out, len(table)
