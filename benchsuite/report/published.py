"""Published leaderboards: a paper's reported numbers, comparable with our runs.

A published leaderboard is a folder (``results/published/<name>/``) holding
``leaderboard.toml`` (name, citation, what the numbers are, notes) and
``scores.csv`` with one row per reported number:

    table, dataset, architecture, encoder, codec, match, label, metric, landmark,
    mean, std, folds, unit, note

Matching to a run is explicit, on the names in cell.json: ``dataset`` is a
registered dataset name, ``architecture``/``codec``/``encoder`` registered
names (an empty codec means a codec-free baseline, an empty encoder any
encoder), and ``match`` extra conditions on the cell's config, separated by
spaces: ``path=value``, ``path=*`` (set and truthy) or ``path=-`` (unset or
falsy), e.g. ``architecture.params.pretrain=*``. ``metric`` is a metric spec
(``mre``, ``hit-rate(threshold=2,unit=delta)``): the metric of ours that
computes what the paper computed, so both numbers are compared as they are,
never converted (a paper's own error gets its own metric plugin).
``landmark``, when given, is the 1-based landmark number in the paper's
(and the dataset's) order.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchsuite.api import PluginError
from benchsuite.run.results import CellInfo

MANIFEST = "leaderboard.toml"
COLUMNS = ["table", "dataset", "architecture", "encoder", "codec", "match", "label", "metric", "landmark", "mean",
           "std", "folds", "unit", "note"]


@dataclass
class Published:
    folder: Path
    name: str
    citation: str
    description: str
    notes: list[str]
    scores: pd.DataFrame


def is_published(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def load(folder: Path) -> Published:
    folder = Path(folder)
    try:
        manifest = tomllib.loads((folder / MANIFEST).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PluginError(f"{folder}: unreadable published leaderboard: {exc}") from None
    scores = pd.read_csv(folder / manifest.get("scores", "scores.csv"), dtype=str, keep_default_na=False)
    missing = set(COLUMNS) - set(scores.columns)
    if missing:
        raise PluginError(f"{folder}: scores lack columns {sorted(missing)}")
    for column in ("mean", "std", "folds"):
        scores[column] = pd.to_numeric(scores[column].replace("", None), errors="coerce")
    return Published(folder, manifest.get("name", folder.name), manifest.get("citation", ""),
                     manifest.get("description", ""), list(manifest.get("notes", [])), scores[COLUMNS])


def _lookup(config: dict, path: str):
    value = config
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _condition_holds(config: dict, condition: str) -> bool:
    path, _, expected = condition.partition("=")
    value = _lookup(config, path.strip())
    if expected == "*":
        return bool(value)
    if expected == "-":
        return not value
    return str(value).lower() == expected.strip().lower()


def matches(row: pd.Series, cell: CellInfo) -> bool:
    """Whether a published row describes this cell's dataset and method (names and conditions only)."""
    if cell.dataset_name != row["dataset"] or cell.architecture != row["architecture"]:
        return False
    if (cell.codec or "") != row["codec"]:
        return False
    if row["encoder"] and cell.encoder != row["encoder"]:
        return False
    return all(_condition_holds(cell.config, c) for c in row["match"].split())
