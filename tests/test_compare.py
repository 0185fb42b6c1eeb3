"""`benchsuite compare`: two runs side by side, the regression gate, and the papers' published numbers."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from fake_runs import make_run, write_cell

from benchsuite.cli import main
from benchsuite.report import published
from benchsuite.report.scores import load_metric
from benchsuite.run.store import RunStore

SCALES = {"fishA": {"unet+gaussian": 2.0, "fcn8+gaussian": 2.2, "mean-shape": 30.0},
          "fishB": {"unet+gaussian": 3.0, "fcn8+gaussian": 2.0, "mean-shape": 40.0}}
PUBLISHED = REPO / "results" / "published"
PAPER_NAMES = {  # the registered names the published leaderboards must use, so that compare can match them
    "datasets": {"zebrafish", "medaka", "seabream", "beetle-pronotum", "beetle-head", "beetle-elytra",
                 "beetle-left-mandible", "beetle-right-mandible"},
    "architectures": {"unet", "fcn8", "resnet50-upsampling", "hrnet", "unet-regression", "resnet50-regression",
                      "beetle-cnn", "mean-shape"},
    "codecs": {"gaussian", "exponential", "regression", ""},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A reference run, and one whose fcn8 is twice as bad on fishA and whose unet is better on fishB."""
    root = tmp_path_factory.mktemp("compare")
    make_run(root / "before", SCALES)
    worse = {"fishA": SCALES["fishA"] | {"fcn8+gaussian": 4.4}, "fishB": SCALES["fishB"] | {"unet+gaussian": 1.5}}
    make_run(root / "after", worse)
    return root / "before", root / "after"


