"""A cell's identity is what determines its result, no more: the protocol settings its method reads, the split,
the method and its parameters, the dataset, the fold and the plugins' versions. Changing the epochs, the
learning rate or the time budget recomputes every network cell and no cell of a method that reads none of
them (the mean shape, dlib's shape predictor)."""
from __future__ import annotations

import json

import pytest

from benchsuite.cli import main
from benchsuite.run.cells import Cell
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import RunStore


def _grid(tmp_path, methods: str):
    path = tmp_path / "grid.toml"
    path.write_text(f'''protocol = "smoke"
datasets = [{{ name = "synthetic", n_images = 8, n_landmarks = 2, min_size = 32, max_size = 40 }}]
methods = [{methods}]
[settings]
folds = 2
input_size = 32
epochs = 1
batch_size = 4
''')
    return path


def _ids(registry, path, settings) -> dict[str, set[str]]:
    grid = expand(load_spec(str(path)), registry, settings=settings)
    found: dict[str, set[str]] = {}
    for cell in grid.cells:
        found.setdefault(cell.architecture.name, set()).add(cell.id)
    return found


METHODS = ('{ architecture = "mean-shape" }, { architecture = "dlib-ert" }, '
           '{ architecture = "fc-regression", encoder = "resnet18", codec = "regression" }')


@pytest.mark.parametrize("change", [{"epochs": 3}, {"lr": 0.01}, {"max_minutes": 2.0}, {"input_size": 64},
                                    {"seed": 3}])
def test_a_training_setting_changes_network_cells_only(registry, tmp_path, change):
    pytest.importorskip("dlib")
    path = _grid(tmp_path, METHODS)
    before, after = _ids(registry, path, {}), _ids(registry, path, change)
    assert before["mean-shape"] == after["mean-shape"]
    assert before["dlib-ert"] == after["dlib-ert"]
    assert before["fc-regression"].isdisjoint(after["fc-regression"])


def test_the_split_changes_every_cell(registry, tmp_path):
    path = _grid(tmp_path, '{ architecture = "mean-shape" }, { architecture = "fc-regression", encoder = "resnet18", '
                           'codec = "regression" }')
    before, after = _ids(registry, path, {}), _ids(registry, path, {"split_seed": 1})
    assert all(before[name].isdisjoint(after[name]) for name in before)


def test_a_method_that_holds_validation_out_reads_the_validation_cut(registry, tmp_path):
    """The mean shape learns from the whole training part, so the validation cut changes nothing; coarse-to-fine
    stops early on it, so it does."""
    path = _grid(tmp_path, '{ architecture = "mean-shape" }, { architecture = "coarse-to-fine" }')
    before, after = _ids(registry, path, {}), _ids(registry, path, {"val_fraction": 0.4})
    assert before["mean-shape"] == after["mean-shape"]
    assert before["coarse-to-fine"].isdisjoint(after["coarse-to-fine"])


def test_the_identity_records_just_what_the_method_reads(registry, tmp_path):
    path = _grid(tmp_path, '{ architecture = "mean-shape" }, { architecture = "fc-regression", encoder = "resnet18", '
                           'codec = "regression" }')
    cells = {c.architecture.name: c for c in expand(load_spec(str(path)), registry).cells}
    assert set(cells["mean-shape"].identity()["protocol"]) == {"folds", "split_seed"}
    network = cells["fc-regression"].identity()["protocol"]
    assert {"epochs", "lr", "max_minutes", "val_fraction", "folds"} <= set(network) and "name" not in network
    for cell in cells.values():  # a record's config rebuilds the same cell, id and all
        assert Cell.from_record({"config": json.loads(json.dumps(cell.identity())), "dataset": "x"}).id == cell.id


def test_a_new_budget_reuses_the_baselines_cells(tmp_path, capsys):
    path = _grid(tmp_path, '{ architecture = "mean-shape" }')
    results = str(tmp_path / "results")
    assert main(["run", "--grid", str(path), "--run", "r", "--results", results]) == 0
    capsys.readouterr()
    assert main(["run", "--grid", str(path), "--run", "r", "--results", results, "--set", "epochs=5",
                 "--set", "lr=0.1"]) == 0
    assert "0 cells computed, 2 already complete" in capsys.readouterr().out
    assert len(list(RunStore(tmp_path / "results" / "r").records())) == 2
