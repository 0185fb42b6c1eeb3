"""k-fold splits that depend only on the dataset's sample ids, k and a seed.

Every method evaluated on a dataset therefore sees identical test folds, and
the validation part is always carved out of the fold's training part.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    train: list[str]
    val: list[str]
    test: list[str]


def kfold(sample_ids: list[str], k: int, seed: int) -> list[list[str]]:
    """The k test folds: a seeded permutation of the *sorted* ids, dealt out."""
    ids = sorted(sample_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("sample ids are not unique")
    if not 2 <= k <= len(ids):
        raise ValueError(f"cannot make {k} folds from {len(ids)} samples")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [sorted(ids[i] for i in order[fold::k]) for fold in range(k)]


def split(sample_ids: list[str], k: int, seed: int, fold: int, val_fraction: float) -> Split:
    """Test = fold ``fold``; the rest divided into train and validation."""
    folds = kfold(sample_ids, k, seed)
    test = folds[fold]
    rest = sorted(set(sample_ids) - set(test))
    n_val = int(round(len(rest) * val_fraction))
    if val_fraction > 0:
        n_val = min(max(n_val, 1), len(rest) - 1)
    order = np.random.default_rng([seed, fold]).permutation(len(rest))
    val = sorted(rest[i] for i in order[:n_val])
    train = sorted(rest[i] for i in order[n_val:])
    return Split(train=train, val=val, test=test)


def split_samples(dataset, protocol, fold: int):
    """A dataset's samples for this fold: (train, val, test) lists, per the protocol's k, seed and ratio."""
    samples = {s.id: s for s in dataset.samples()}
    parts = split(list(samples), protocol.folds, protocol.split_seed, fold, protocol.val_fraction)
    return tuple([samples[i] for i in ids] for ids in (parts.train, parts.val, parts.test))
