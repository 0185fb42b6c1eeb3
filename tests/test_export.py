"""``benchsuite export``: every prediction of a run as one tidy table, queryable across runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from fake_runs import identified, make_run

from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.report.export import COLUMNS, export, tidy
from benchsuite.report.leaderboard import fold_scores, summarise
from benchsuite.run.cells import configuration_id
from benchsuite.run.store import RunStore

SCALES = {"fishA": {"unet+gaussian": 2.0, "mean-shape": 9.0}, "fishB": {"unet+gaussian": 3.0}}


@pytest.fixture
def run(tmp_path):
    store = make_run(tmp_path / "results" / "spring", SCALES, folds=2, images_per_fold=3,
                     skip={("fishB", "unet+gaussian", 1)})
    store.write(*identified({"status": "failed", "dataset": "fishA", "method": "hrnet", "fold": 0}))
    return store


def test_one_row_per_stored_prediction_with_its_radial_error(run):
    table = tidy(run.root)
    assert list(table.columns) == COLUMNS
    cells = [r for r in run.records() if r["status"] == "ok"]
    assert len(table) == sum(len(run.predictions(r["id"])) for r in cells) == 5 * 3 * 3  # 5 cells, 3 images, 3 lm
    assert set(table["method"]) == {"unet+gaussian", "mean-shape"} and "hrnet" not in set(table["method"])
    record = cells[0]
    stored = run.predictions(record["id"])
    rows = table[(table["dataset"] == record["dataset"]) & (table["method"] == record["method"])
                 & (table["fold"] == record["fold"])].reset_index(drop=True)
    assert rows["image"].tolist() == stored["image_id"].tolist() and rows["truth_x"].tolist() == stored["x"].tolist()
    assert np.allclose(rows["error"], np.hypot(stored["pred_x"] - stored["x"], stored["pred_y"] - stored["y"]))


def test_run_and_configuration_come_from_cell_json_or_are_computed_for_older_cells(run):
    first = next(r for r in run.records() if r["status"] == "ok")
    recorded = configuration_id(first["config"])
    run.write(first["id"], first | {"run": "renamed", "configuration_id": recorded}, run.predictions(first["id"]))
    table = tidy(run.root)
    mine = table[(table["dataset"] == first["dataset"]) & (table["method"] == first["method"])
                 & (table["fold"] == first["fold"])]
    assert set(mine["run"]) == {"renamed"} and set(mine["configuration_id"]) == {recorded}
    others = table.drop(mine.index)
    assert set(others["run"]) == {"spring"}  # older cells: the run folder's name
    for (dataset, method), group in others.groupby(["dataset", "method"]):
        record = next(r for r in run.records() if (r["dataset"], r["method"]) == (dataset, method)
                      and r["id"] != first["id"] and r["status"] == "ok")
        assert set(group["configuration_id"]) == {configuration_id(record["config"])}
    counts = others.groupby(["dataset", "method"]).agg(ids=("configuration_id", "nunique"), folds=("fold", "nunique"))
    assert (counts["ids"] == 1).all() and (counts["folds"] == 2).any()  # one id for all folds of a configuration


def test_missing_truth_has_no_error(tmp_path):
    store = make_run(tmp_path / "r", {"d": {"unet+gaussian": 1.0}}, folds=1, images_per_fold=2)
    record = next(store.records())
    table = store.predictions(record["id"])
    table.loc[0, ["x", "y"]] = np.nan
    store.write(record["id"], record, table)
    assert np.isnan(tidy(store.root)["error"].iloc[0]) and tidy(store.root)["error"].iloc[1:].notna().all()


@pytest.mark.parametrize("fmt, read", [("parquet", pd.read_parquet), ("csv", pd.read_csv)])
def test_the_command_writes_parquet_or_csv_under_the_run_by_default(run, fmt, read, capsys):
    assert main(["export", "spring", "--results", str(run.root.parent), "--to", fmt]) == 0
    path = run.root / "export" / f"predictions.{fmt}"
    assert f"45 predictions written to {path}" in capsys.readouterr().out
    back = read(path)
    assert list(back.columns) == COLUMNS and len(back) == 45
    assert np.allclose(back["error"], tidy(run.root)["error"])


def _readme_block(language: str, containing: str) -> str:
    text = (REPO / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split(f"```{language}\n")[1:]]
    return next(b for b in blocks if containing in b)


def test_the_readmes_pandas_query_over_several_runs_gives_the_leaderboard(tmp_path, registry, monkeypatch):
    for name, scale in (("spring", 2.0), ("autumn", 1.0)):
        store = make_run(tmp_path / "results" / name, SCALES | {"fishA": {"unet+gaussian": scale}}, folds=3,
                         images_per_fold=4, seed=len(name))
        out, _ = export(store.root, "parquet")
        assert out == store.root / "export" / "predictions.parquet"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(_readme_block("python", "export/predictions.parquet"), namespace)  # noqa: S102 - the README example
    leaderboard = namespace["leaderboard"]
    for name in ("spring", "autumn"):
        expected = summarise(fold_scores(RunStore(tmp_path / "results" / name), registry))
        for row in expected.itertuples():
            got = leaderboard.loc[(name, row.dataset, row.method)]
            assert got["mean"] == pytest.approx(row.mean) and got["count"] == row.folds_done
            assert got["std"] == pytest.approx(row.std, nan_ok=True)


def test_an_explicit_out_path_and_bad_input(run, tmp_path, capsys):
    assert main(["export", str(run.root), "--to", "csv", "--out", str(tmp_path / "all.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "all.csv")) == 45
    with pytest.raises(PluginError, match="unknown export format 'xlsx'"):
        export(run.root, "xlsx")
    with pytest.raises(PluginError, match="no completed cell to export"):
        export(RunStore(tmp_path / "empty").root)
    with pytest.raises(SystemExit):
        main(["export", str(run.root), "--to", "xlsx"])
