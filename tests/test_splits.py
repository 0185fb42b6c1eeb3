"""Splits: identical for every method, validation only from the training part."""
from __future__ import annotations

import random

import pytest

from benchsuite.splits import kfold, split

IDS = [f"img{i:03d}" for i in range(53)]


def test_folds_partition_the_dataset_evenly():
    folds = kfold(IDS, 5, seed=0)
    flat = [i for f in folds for i in f]
    assert sorted(flat) == sorted(IDS) and len(flat) == len(set(flat))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1


def test_folds_do_not_depend_on_listing_order():
    shuffled = IDS[:]
    random.Random(1).shuffle(shuffled)
    assert kfold(shuffled, 5, seed=3) == kfold(IDS, 5, seed=3)
    assert kfold(IDS, 5, seed=3) != kfold(IDS, 5, seed=4)


@pytest.mark.parametrize("fold", range(5))
@pytest.mark.parametrize("val_fraction", [0.25, 0.4])
def test_validation_comes_from_the_training_part_only(fold, val_fraction):
    parts = split(IDS, 5, seed=0, fold=fold, val_fraction=val_fraction)
    assert parts.test == kfold(IDS, 5, seed=0)[fold]
    assert not set(parts.train) & set(parts.test)
    assert not set(parts.val) & set(parts.test)
    assert not set(parts.train) & set(parts.val)
    assert sorted(parts.train + parts.val + parts.test) == sorted(IDS)
    assert len(parts.val) == round((len(IDS) - len(parts.test)) * val_fraction)


def test_test_fold_is_independent_of_validation_settings():
    assert split(IDS, 5, 0, 2, 0.25).test == split(IDS, 5, 0, 2, 0.4).test


def test_bad_requests_are_refused():
    with pytest.raises(ValueError):
        kfold(IDS[:3], 5, 0)
    with pytest.raises(ValueError):
        kfold(["a", "a", "b"], 2, 0)
