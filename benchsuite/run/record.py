"""The cell record: what ``cell.json`` holds, its format version, and the one place that reads it.

Format 2 (this version) adds ``format`` itself and a cell identity (``config``) restricted to the protocol
settings the method reads; format 1 is what earlier versions wrote (no ``format`` key, the whole protocol
in ``config``, and before that no predictions digest). Both are read, explicitly; any other format is an
unreadable cell, said in one line, which the next run recomputes.
"""
from __future__ import annotations

from typing import Any, TypedDict

from benchsuite.run.cells import cell_id, configuration_id

FORMAT = 2
READS = (1, 2)


class CellRecord(TypedDict, total=False):
    """Every key of a cell.json: ``status`` is required, the identity keys are checked for their type."""

    format: int  # FORMAT when written; 1 for a record without the key
    id: str  # the cell id: a hash of ``config``
    status: str  # "ok" or "failed"
    config: dict[str, Any]  # the cell's identity: dataset, architecture (or method), encoder, codec, fold, protocol
    dataset: str  # the dataset's label in tables
    method: str  # the method's label in tables ("arch+encoder+codec", or a method's own)
    fold: int
    # where and when
    run: str
    configuration_id: str  # config without the fold: one leaderboard row
    started: float  # seconds since the epoch
    host: str
    pid: int
    wall_seconds: float  # the whole cell, reading to writing
    error: str | None  # "Type: message" of a failed cell
    traceback: str
    # the data
    split: dict[str, int]  # train, val, test image counts of the fold
    folds: int
    pixel_size_mm: float | None
    human_error: float | None  # the inter-annotator mean radial error (original pixels), where known
    selection: dict[str, Any]  # a candidate of a nested selection: its group, label and values
    predictions: dict[str, Any]  # rows and sha256 of predictions.parquet
    # the fit
    val_mre: float  # mean radial error on the validation part, where it was held out (original pixels)
    train_seconds: float
    validation_seconds: float
    ceiling_seconds: float
    fixed_seconds: float  # the wall time that does not grow with the epochs
    train_share: float
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    stopped_by: str | None  # epochs | patience | budget
    train_images_per_s: float
    bare_images_per_s: float
    pipeline_efficiency: float
    parameters: int
    device: str
    val_loss_over_flat: float
    collapsed: bool
    collapsed_above: float
    collapse_remedy: str
    pretrain: dict[str, Any]
    stages: dict[str, Any]  # a method training in stages: each stage's epochs and what stopped it
    learning_curve: list[dict[str, Any]]  # per epoch: epoch, train_seconds, elapsed_seconds, val_loss, val_mre


_TYPES: dict[str, type | tuple[type, ...]] = {"id": str, "config": dict, "dataset": str, "method": str, "fold": int,
                                              "wall_seconds": (int, float), "predictions": dict}


def problem(record: Any) -> str | None:
    """Why a record of this format cannot be used, in one line; None when it can: a status, and the keys the
    readers rely on of the right type where present (a failed cell may have stopped before some were known)."""
    if not isinstance(record, dict):
        return "cell.json is not a cell record"
    if record.get("status") not in ("ok", "failed"):
        return f"cell.json has status {record.get('status')!r}, neither 'ok' nor 'failed'"
    for key, kind in _TYPES.items():
        if key in record and not isinstance(record[key], kind) or key == "fold" and isinstance(record.get(key), bool):
            return f"cell.json has {key} = {record[key]!r}, which is not a {getattr(kind, '__name__', 'number')}"
    return None


def identity_problem(record: CellRecord, folder_id: str) -> str | None:
    """Why a record is not the cell its folder names, or None: its identity (``config``) must hash to the folder's
    name, and the id, fold and configuration id it states must be that identity's. A record edited by hand (a fold
    changed) or copied into another cell's folder would otherwise be counted, and reused, as a cell it is not."""
    config = record.get("config")
    if not isinstance(config, dict):
        return "cell.json has no identity (config), so it cannot be told which cell it is"
    hashed = cell_id(config)
    if hashed != folder_id:
        return (f"cell.json describes cell {hashed}, not {folder_id} (its identity was edited, or the record was "
                "copied from another cell)")
    stated = {"id": folder_id, "fold": config.get("fold"), "configuration_id": configuration_id(config)}
    for key, expected in stated.items():
        if key in record and record[key] != expected:
            return f"cell.json has {key} = {record[key]!r} where its identity says {expected!r} (edited)"
    return None


def read(data: Any, folder_id: str) -> tuple[CellRecord | None, str | None]:
    """(record, None) for a record of a format this version reads, brought to the current one, that is the cell of
    the folder it lies in; (None, why)."""
    if not isinstance(data, dict):
        return None, "cell.json is not a cell record"
    version = data.get("format", 1)
    if version not in READS:
        return None, (f"cell.json has format {version!r}, which this version of benchsuite does not read (it reads "
                      f"formats {' and '.join(map(str, READS))})")
    record = _from_format_1(data) if version == 1 else dict(data)
    why = problem(record) or identity_problem(record, folder_id)
    return (None, why) if why else (record, None)


def _from_format_1(data: dict[str, Any]) -> CellRecord:
    """A format-1 record as format 2: its identity (the whole protocol) is kept as it was hashed, so its id
    still matches; ``predictions`` may lack the digest (checked by parsing the table instead)."""
    return {**data, "format": FORMAT}


def stamp(record: dict[str, Any], folder_id: str) -> CellRecord:
    """The record as written into folder ``folder_id``, in the current format; a record the readers would refuse
    is a bug: ValueError."""
    stamped = {**record, "format": FORMAT}
    why = problem(stamped) or identity_problem(stamped, folder_id)
    if why:
        raise ValueError(why)
    return stamped
