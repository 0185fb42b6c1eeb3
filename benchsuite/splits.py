"""Which images train, validate and test each fold: identical for every method on a dataset.

Without a split file, k-fold splits depend only on the dataset's sample ids
(and groups), k and a seed. Images of one *group* (a DeepLabCut video, an
individual imaged several times, a patient) always land in the same fold
and on the same side of the training/validation cut, so no method is tested
on frames of a video it trained on. The validation part is always carved out
of the fold's training part.

A lab's own split (a challenge's official test set, ml-morph's train/ and
test/ folders, the folds another tool used) comes as a CSV file:

* ``image,fold`` — k-fold: each image's test fold (any k); validation is
  carved from the training part as usual;
* ``image,part`` — one fixed split, part ∈ train/val/test (no val rows: carved);
* ``image,fold,part`` — every fold spelled out, as a run writes its
  ``splits.csv``; so a run's splits can be fed back exactly.

``image`` is the sample id or the image's file name; a ``dataset`` column,
when present, selects the rows of one dataset. Every image of the dataset
must appear (in every fold, in the long form) exactly once.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from benchsuite.api import PluginError

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    train: list[str]
    val: list[str]
    test: list[str]


def _grouped(sample_ids: list[str], groups: dict[str, str] | None) -> dict[str, list[str]]:
    """group -> its sorted sample ids; each sample its own group when there are none."""
    result: dict[str, list[str]] = {}
    for sample_id in sorted(sample_ids):
        key = (groups or {}).get(sample_id) or f"\0{sample_id}"  # ungrouped samples never share a group
        result.setdefault(key, []).append(sample_id)
    return result


def kfold(sample_ids: list[str], k: int, seed: int, groups: dict[str, str] | None = None) -> list[list[str]]:
    """The k test folds: groups in a seeded order, each to the fold with the fewest images so far.

    With no groups this deals a seeded permutation of the sorted ids round-robin.
    """
    ids = sorted(sample_ids)
    if len(set(ids)) != len(ids):
        raise PluginError("sample ids are not unique")
    grouped = _grouped(ids, groups)
    if not 2 <= k <= len(grouped):
        what = "groups" if len(grouped) < len(ids) else "images"
        raise PluginError(f"cannot make {k} folds from {len(grouped)} {what}")
    names = sorted(grouped)
    order = np.random.default_rng(seed).permutation(len(names))
    folds: list[list[str]] = [[] for _ in range(k)]
    for index in order:
        smallest = min(range(k), key=lambda f: (len(folds[f]), f))
        folds[smallest] += grouped[names[index]]
    return [sorted(fold) for fold in folds]


def training_part(n_images: int, folds: int) -> int:
    """About how many images a fold's training part holds (training and validation), before any split is drawn."""
    return round(n_images * (folds - 1) / folds)


def training_images(n_images: int, folds: int, val_fraction: float) -> int:
    """About how many images a fold trains on (its training part less the validation :func:`carve_validation`
    holds out), for estimates made before any split is drawn."""
    rest = training_part(n_images, folds)
    n_val = min(max(int(round(rest * val_fraction)), 1), rest - 1) if val_fraction > 0 and rest > 1 else 0
    return max(1, rest - n_val)


def carve_validation(rest: list[str], fraction: float, seed, groups: dict[str, str] | None = None) -> Split:
    """Training and validation from a fold's training part: whole groups, about ``fraction`` of the images."""
    grouped = _grouped(rest, groups)
    names = sorted(grouped)
    n_val = int(round(len(rest) * fraction))
    if fraction > 0:
        n_val = min(max(n_val, 1), len(rest) - 1)
    order = np.random.default_rng(seed).permutation(len(names))
    val: list[str] = []
    for taken, index in enumerate(order):
        if len(val) >= n_val or taken == len(names) - 1:
            break
        val += grouped[names[index]]
    return Split(train=sorted(set(rest) - set(val)), val=sorted(val), test=[])


def split(sample_ids: list[str], k: int, seed: int, fold: int, val_fraction: float,
          groups: dict[str, str] | None = None) -> Split:
    """Test = fold ``fold``; the rest divided into train and validation."""
    test = kfold(sample_ids, k, seed, groups)[fold]
    rest = sorted(set(sample_ids) - set(test))
    parts = carve_validation(rest, val_fraction, [seed, fold], groups)
    return Split(train=parts.train, val=parts.val, test=test)


# --- a lab's own split ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitTable:
    """A split file's content for one dataset: per fold, each sample id's part (or None: to be carved)."""

    source: str
    folds: list[dict[str, str | None]]  # fold -> sample id -> "train" | "val" | "test" | None (train or val)

    def split(self, fold: int, val_fraction: float, seed: int, groups: dict[str, str] | None = None) -> Split:
        parts = self.folds[fold]
        test = sorted(i for i, p in parts.items() if p == "test")
        val = sorted(i for i, p in parts.items() if p == "val")
        if any(p is None for p in parts.values()) or not val:
            rest = sorted(i for i, p in parts.items() if p in (None, "train", "val"))
            return Split(**{**carve_validation(rest, val_fraction, [seed, fold], groups).__dict__, "test": test})
        return Split(train=sorted(i for i, p in parts.items() if p == "train"), val=val, test=test)