def _compare(capsys, *args) -> tuple[int, str]:
    code = main(["compare", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_run_compared_with_itself_has_no_difference_and_passes_the_gate(runs, capsys):
    code, out = _compare(capsys, runs[0], runs[0], "--fail-worse", "0", "--format", "csv")
    data = pd.read_csv(io.StringIO(out))
    assert code == 0 and (data.difference == 0).all() and (data.verdict == "no difference").all()
    assert (data.images == 8 * 3).all()  # paired on every image


def test_a_degraded_method_fails_the_gate(runs, capsys):
    code, out = _compare(capsys, runs[0], runs[1], "--fail-worse", "1")
    assert code == 1
    assert "REGRESSION in: fishA | fcn8+gaussian" in out
    row = next(line for line in out.splitlines() if "| fishA" in line and "fcn8" in line)
    assert "REGRESSION" in row and "+2." in row


def test_the_gate_needs_the_worsening_to_exceed_the_threshold(runs, capsys):
    code, out = _compare(capsys, runs[0], runs[1], "--fail-worse", "50")
    assert code == 0 and "REGRESSION in" not in out and "| **REGRESSION**" not in out
    assert "B worse" in next(line for line in out.splitlines() if "| fishA" in line and "fcn8" in line)


def test_without_a_threshold_compare_reports_but_does_not_fail(runs, capsys):
    code, out = _compare(capsys, runs[0], runs[1], "--format", "csv")
    data = pd.read_csv(io.StringIO(out)).set_index(["dataset", "method"])
    assert code == 0
    assert data.loc[("fishA", "fcn8+gaussian"), "verdict"] == "B worse"
    assert data.loc[("fishB", "unet+gaussian"), "verdict"] == "B better"
    assert data.loc[("fishA", "fcn8+gaussian"), "p"] < 0.05


def test_methods_in_one_run_only_are_listed(runs, tmp_path, capsys):
    only = make_run(tmp_path / "only", {"fishA": {"unet+gaussian": 2.0}})
    code, out = _compare(capsys, runs[0], only.root, "--format", "csv")
    verdicts = pd.read_csv(io.StringIO(out)).set_index(["dataset", "method"])["verdict"]
    assert code == 0 and verdicts[("fishA", "mean-shape")] == "only in A"


def test_runs_without_shared_images_are_compared_unpaired(runs, tmp_path, capsys):
    other = make_run(tmp_path / "other", SCALES, seed=3)
    for cell in other.records():  # same methods, other images
        table = other.predictions(cell["id"]).assign(image_id=lambda t: "x" + t.image_id)
        other.write(cell["id"], cell, table)
    code, out = _compare(capsys, runs[0], other.root, "--fail-worse", "0", "--format", "csv")
    data = pd.read_csv(io.StringIO(out))
    assert code == 0 and (data.verdict == "not paired").all() and data.p.isna().all()


@pytest.mark.parametrize("name", ["kumar2022-fish", "le2018-beetle"])
def test_published_leaderboards_load_and_use_the_registered_names(registry, name):
    paper = published.load(PUBLISHED / name)
    assert paper.citation and paper.notes and len(paper.scores) > 30
    for kind, column in (("datasets", "dataset"), ("architectures", "architecture"), ("codecs", "codec")):
        assert set(paper.scores[column]) <= PAPER_NAMES[kind], kind
    for spec in set(paper.scores.metric):
        load_metric(registry, spec)  # every metric is one we can compute
    assert paper.scores["mean"].notna().all()
    keys = paper.scores[["dataset", "architecture", "codec", "match", "metric", "landmark"]]
    assert not keys.duplicated().any()


def test_the_fish_papers_errors_are_compared_with_the_metric_its_code_computed():
    paper = published.load(PUBLISHED / "kumar2022-fish")
    errors = paper.scores[paper.scores.table.isin(["Table 1", "Table 2", "Table 4"])]
    assert len(errors) == 33 and (errors.metric == "coordinate-rmse").all()
    assert "convention" not in paper.scores.columns
    table4 = paper.scores[(paper.scores.table == "Table 4") & (paper.scores.dataset == "zebrafish")]
    assert table4.set_index(["architecture", "codec"]).loc[("unet", "exponential"), "mean"] == 11.29


def test_published_leaderboards_cite_the_papers_not_internal_files():
    for name in ("kumar2022-fish", "le2018-beetle"):
        text = (PUBLISHED / name / "leaderboard.toml").read_text()
        assert "seed" not in text.lower() and "DESIGN" not in text and "shared/" not in text


def _fish_run(root: Path) -> Path:
    """Radial errors 8, 16 and 20 px on every image: mean radial 14.67, the fish code's RMSE √(720 / 6) = 10.95."""
    store = RunStore(root)
    rng = np.random.default_rng(0)
    errors = np.tile([8.0, 16.0, 20.0], (4, 1))
    for fold in range(5):
        ids = [f"z{fold}-{i}" for i in range(4)]
        write_cell(store, "zebrafish", "unet+exponential", fold, errors, ids, folds=5, rng=rng,
                   spec=("unet", None, "exponential", 31e6), size=(2575, 1932), input_size=256)
        write_cell(store, "zebrafish", "unet+gaussian", fold, 1.25 * errors, ids, folds=5, rng=rng,
                   spec=("unet", None, "gaussian", 31e6), size=(2575, 1932), input_size=256)
    return store.root


def test_compare_with_the_fish_paper_is_like_for_like_and_unconverted(tmp_path, capsys):
    code, out = _compare(capsys, PUBLISHED / "kumar2022-fish", _fish_run(tmp_path / "ours"), "--format", "csv")
    data = pd.read_csv(io.StringIO(out)).set_index(["table", "method", "metric"])
    assert code == 0 and "published_as_radial" not in data.columns
    row = data.loc[("Table 4", "unet+exponential", "coordinate-rmse")]
    assert row.published_mean == 11.29 and row.our_mean == pytest.approx(math.sqrt(120))
    assert row.difference == pytest.approx(math.sqrt(120) - 11.29)  # the radial error × √2 would have said -1.3 px
    assert data.loc[("Table 5 (text)", "unet+exponential", "hit-rate(threshold=2,unit=delta)")].our_mean == 100.0
    assert ("Table 1", "unet+gaussian", "coordinate-rmse") not in data.index  # the baseline does not match a U-Net
    assert data.loc[("Table 4", "unet+gaussian", "coordinate-rmse")].published_mean == 13.43


def test_compare_names_the_metric_of_every_published_number(tmp_path, capsys):
    code, out = _compare(capsys, _fish_run(tmp_path / "ours"), PUBLISHED / "kumar2022-fish")
    assert "coordinate-rmse: Root mean square coordinate error" in out and "√2" not in out.split("published:")[0]
    assert "published rows have no matching dataset and method" in out


def test_beetle_scratch_and_fine_tune_are_matched_by_the_pretrain_setting(tmp_path, capsys):
    store = RunStore(tmp_path / "beetles")
    rng = np.random.default_rng(0)
    for label, params, error in (("scratch", {}, 51.0), ("fine-tuned", {"pretrain": {"datasets": ["x"]}}, 25.5)):
        for fold in range(3):
            ids = [f"{label}{fold}-{i}" for i in range(3)]
            write_cell(store, "pronotum", f"beetle-cnn-{label}+regression", fold, np.full((3, 8), error), ids,
                       folds=3, rng=rng, dataset_name="beetle-pronotum", size=(3264, 2448), input_size=256,
                       spec=("beetle-cnn", None, "regression", 1e6),
                       config_extra={"architecture": {"name": "beetle-cnn", "params": params}})
    code, out = _compare(capsys, store.root, PUBLISHED / "le2018-beetle", "--format", "csv")
    data = pd.read_csv(io.StringIO(out), dtype={"landmark": str})
    assert code == 0
    per_landmark = data[data.metric == "mre-input"].set_index(["table", "method", "landmark"])
    assert per_landmark.loc[("Table 3", "beetle-cnn-scratch+regression", "1")].our_mean == pytest.approx(4.0)
    assert per_landmark.loc[("Table 3", "beetle-cnn-scratch+regression", "1")].published_mean == 4.002
    assert per_landmark.loc[("Table 6", "beetle-cnn-fine-tuned+regression", "6")].published_mean == 3.05
    assert not (per_landmark.reset_index().query("table == 'Table 6'").method.str.contains("scratch")).any()
    assert set(data[data.table == "Table 2"].metric) == {"r2", "explained-variance", "pearson"}


def test_two_published_leaderboards_cannot_be_compared(capsys):
    code, out = _compare(capsys, PUBLISHED / "kumar2022-fish", PUBLISHED / "le2018-beetle")
    assert code == 2 and "at least one run" in out


def test_a_folder_that_is_neither_is_a_clear_error(tmp_path, runs, capsys):
    (tmp_path / "empty" / "cells").mkdir(parents=True)
    code, out = _compare(capsys, runs[0], tmp_path / "empty")
    assert code == 2 and "no completed cell" in out
    code, out = _compare(capsys, runs[0], tmp_path)
    assert code == 2 and "neither a run" in out


def test_the_stored_smoke_reference_passes_its_own_regression_gate(capsys):
    from conftest import REPO

    from benchsuite.cli import main

    reference = str(REPO / "results" / "reference" / "smoke")
    assert main(["compare", reference, reference, "--fail-worse", "2"]) == 0
    assert "unet-small+resnet18+gaussian(σ=4)" in capsys.readouterr().out
