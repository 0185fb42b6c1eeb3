"""The results store: one folder per cell, written atomically.

``results/<run>/cells/<cell-id>/`` holds ``cell.json`` (configuration,
versions, hardware, timings, status) and, for a finished cell,
``predictions.parquet``. A cell is written into a temporary folder and then
renamed into place, so a reader (or a run killed half-way) never sees half a
cell. Everything downstream is computed from these files alone.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from benchsuite.api import PluginError

PREDICTION_COLUMNS = ["image_id", "landmark", "x", "y", "pred_x", "pred_y"]
IMAGE_COLUMNS = ["width", "height"]  # the original image size; tables written before it was stored lack it
_TMP_PREFIX = ".tmp-"


class RunStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.cells_dir = self.root / "cells"

    def adopt_grid(self, name: str, cell_ids: list[str], allow_change: bool = False) -> None:
        """Record the grid a run was started with; refuse another grid under the same run name."""
        manifest = self.root / "grid.json"
        wanted = {"grid": name, "cells": sorted(cell_ids)}
        if manifest.is_file() and not allow_change:
            known = json.loads(manifest.read_text())
            if known["cells"] != wanted["cells"]:
                differ = len(set(known["cells"]) ^ set(wanted["cells"]))
                raise PluginError(
                    f"{self.root}: this run was started with grid {known['grid']!r} and {differ} cells differ from "
                    f"the grid now given; use another --run name, or --change-grid to adopt the new grid"
                )
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = manifest.with_name(f".grid.json.{os.getpid()}")
        tmp.write_text(json.dumps(wanted, indent=1))
        os.replace(tmp, manifest)

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

    def staging(self, cell_id: str) -> Path:
        """A temporary folder the cell is built in (its kept model first); :meth:`write` renames it into place."""
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cells_dir / f"{_TMP_PREFIX}{cell_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        return tmp

    def write(self, cell_id: str, record: dict[str, Any], predictions: pd.DataFrame | None = None,
              staging: Path | None = None) -> Path:
        """Write a cell completely under a temporary name (``staging``, if it was started), then rename it in."""
        tmp = staging or self.staging(cell_id)
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
            if not path.name.startswith("."):  # temporaries, locks
                record = self.record(path.name)
                if record is not None:
                    yield record

    @contextlib.contextmanager
    def claim(self, cell_id: str) -> Iterator[bool]:
        """Hold an exclusive lock on a cell while computing it; False if another process holds it.

        ``flock`` locks die with their process, so a killed run never leaves a stale claim.
        """
        locks = self.cells_dir / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{cell_id}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def in_progress(self, cell_id: str) -> bool:
        """Whether some live process holds this cell's claim right now."""
        with self.claim(cell_id) as claimed:
            return not claimed

    def write_splits(self, rows: list[dict]) -> Path:
        """The split every cell of this run uses (dataset, image, fold, part): another tool can reuse the folds."""
        path = self.root / "splits.csv"
        tmp = path.with_name(f".splits.csv.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        _durable(tmp, lambda p: pd.DataFrame(rows, columns=["dataset", "image", "fold", "part"]).to_csv(p, index=False))
        os.replace(tmp, path)
        return path

    def manifest(self) -> dict[str, Any] | None:
        path = self.root / "grid.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def checkpoint_path(self, cell_id: str) -> Path:
        return self.root / "checkpoints" / f"{cell_id}.pt"

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