def digest(path: Path) -> str:
    """What identifies a split file's content in a cell's identity."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def read_split_table(path: Path, sample_ids: list[str], dataset: str | tuple[str, ...] | None = None,
                     file_names: dict[str, str] | None = None) -> SplitTable:
    """Read and check a split file against the dataset's samples; one-line errors naming the image.

    ``dataset``: the name (or names, the first with rows wins) of this dataset in the file's ``dataset`` column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginError(f"{path}: cannot read the split file ({exc.__class__.__name__})") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    header = set(rows[0]) if rows else set()
    if "image" not in header or not header & {"fold", "part"}:
        raise PluginError(f"{path}: a split file needs the columns image and fold, image and part, or all three")
    names = (dataset,) if isinstance(dataset, str) else tuple(dataset or ())
    if "dataset" in header and names:
        rows = next(([r for r in rows if r["dataset"] == name] for name in names
                     if any(r["dataset"] == name for r in rows)), [])
    resolve = _resolver(path, sample_ids, file_names or {})
    long_form = {"fold", "part"} <= header
    folds: dict[int, dict[str, str | None]] = {}
    for line, row in enumerate(rows, start=2):
        sample = resolve(row["image"], line)
        fold = _fold(row.get("fold"), path, line) if "fold" in header else 0
        part = row.get("part")
        if part is not None and part not in PARTS:
            raise PluginError(f"{path}:{line}: part must be one of {', '.join(PARTS)}, got {part!r}")
        if "fold" in header and not long_form:
            assigned = folds.setdefault(fold, {})
            if sample in assigned or any(sample in f for f in folds.values() if f is not assigned):
                raise PluginError(f"{path}:{line}: image {row['image']!r} appears twice")
            assigned[sample] = "test"
            continue
        assigned = folds.setdefault(fold, {})
        if sample in assigned:
            raise PluginError(f"{path}:{line}: image {row['image']!r} appears twice in fold {fold}")
        assigned[sample] = part
    if not folds:
        raise PluginError(f"{path}: no rows" + (f" for dataset {names[-1]}" if names and "dataset" in header else ""))
    if sorted(folds) != list(range(len(folds))):
        raise PluginError(f"{path}: folds must be numbered 0 to k-1, found {sorted(folds)}")
    everyone = set(sample_ids)
    if "fold" in header and not long_form:
        table = [{i: ("test" if i in folds[f] else None) for i in everyone} for f in range(len(folds))]
        if len(table) < 2:
            raise PluginError(f"{path}: k-fold needs at least 2 folds, found 1 (use a part column for one split)")
    else:
        table = [folds[f] for f in range(len(folds))]
    listed = set().union(*[set(f) for f in folds.values()])
    missing = sorted(everyone - listed) if "fold" in header and not long_form else \
        sorted({i for f in table for i in everyone - set(f)})
    if missing:
        raise PluginError(f"{path}: image {missing[0]!r} of the dataset is not in the split file"
                          + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    for f, parts in enumerate(table):
        if not any(p == "test" for p in parts.values()):
            raise PluginError(f"{path}: fold {f} has no test image")
    return SplitTable(str(path), table)


def _fold(text: str | None, path: Path, line: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise PluginError(f"{path}:{line}: fold must be a whole number, got {text!r}") from None
    if value < 0:
        raise PluginError(f"{path}:{line}: fold must be 0 or more, got {value}")
    return value


def _resolver(path: Path, sample_ids: list[str], file_names: dict[str, str]):
    """``image`` as a sample id, an image file name, or a file name without its extension."""
    by_name: dict[str, str] = {}
    for sample_id in sample_ids:
        for key in {sample_id, PurePath(sample_id).name, PurePath(file_names.get(sample_id, "")).name,
                    PurePath(file_names.get(sample_id, "")).stem}:
            if key:
                by_name.setdefault(key, sample_id)
    known = set(sample_ids)

    def resolve(image: str, line: int) -> str:
        image = (image or "").strip()
        if image in known:
            return image
        for key in (PurePath(image).name, PurePath(image).stem):
            if key in by_name:
                return by_name[key]
        raise PluginError(f"{path}:{line}: image {image!r} is not in the dataset")

    return resolve


def split_samples(dataset, protocol, fold: int, table: SplitTable | None = None):
    """A dataset's samples for this fold: (train, val, test) lists, from the split file or k-fold."""
    samples = {s.id: s for s in dataset.samples()}
    groups = {s.id: s.group for s in samples.values() if s.group}
    if table is not None:
        parts = table.split(fold, protocol.val_fraction, protocol.split_seed, groups)
    else:
        parts = split(list(samples), protocol.folds, protocol.split_seed, fold, protocol.val_fraction, groups)
    return tuple([samples[i] for i in ids] for ids in (parts.train, parts.val, parts.test))


def splits_rows(samples: list, folds: int, seed: int, val_fraction: float, table: SplitTable | None = None,
                dataset: str | None = None) -> list[dict]:
    """The long form (dataset, image, fold, part) of every fold's split, as a run writes it."""
    ids = [s.id for s in samples]
    groups = {s.id: s.group for s in samples if s.group}
    rows = []
    for fold in range(len(table.folds) if table else folds):
        parts = table.split(fold, val_fraction, seed, groups) if table else \
            split(ids, folds, seed, fold, val_fraction, groups)
        for part in PARTS:
            for image in getattr(parts, part):
                rows.append({"dataset": dataset or "", "image": image, "fold": fold, "part": part})
    return rows
