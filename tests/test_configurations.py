"""A leaderboard row is one configuration, never a mix; one experiment is one cell."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from fake_runs import write_cell

from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.run.cells import configuration_id
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import RunStore


def _cells(store: RunStore, error: float, sigma: float, folds: int = 3) -> list[str]:
    """Three folds of one unet+gaussian configuration whose every landmark is off by ``error`` px."""
    rng = np.random.default_rng(int(sigma))
    codec = {"codec": {"name": "gaussian", "params": {"sigma": sigma}}}
    return [write_cell(store, "fish", "unet+gaussian", fold, np.full((4, 2), error), [f"i{fold}{k}" for k in range(4)],
                       folds=folds, rng=rng, config_extra=codec) for fold in range(folds)]


@pytest.fixture
def run_with_stale_cells(tmp_path):
    """Three folds at 2 px from the run's current grid, three stale folds at 10 px from an earlier grid."""
    store = RunStore(tmp_path / "run")
    _cells(store, 10.0, sigma=2.0)
    current = _cells(store, 2.0, sigma=5.0)
    store.adopt_grid("g", current, allow_change=True)
    return store


def _csv(capsys, *args) -> pd.DataFrame:
    assert main(["leaderboard", *map(str, args), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    return pd.read_csv(io.StringIO(out.split("\n\n")[0]))


def test_stale_cells_are_never_averaged_into_the_current_configuration(run_with_stale_cells, capsys):
    table = _csv(capsys, run_with_stale_cells.root)
    assert len(table) == 1 and table["mean"].iloc[0] == pytest.approx(2.0) and table["std"].iloc[0] < 1e-9
    assert main(["leaderboard", str(run_with_stale_cells.root)]) == 0
    assert "3 completed cells belong to an earlier grid" in capsys.readouterr().out


def test_include_stale_reports_them_as_their_own_row(run_with_stale_cells, capsys):
    table = _csv(capsys, run_with_stale_cells.root, "--include-stale").set_index("method")
    assert table.loc["unet+gaussian", "mean"] == pytest.approx(2.0)
    assert table.loc["unet+gaussian (stale)", "mean"] == pytest.approx(10.0)


def test_two_configurations_under_one_label_are_two_rows(tmp_path, capsys):
    store = RunStore(tmp_path / "run")  # no grid.json: every cell is reported
    _cells(store, 10.0, sigma=2.0)
    _cells(store, 2.0, sigma=5.0)
    table = _csv(capsys, store.root)
    assert sorted(table["mean"]) == pytest.approx([2.0, 10.0])
    assert all(m.startswith("unet+gaussian [") for m in table["method"])  # told apart by configuration id
    assert (table["folds_done"] == 3).all()


def test_the_configuration_id_ignores_only_the_fold():
    config = {"dataset": {"name": "d"}, "codec": {"name": "gaussian", "params": {"sigma": 2.0}}, "fold": 0}
    assert configuration_id(config) == configuration_id(config | {"fold": 3})
    assert configuration_id(config) != configuration_id(config | {"codec": {"name": "gaussian", "params": {}}})


def test_a_grid_giving_two_configurations_one_label_is_rejected_naming_both(tmp_path, registry):
    path = tmp_path / "clash.toml"
    path.write_text('''protocol = "smoke"
datasets = [{ name = "synthetic", n_images = 12, label = "fish" }, { name = "synthetic", n_images = 20, label = "fish" }]
architectures = ["mean-shape"]
encoders = []
codecs = []
''')
    with pytest.raises(PluginError) as excinfo:
        expand(load_spec(str(path)), registry)
    message = str(excinfo.value)
    assert "both labelled fish | mean-shape" in message
    assert "n_images" in message and "12" in message and "20" in message


def test_one_experiment_spelled_three_ways_is_one_cell(tmp_path, registry):
    path = tmp_path / "same.toml"
    path.write_text('''protocol = "smoke"
datasets = ["synthetic"]
architectures = [{ name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] }]
encoders = ["resnet18"]
codecs = ["gaussian", { name = "gaussian", sigma = 5 }, { name = "gaussian", sigma = 5.0 }]
[settings]
folds = 2
''')
    grid = expand(load_spec(str(path)), registry)
    assert len(grid.cells) == 2 and len({c.configuration_id for c in grid.cells}) == 1
    assert {c.codec.label for c in grid.cells} == {"gaussian"}
