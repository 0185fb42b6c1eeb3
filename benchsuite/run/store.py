"""The results store: one folder per cell, written atomically, checked when read.

``results/<run>/cells/<cell-id>/`` holds ``cell.json`` (configuration,
versions, hardware, timings, status) and, for a finished cell,
``predictions.parquet``. A cell is written into a temporary folder and then
renamed into place (a replacement swaps the two folders in one step), so a
reader (or a run killed half-way) never sees half a cell, nor a moment
without one. ``cell.json`` records the row count and the sha256 of its
parquet: a cell is complete only when both files are there, parse, and
match, and when its record's identity hashes to the folder's name (so an
edited fold or a record copied from another cell is not counted as a cell
it is not). A truncated or edited cell is *corrupt*: reported, never used,
and recomputed by the next run, which first moves it aside as
``cells/.<id>.rejected-…`` for whoever wants to see what happened to it. Everything downstream is computed from these
files alone.

**Claims.** A cell is claimed with an ``flock`` on ``cells/.locks/<id>.lock``
while it is computed; locks die with their process. On a file system where
``flock`` is local to each node (NFS mounted with ``local_lock=flock`` or
``all``, Lustre with ``localflock``) two launchers on different nodes can
both claim a cell: both compute it and the last one to finish replaces the
other's complete cell with its own (identical in configuration), so the
worst case is duplicate compute, never a corrupt or lost cell. Temporaries
are cleaned only when nobody holds their cell's claim *and* they are older
than :data:`STALE_AFTER_S`, so a writer whose lock another node cannot see
is not robbed of its temporary while it renames it into place.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from benchsuite.api import PluginError, one_line
from benchsuite.files import fsync_dir, lock_error, locked, set_aside, sha256, write_atomic, write_text_atomic
from benchsuite.run import record as cell_record

PREDICTION_COLUMNS = ["image_id", "landmark", "x", "y", "pred_x", "pred_y"]
IMAGE_COLUMNS = ["width", "height"]  # the original image size; tables written before it was stored lack it
_TMP_PREFIX = ".tmp-"
_CELL_ID = re.compile(r"[0-9a-f]{16}")  # what cells.cell_id names a folder
STALE_AFTER_S = 600.0  # a temporary this old, whose cell nobody has claimed, is a leftover of a killed writer


class RunStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.cells_dir = self.root / "cells"

    # --- the grid a run was started with ---------------------------------------------------------

    def adopt_grid(self, name: str, cell_ids: list[str], allow_change: bool = False, *,
                   asked: list[str] | None = None) -> None:
        """Record the grid a run was started with and the cells asked of it (all of them unless filters chose
        some); refuse another grid under the same run name. A later launch adds the cells it asks for, so a
        filtered run is complete when its own cells are, and an unfiltered one extends it."""
        manifest = self.root / "grid.json"
        wanted = sorted(cell_ids)
        asked = set(wanted if asked is None else asked)
        self.root.mkdir(parents=True, exist_ok=True)
        with locked(self.root / ".grid.lock"):  # two launchers starting at once read and write it in turn
            try:
                known = self.manifest()
            except PluginError:
                known = None  # corrupt: the grid now given is recorded afresh (cells are named by content)
            if known is not None:
                conflict = None if allow_change else self.grid_conflict(wanted, known)
                if conflict:
                    raise PluginError(conflict)
                asked |= set(asked_cells(known)) & set(wanted)
                if known["cells"] == wanted and set(asked_cells(known)) == asked:
                    return
            record = {"grid": name if known is None or allow_change else known["grid"], "cells": wanted,
                      "asked": sorted(asked)}
            write_text_atomic(manifest, json.dumps(record, indent=1))

    def grid_conflict(self, cell_ids: list[str], known: dict[str, Any] | None = None) -> str | None:
        """Why this run folder refuses a grid of these cells (it was started with another one), or None."""
        if known is None:
            try:
                known = self.manifest()
            except PluginError:
                return None  # corrupt: the next launch records its grid afresh
        if known is None or known["cells"] == sorted(cell_ids):
            return None
        differ = len(set(known["cells"]) ^ set(cell_ids))
        return (f"{self.root}: this run was started with grid {known['grid']!r} and {differ} cells differ from the "
                "grid now given; use another --run name, or --change-grid to adopt the new grid")

    def manifest(self) -> dict[str, Any] | None:
        """The run's grid.json, None when absent; a one-line error when it is corrupt."""
        path = self.root / "grid.json"
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise PluginError(f"{path}: corrupt ({exc}); run the grid again to rewrite it") from None
        if not (isinstance(data, dict) and isinstance(data.get("grid"), str) and isinstance(data.get("cells"), list)):
            raise PluginError(f"{path}: corrupt (not a grid manifest); run the grid again to rewrite it")
        return data

    # --- reading cells -----------------------------------------------------------------------------

    def cell_dir(self, cell_id: str) -> Path:
        return self.cells_dir / cell_id

    def inspect(self, cell_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """(record, None) for an intact cell, (None, None) for none at all, (None, why) for a corrupt one.

        A cell replaced while it is read (another writer swapping in its copy) is read again, so a reader
        never mistakes the mix of an old cell.json and a new table for corruption.
        """
        folder = self.cell_dir(cell_id)
        for _ in range(10):
            before = _identity(folder)
            record, problem = self._read_cell(folder)
            if problem is None or _identity(folder) == before:
                break
        return record, problem

    @staticmethod
    def _read_cell(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
        try:
            record = json.loads((folder / "cell.json").read_bytes())
        except FileNotFoundError:
            return None, ("cell.json is missing" if folder.is_dir() else None)
        except ValueError as exc:
            return None, f"cell.json does not parse ({exc})"
        record, problem = cell_record.read(record, folder.name)
        if problem:
            return None, problem
        if record["status"] == "ok":
            problem = _predictions_problem(folder / "predictions.parquet", record.get("predictions"))
            if problem:
                return None, problem
        return record, None

    def record(self, cell_id: str) -> dict[str, Any] | None:
        return self.inspect(cell_id)[0]

    def status(self, cell_id: str) -> str | None:
        """ok, failed, corrupt, or None (not there)."""
        record, problem = self.inspect(cell_id)
        return "corrupt" if problem else (record["status"] if record else None)

    def cell_ids(self) -> list[str]:
        """The names of the folders under ``cells/`` (cells, or whatever else was put there), temporaries aside."""
        if not self.cells_dir.is_dir():
            return []
        return sorted(p.name for p in self.cells_dir.iterdir() if not p.name.startswith(".") and p.is_dir())

    def records(self) -> Iterator[dict[str, Any]]:
        """Every intact cell's record (complete or failed); corrupt ones are left out (see :meth:`corrupt`)."""
        for cell_id in self.cell_ids():
            record = self.record(cell_id)
            if record is not None:
                yield record

    def corrupt(self) -> dict[str, str]:
        """Cell id -> why it cannot be used (truncated, edited or half-written files)."""
        found = {}
        for cell_id in self.cell_ids():
            problem = self.inspect(cell_id)[1]
            if problem:
                found[cell_id] = problem
        return found

    def set_aside_if_corrupt(self, cell_id: str) -> tuple[Path, str] | None:
        """Move a corrupt cell out of the way before it is recomputed, kept as evidence (an edited record is worth
        a look) and never read again: (where it went, why it is corrupt), or None for a usable or absent cell.
        Call it holding the cell's claim."""
        problem = self.inspect(cell_id)[1]
        if problem is None:
            return None
        return set_aside(self.cell_dir(cell_id), hidden=True), problem

    def predictions(self, cell_id: str) -> pd.DataFrame:
        """A cell's predictions table (pyarrow alone reads it: no engine that could unpickle); a table damaged
        past its footer is one line naming it."""
        import pyarrow

        path = self.cell_dir(cell_id) / "predictions.parquet"
        try:
            return pd.read_parquet(path, engine="pyarrow")
        except (OSError, ValueError, pyarrow.ArrowException) as exc:
            raise PluginError(f"{path}: cannot be read as a predictions table ({one_line(str(exc))}); remove "
                              "the cell's folder and run the grid again to recompute it") from None

    def checkpoint_path(self, cell_id: str) -> Path:
        return self.root / "checkpoints" / f"{cell_id}.pt"

    # --- writing cells -------------------------------------------------------------------------------

    def staging(self, cell_id: str) -> Path:
        """A temporary folder the cell is built in (its kept model first); :meth:`write` moves it into place."""
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cells_dir / f"{_TMP_PREFIX}{cell_id}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        return tmp

    def write(self, cell_id: str, record: dict[str, Any], predictions: pd.DataFrame | None = None,
              staging: Path | None = None) -> Path:
        """Write a cell completely under a temporary name (``staging``, if it was started), then move it into
        place in one step."""
        tmp = staging or self.staging(cell_id)
        try:
            if predictions is not None:
                missing = set(PREDICTION_COLUMNS) - set(predictions.columns)
                if missing:
                    raise ValueError(f"predictions lack columns {sorted(missing)}")
                table = tmp / "predictions.parquet"
                write_atomic(table, lambda handle: predictions.to_parquet(handle, index=False))
                record = record | {"predictions": {"rows": len(predictions), "sha256": sha256(table)}}
            write_text_atomic(tmp / "cell.json", json.dumps(cell_record.stamp(record, cell_id), indent=2, default=str))
            target = self.cell_dir(cell_id)
            try:
                os.rename(tmp, target)  # a new cell
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                _replace(tmp, target)  # a failed, corrupt or --force'd cell: the new one takes its place at once
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # the old cell after a swap, or what a failed write left
        fsync_dir(self.cells_dir)
        return target

    # --- claims and leftovers ------------------------------------------------------------------------

    def _lock_file(self, cell_id: str) -> Path:
        return self.cells_dir / ".locks" / f"{cell_id}.lock"

    @contextlib.contextmanager
    def claim(self, cell_id: str) -> Iterator[bool]:
        """Hold an exclusive lock on a cell while computing it; False if another process holds it.

        ``flock`` locks die with their process, so a killed run never leaves a stale claim.
        """
        lock_file = self._lock_file(cell_id)
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_file, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            except OSError as exc:
                raise lock_error(lock_file, exc) from None
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def in_progress(self, cell_id: str) -> bool:
        """Whether some live process holds this cell's claim right now (works on a read-only run folder)."""
        try:
            fd = os.open(self._lock_file(cell_id), os.O_RDONLY)
        except FileNotFoundError:
            return False  # never claimed
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        except OSError as exc:
            raise lock_error(self._lock_file(cell_id), exc) from None
        finally:
            os.close(fd)

    def write_splits(self, rows: list[dict]) -> Path:
        """The split every cell of this run uses (dataset, image, fold, part): another tool can reuse the folds."""
        path = self.root / "splits.csv"
        table = pd.DataFrame(rows, columns=["dataset", "image", "fold", "part"])
        write_atomic(path, lambda handle: table.to_csv(handle, index=False))
        return path

    def remove_stale_temporaries(self, older_than_s: float = STALE_AFTER_S) -> int:
        """Delete temporaries of writers that are gone: their cell's claim is free and they are old.

        Ownership is the claim lock, never a process id: a launcher on another node or in another PID
        namespace cannot tell whether a process id is alive, but every writer holds its cell's claim.
        """
        removed = 0
        leftovers = [*self.cells_dir.glob(f"{_TMP_PREFIX}*")] if self.cells_dir.is_dir() else []
        checkpoints = self.root / "checkpoints"
        leftovers += [*checkpoints.glob(".*.tmp")] if checkpoints.is_dir() else []
        for path in leftovers:
            cell_id = _temporary_cell(path.name)
            try:
                if cell_id is None or time.time() - path.lstat().st_mtime < older_than_s:
                    continue
            except FileNotFoundError:
                continue
            with self.claim(cell_id) as claimed:
                if claimed:
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                    removed += 1
        return removed


def what_becomes_of_corrupt(cell_id: str, grid_cells: Iterable[str] | None) -> str:
    """What happens to a corrupt cell, said to the user: the next run recomputes the cells of the run's grid (its
    grid.json; without one, whatever grid it is given next), and no run touches any other folder under cells/ (an
    earlier grid's cell, or one that is not a cell at all), so that is never promised."""
    if grid_cells is None and _CELL_ID.fullmatch(cell_id):
        return "the next run recomputes it if it is a cell of the grid it is given"
    if grid_cells is not None and cell_id in grid_cells:
        return "the next run recomputes it"
    return "it is not a cell of this run's grid, so no run recomputes it; remove it if nothing in it is yours"


def _identity(folder: Path) -> tuple[int, int] | None:
    """Which directory a path names right now (a swap gives the same name another directory)."""
    try:
        stat = folder.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _temporary_cell(name: str) -> str | None:
    """The cell a temporary belongs to: ``.tmp-<id>-…``, ``.tmp-old-<id>-…`` (older runs) or ``.<id>.pt.….tmp``."""
    if name.startswith(_TMP_PREFIX):
        parts = name[len(_TMP_PREFIX):].split("-")
        cell_id = parts[1] if parts[0] == "old" and len(parts) > 1 else parts[0]
    else:
        cell_id = name.lstrip(".").split(".")[0]
    return cell_id or None


def _predictions_problem(path: Path, recorded: Any) -> str | None:
    """Why a complete cell's predictions cannot be used, or None: the digest cell.json records, where it records
    one, and always a parquet table with the prediction columns (a digest recomputed over another file, a
    pickle say, proves nothing about what the file is)."""
    if not path.is_file():
        return "predictions.parquet is missing"
    if isinstance(recorded, dict) and "sha256" in recorded and sha256(path) != recorded["sha256"]:
        return "predictions.parquet does not match the sha256 in cell.json (truncated or edited)"
    try:
        import pyarrow.parquet as pq

        columns = pq.read_schema(path).names  # the footer alone: never the data, never a pickle
    except Exception as exc:  # noqa: BLE001 - any failure to read it means the same
        return f"predictions.parquet is not a parquet table ({type(exc).__name__})"
    missing = [column for column in PREDICTION_COLUMNS if column not in columns]
    return f"predictions.parquet lacks the columns {missing}" if missing else None


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _replace(new: Path, target: Path) -> None:
    """Put ``new`` where ``target`` is; afterwards the old content is at ``new``.

    Linux swaps the two in one step (``renameat2`` with ``RENAME_EXCHANGE``), so readers always find a cell.
    Where that is not supported, the old cell is renamed away first: a reader may then, for an instant,
    find no cell (and a re-run would recompute it), but never a mixed one.
    """
    if _exchange(new, target):
        return
    old = new.with_name(f"{new.name}-old")
    os.rename(target, old)
    os.rename(new, target)
    os.rename(old, new)


def _exchange(a: Path, b: Path) -> bool:
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # this file system cannot swap
    raise OSError(code, os.strerror(code), str(b))


def asked_cells(manifest: dict[str, Any]) -> list[str]:
    """The cells a run was asked to compute: those its launches selected (a manifest written before filters
    were recorded asked for the whole grid)."""
    asked = manifest.get("asked")
    return asked if isinstance(asked, list) else manifest["cells"]
