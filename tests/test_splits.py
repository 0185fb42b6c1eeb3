"""Splits: identical for every method, validation only from the training part."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchsuite.api import PluginError, Sample
from benchsuite.splits import Split, kfold, read_split_table, split, splits_rows

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
    with pytest.raises(PluginError, match="cannot make 5 folds from 3 images"):
        kfold(IDS[:3], 5, 0)
    with pytest.raises(PluginError, match="not unique"):
        kfold(["a", "a", "b"], 2, 0)


def test_ungrouped_folds_are_the_seeded_permutation_dealt_round_robin():
    """The rule every earlier run used, kept exactly: stored results stay comparable."""
    order = np.random.default_rng(7).permutation(len(IDS))
    assert kfold(IDS, 5, 7) == [sorted(IDS[i] for i in order[f::5]) for f in range(5)]
    rest = sorted(set(IDS) - set(kfold(IDS, 5, 7)[1]))
    val_order = np.random.default_rng([7, 1]).permutation(len(rest))
    assert split(IDS, 5, 7, 1, 0.25).val == sorted(rest[i] for i in val_order[:round(len(rest) * 0.25)])


VIDEOS = {f"video{v}/img{i:03d}": f"video{v}" for v in range(7) for i in range(3 + v)}


@pytest.mark.parametrize("fold", range(3))
def test_a_group_never_spans_two_folds_or_training_and_validation(fold):
    ids = list(VIDEOS)
    parts = split(ids, 3, seed=1, fold=fold, val_fraction=0.3, groups=VIDEOS)
    side = {**{i: "train" for i in parts.train}, **{i: "val" for i in parts.val}, **{i: "test" for i in parts.test}}
    for video in set(VIDEOS.values()):
        assert len({side[i] for i in ids if VIDEOS[i] == video}) == 1, video
    assert parts.val and parts.train and parts.test


def test_too_few_groups_for_the_folds_is_a_clear_error():
    with pytest.raises(PluginError, match="cannot make 8 folds from 7 groups"):
        kfold(list(VIDEOS), 8, 0, VIDEOS)


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "split.csv"
    path.write_text(text)
    return path


def test_a_kfold_split_file_is_reproduced_exactly(tmp_path):
    ids = [f"w{i}" for i in range(6)]
    path = _write(tmp_path, "image,fold\n" + "".join(f"w{i}.png,{i % 3}\n" for i in range(6)))
    table = read_split_table(path, ids, file_names={i: f"{i}.png" for i in ids})
    assert len(table.folds) == 3
    for fold in range(3):
        parts = table.split(fold, 0.25, 0)
        assert parts.test == [f"w{fold}", f"w{fold + 3}"]
        assert sorted(parts.train + parts.val) == sorted(set(ids) - set(parts.test)) and parts.val


def test_a_fixed_split_file_gives_one_fold_with_its_own_validation(tmp_path):
    ids = ["a", "b", "c", "d"]
    table = read_split_table(_write(tmp_path, "image,part\na,train\nb,val\nc,test\nd,train\n"), ids)
    assert len(table.folds) == 1 and table.split(0, 0.25, 0) == Split(train=["a", "d"], val=["b"], test=["c"])


@pytest.mark.parametrize("text,message", [
    ("image,fold\na,0\nb,1\nc,0\nzz,1\n", "image 'zz' is not in the dataset"),
    ("image,fold\na,0\nb,1\nc,0\n", "image 'd' of the dataset is not in the split file"),
    ("image,fold\na,0\nb,1\nc,0\nd,1\na,1\n", "image 'a' appears twice"),
    ("image,part\na,train\nb,val\nc,exam\nd,test\n", "part must be one of train, val, test"),
    ("image,fold\na,0\nb,x\n", "fold must be a whole number"),
    ("name,fold\na,0\n", "needs the columns"),
    ("image,fold\na,0\nb,0\nc,0\nd,0\n", "k-fold needs at least 2 folds"),
])
def test_bad_split_files_are_one_line_errors_naming_the_image(tmp_path, text, message):
    with pytest.raises(PluginError, match=message) as excinfo:
        read_split_table(_write(tmp_path, text), ["a", "b", "c", "d"])
    assert "\n" not in str(excinfo.value) and "split.csv" in str(excinfo.value)


def test_the_long_form_a_run_writes_round_trips(tmp_path):
    samples = [Sample(i, np.zeros((1, 2)), (4, 4), group=g) for i, g in VIDEOS.items()]
    rows = splits_rows(samples, 3, 5, 0.3)
    path = tmp_path / "splits.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    table = read_split_table(path, list(VIDEOS))
    for fold in range(3):
        assert table.split(fold, 0.3, 5) == split(list(VIDEOS), 3, 5, fold, 0.3, VIDEOS)
