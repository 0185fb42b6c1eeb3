"""Nested selection: a parameter is chosen per fold on validation error, never on the test images."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_GRID
from fake_runs import write_cell

from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import RunStore


def _candidate(store, sigma: float, fold: int, test_error: float, val_error: float | None):
    rng = np.random.default_rng([int(sigma), fold])
    config = {"codec": {"name": "gaussian", "params": {"sigma": sigma}}}
    cell = write_cell(store, "fish", f"unet+gaussian(sigma={sigma:g})", fold, np.full((4, 2), test_error),
                      [f"i{fold}{k}" for k in range(4)], folds=2, rng=rng, config_extra=config,
                      spec=("unet", None, "gaussian", 31_000_000))
    record = store.record(cell)
    record["selection"] = {"group": "g1", "label": "unet+gaussian(sigma=selected)", "values": {"codec.sigma": sigma}}
    if val_error is not None:
        record["val_mre"] = val_error
    store.write(cell, record, store.predictions(cell))


@pytest.fixture
def sweep(tmp_path):
    """σ=2 validates better on fold 0 but tests worse; σ=4 validates better on fold 1."""
    store = RunStore(tmp_path / "sweep")
    _candidate(store, 2.0, 0, test_error=9.0, val_error=1.0)
    _candidate(store, 4.0, 0, test_error=3.0, val_error=2.0)
    _candidate(store, 2.0, 1, test_error=5.0, val_error=3.0)
    _candidate(store, 4.0, 1, test_error=7.0, val_error=1.5)
    return store


def _csv(capsys, *args) -> tuple[pd.DataFrame, str]:
    assert main(["leaderboard", *map(str, args), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    table, _, notes = out.partition("\n\n")
    return pd.read_csv(io.StringIO(table)), notes


def test_the_selected_row_reports_the_test_error_of_the_value_chosen_on_validation(sweep, capsys):
    table, notes = _csv(capsys, sweep.root)
    assert list(table["method"]) == ["unet+gaussian(sigma=selected)"]
    # fold 0 chose σ=2 (validation 1.0 < 2.0) although σ=4 tests better; fold 1 chose σ=4
    assert table["mean"].iloc[0] == pytest.approx((9.0 + 7.0) / 2)
    assert "fold 0: codec.sigma = 2.0" in notes and "fold 1: codec.sigma = 4.0" in notes


def test_candidates_show_every_value_on_its_own(sweep, capsys):
    table, _ = _csv(capsys, sweep.root, "--candidates")
    assert set(table["method"]) == {"unet+gaussian(sigma=2)", "unet+gaussian(sigma=4)"}


def test_a_fold_with_an_unfinished_candidate_is_not_selected(tmp_path, capsys):
    store = RunStore(tmp_path / "partial")
    _candidate(store, 2.0, 0, 9.0, 1.0)
    _candidate(store, 4.0, 0, 3.0, 2.0)
    _candidate(store, 2.0, 1, 5.0, 3.0)  # σ=4 has not finished fold 1
    table, _ = _csv(capsys, store.root)
    assert table["folds_done"].iloc[0] == 1 and not table["complete"].iloc[0]


def test_a_selection_over_a_single_value_is_refused(tmp_path, registry):
    path = tmp_path / "one.toml"
    path.write_text(TINY_GRID.replace('codecs = [{ name = "gaussian", sigma = 2.0 }, "regression"]',
                                      'codecs = [{ name = "gaussian", sigma = 2.0 }]')
                    .replace('description =', 'select = ["codec.sigma"]\ndescription ='))
    with pytest.raises(PluginError, match="takes one value only"):
        expand(load_spec(str(path)), registry)


def test_a_real_run_records_validation_errors_and_reports_the_selection(tmp_path, capsys):
    grid = tmp_path / "sel.toml"
    grid.write_text(TINY_GRID.replace('architectures = ["mean-shape", ', 'architectures = [')
                    .replace(',\n                 { name = "fc-regression", encoder_depth = 3 }]', ']')
                    .replace('codecs = [{ name = "gaussian", sigma = 2.0 }, "regression"]',
                             'codecs = [{ name = "gaussian", sigma = 2.0 }, { name = "gaussian", sigma = 3.0 }]')
                    .replace('description =', 'select = ["codec.sigma"]\ndescription ='))
    assert main(["run", "--grid", str(grid), "--results", str(tmp_path), "--run", "sel"]) == 0
    records = list(RunStore(tmp_path / "sel").records())
    assert len(records) == 4 and all(r["val_mre"] > 0 and r["selection"]["values"]["codec.sigma"] in (2.0, 3.0)
                                     for r in records)
    capsys.readouterr()
    table, notes = _csv(capsys, tmp_path / "sel")
    assert len(table) == 1 and table["method"].iloc[0].endswith("gaussian(sigma=selected)")
    for fold in (0, 1):
        best = min((r for r in records if r["fold"] == fold), key=lambda r: r["val_mre"])
        assert f"fold {fold}: codec.sigma = {best['selection']['values']['codec.sigma']}" in notes
