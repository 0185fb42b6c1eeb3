"""The results store: one folder per cell, written atomically.

``results/<run>/cells/<cell-id>/`` holds ``cell.json`` (configuration,
versions, hardware, timings, status) and, for a finished cell,
``predictions.parquet``. A cell is written into a temporary folder and then
renamed into place, so a reader (or a run killed half-way) never sees half a
cell. Everything downstream is computed from these files alone.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

PREDICTION_COLUMNS = ["image_id", "landmark", "x", "y", "pred_x", "pred_y"]
_TMP_PREFIX = ".tmp-"


class RunStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.cells_dir = self.root / "cells"

    def cell_dir(self, cell_id: str) -> Path:
        return self.cells_dir / cell_id

    def record(self, cell_id: str) -> dict[str, Any] | None:
        path = self.cell_dir(cell_id) / "cell.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def status(self, cell_id: str) -> str | None:
        record = self.record(cell_id)
        return record["status"] if record else None

    def write(self, cell_id: str, record: dict[str, Any], predictions: pd.DataFrame | None = None) -> Path:
        """Write a cell completely under a temporary name, then rename it in."""
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cells_dir / f"{_TMP_PREFIX}{cell_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        if predictions is not None:
            missing = set(PREDICTION_COLUMNS) - set(predictions.columns)
            if missing:
                raise ValueError(f"predictions lack columns {sorted(missing)}")
            _durable(tmp / "predictions.parquet", lambda p: predictions.to_parquet(p, index=False))
        _durable(tmp / "cell.json", lambda p: p.write_text(json.dumps(record, indent=2, default=str)))
        target = self.cell_dir(cell_id)
        if target.exists():  # replacing a failed (or --force'd) cell
            old = self.cells_dir / f"{_TMP_PREFIX}old-{cell_id}-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
        _fsync_dir(self.cells_dir)
        return target

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.cells_dir.is_dir():
            return
        for path in sorted(self.cells_dir.iterdir()):
            if not path.name.startswith(_TMP_PREFIX):
                record = self.record(path.name)
                if record is not None:
                    yield record

    def predictions(self, cell_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.cell_dir(cell_id) / "predictions.parquet")

    def remove_stale_temporaries(self) -> int:
        """Delete temporaries left by runs that were killed (their process is gone)."""
        removed = 0
        if not self.cells_dir.is_dir():
            return removed
        for path in self.cells_dir.glob(f"{_TMP_PREFIX}*"):
            pid = _owner_pid(path.name)
            if pid is None or not _alive(pid):
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed


def _durable(path: Path, write) -> None:
    write(path)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _owner_pid(name: str) -> int | None:
    parts = name[len(_TMP_PREFIX) :].split("-")
    if len(parts) == 3 and parts[1].isdigit():
        return int(parts[1])
    return None  # "old-…" leftovers of an interrupted replacement


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
