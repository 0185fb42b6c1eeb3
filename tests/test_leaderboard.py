"""The leaderboard is computed from stored predictions only, mean ± std over folds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_runs import identified

from benchsuite.cli import main
from benchsuite.report.leaderboard import command, fold_scores, summarise
from benchsuite.run.store import RunStore


def _store_cell(store, method, fold, errors_per_image, folds=3):
    """Predictions whose per-image mean radial errors are exactly ``errors_per_image``."""
    rows = []
    for i, err in enumerate(errors_per_image):
        # two landmarks per image, both off by ``err`` along x
        rows += [dict(image_id=f"img{fold}{i}", landmark=name, x=10.0, y=5.0, pred_x=10.0 + err, pred_y=5.0)
                 for name in ("a", "b")]
    record = {"status": "ok", "dataset": "toy", "method": method, "fold": fold,
              "config": {"protocol": {"folds": folds}}}
    store.write(*identified(record), pd.DataFrame(rows))


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "run")
    for fold, errors in enumerate([[1.0, 3.0], [4.0, 4.0], [6.0, 8.0]]):
        _store_cell(store, "good", fold, errors)
    _store_cell(store, "partial", 0, [0.5, 0.5])
    store.write(*identified({"status": "failed", "dataset": "toy", "method": "broken", "fold": 0}))
    return store


def test_fold_score_is_the_mean_over_images_and_method_is_mean_std_over_folds(store, registry):
    table = summarise(fold_scores(store, registry))
    good = table.set_index("method").loc["good"]
    assert good["mean"] == pytest.approx(np.mean([2.0, 4.0, 7.0]))
    assert good["std"] == pytest.approx(np.std([2.0, 4.0, 7.0], ddof=1))
    assert good["complete"] and good["images"] == 6
    assert "broken" not in set(table.method)


def test_missing_folds_are_marked_incomplete_and_ranked_after_complete(store, registry):
    table = summarise(fold_scores(store, registry))
    assert list(table.method) == ["good", "partial"]  # partial has a lower mean but only 1/3 folds
    text = command(store.root, registry)
    assert "1/3 incomplete" in text and "4.33 ± 2.52" in text


def test_missing_ground_truth_is_excluded_not_counted_as_zero(tmp_path, registry):
    store = RunStore(tmp_path / "run")
    rows = [dict(image_id="i", landmark="a", x=0.0, y=0.0, pred_x=3.0, pred_y=4.0),
            dict(image_id="i", landmark="b", x=np.nan, y=np.nan, pred_x=1.0, pred_y=1.0)]
    store.write(*identified({"status": "ok", "dataset": "toy", "method": "m", "fold": 0,
                             "config": {"protocol": {"folds": 1}}}), pd.DataFrame(rows))
    assert fold_scores(store, registry).score.tolist() == [5.0]


@pytest.mark.parametrize("fmt,marker", [("md", "| good"), ("csv", "dataset,method,mean"), ("latex", "\\begin{tabular}")])
def test_leaderboard_command_renders_each_format(store, capsys, fmt, marker):
    assert main(["leaderboard", str(store.root), "--format", fmt]) == 0
    assert marker in capsys.readouterr().out


def test_leaderboard_of_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["leaderboard", "nope", "--results", str(tmp_path)]) == 2
    assert "no results" in capsys.readouterr().err


def test_a_terminal_gets_an_aligned_plain_table_a_pipe_markdown(store, capsys, monkeypatch):
    import sys

    assert main(["leaderboard", str(store.root)]) == 0  # captured: not a terminal, so markdown for what reads it
    assert "| good" in capsys.readouterr().out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["leaderboard", str(store.root)]) == 0
    plain = capsys.readouterr().out
    assert "|" not in plain and "**" not in plain and "---" in plain
    good = next(line for line in plain.splitlines() if line.startswith("toy") and " good " in line)
    assert "4.33 ± 2.52*" in good and "- *: best complete method per dataset" in plain
    assert max(map(len, plain.splitlines())) <= 120  # notes wrapped, not one 300-character line
    for fmt in ("markdown", "md"):  # asked for: markdown even at a terminal
        assert main(["leaderboard", str(store.root), "--format", fmt]) == 0
        assert "| good" in capsys.readouterr().out
