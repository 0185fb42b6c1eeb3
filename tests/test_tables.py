"""The papers' tables from a stored run: content, emphasis, incomplete methods, every format."""
from __future__ import annotations

import shutil

import io

import numpy as np
import pandas as pd
import pytest
from fake_runs import identified, make_run, trained, write_cell

from benchsuite.cli import main
from benchsuite.report.render import render
from benchsuite.run.results import Run
from benchsuite.run.curves import starved, still_improving
from benchsuite.report.tables import TABLES, build
from benchsuite.run.store import RunStore

SCALES = {  # typical error (px) of each method on each dataset
    "fishA": {"unet+gaussian": 2.0, "fcn8+gaussian": 2.02, "unet-regression+regression": 6.0, "mean-shape": 30.0},
    "fishB": {"unet+gaussian": 3.0, "fcn8+gaussian": 2.0, "unet-regression+regression": 8.0, "mean-shape": 40.0},
}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """fcn8 on fishB lacks its last fold (and would be the best there); fishA has a pixel size."""
    root = tmp_path_factory.mktemp("tables") / "run"
    make_run(root, SCALES, skip={("fishB", "fcn8+gaussian", 2)}, pixel_size_mm={"fishA": 0.1},
             human_error={"fishA": 1.5})
    return root


def _table(run_folder, capsys, *args) -> str:
    assert main(["leaderboard", str(run_folder), *args]) == 0
    return capsys.readouterr().out


def _row(text: str, *cells: str) -> str:
    return next(line for line in text.splitlines() if all(f"| {c} " in line for c in cells))


MARKERS = {"md": "|---", "latex": "\\begin{tabular}", "html": "<table>", "csv": ","}


@pytest.mark.parametrize("name", list(TABLES))
def test_every_table_renders_in_every_format(run_folder, registry, name):
    table = build(Run(run_folder, registry), name)
    assert table.rows and len(table.data)
    for fmt, marker in MARKERS.items():
        text = render(table, fmt)
        assert marker in text, fmt
    body = render(table, "latex").split("\\begin{tabular}", 1)[1]
    assert "±" not in body and ("\\pm" in body or name in ("ranking", "speed"))
    assert render(table, "csv").splitlines()[0].startswith("method," if name == "ranking" else "dataset,")


@pytest.mark.parametrize("fmt", list(MARKERS))
def test_leaderboard_command_takes_each_format(run_folder, capsys, fmt):
    assert MARKERS[fmt] in _table(run_folder, capsys, "--table", "heatmap", "--format", fmt)


def test_best_is_bold_and_a_method_not_significantly_worse_gets_a_dagger(run_folder, capsys):
    text = _table(run_folder, capsys)
    assert "**" in _row(text, "fishA", "unet+gaussian") and "†" not in _row(text, "fishA", "unet+gaussian")
    assert "†" in _row(text, "fishA", "fcn8+gaussian")  # 1 % worse: indistinguishable on 24 images
    assert "†" not in _row(text, "fishA", "unet-regression+regression")  # 3× worse
    data = pd.read_csv(io.StringIO(_table(run_folder, capsys, "--format", "csv")))
    fish_a = data[(data.dataset == "fishA") & ~data.reference].set_index("method")
    assert fish_a.best.tolist() == [True, False, False, False] and fish_a.not_worse.tolist() == [True, True, False,
                                                                                                 False]


def test_the_dagger_follows_alpha(run_folder, capsys):
    data = pd.read_csv(io.StringIO(_table(run_folder, capsys, "--format", "csv", "--alpha", "1.0")))
    assert not data[(data.dataset == "fishA") & (data.method == "fcn8+gaussian")].not_worse.item()


def test_the_inter_annotator_error_is_a_reference_row_never_ranked(run_folder, capsys):
    text = _table(run_folder, capsys)
    human = _row(text, "fishA", "human (inter-annotator)")
    assert "| 1.50 " in human and "**" not in human and "†" not in human  # below the best, yet not bold
    assert "**" in _row(text, "fishA", "unet+gaussian") and "human" not in text.split("fishB", 1)[1].split("\n- ")[0]
    data = pd.read_csv(io.StringIO(_table(run_folder, capsys, "--format", "csv")))
    reference = data[data.reference]
    assert reference[["dataset", "method", "mean"]].values.tolist() == [["fishA", "human (inter-annotator)", 1.5]]
    assert not reference.best.any() and not reference.not_worse.any()
    heatmap = _table(run_folder, capsys, "--table", "heatmap")
    assert "human (inter-annotator)" in heatmap.splitlines()[2] and "| 1.50 " in _row(heatmap, "fishA", "gaussian")
    ranking = _table(run_folder, capsys, "--table", "ranking")
    assert "human" not in ranking


def test_an_incomplete_method_is_marked_and_never_best_even_when_lowest(run_folder, capsys):
    text = _table(run_folder, capsys)
    row = _row(text, "fishB", "fcn8+gaussian")
    assert "2/3 incomplete" in row and "**" not in row and "†" not in row
    assert "**" in _row(text, "fishB", "unet+gaussian")
    heatmap = _table(run_folder, capsys, "--table", "heatmap")
    assert "(2/3 folds)" in _row(heatmap, "fishB", "gaussian")
    ranking = _table(run_folder, capsys, "--table", "ranking")
    assert "| —" in _row(ranking, "fcn8+gaussian") and "1/2" in _row(ranking, "fcn8+gaussian")


def test_summary_reports_median_p90_images_and_missing(tmp_path, capsys):
    store = RunStore(tmp_path / "r")
    rng = np.random.default_rng(0)
    errors = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, np.nan], [10.0, 10.0]])  # one landmark without truth
    write_cell(store, "d", "mean-shape", 0, errors, ["a", "b", "c", "e"], folds=1, rng=rng)
    data = pd.read_csv(io.StringIO(_table(store.root, capsys, "--format", "csv")))
    row = data.iloc[0]
    assert row["mean"] == pytest.approx(4.0) and row["median"] == pytest.approx(2.5)
    assert row["p90"] == pytest.approx(np.percentile([1, 2, 3, 10], 90))
    assert (row["images"], row["missing"]) == (4, 1)


def test_heatmap_table_rows_are_codecs_and_columns_architectures_with_parameters(run_folder, capsys):
    text = _table(run_folder, capsys, "--table", "heatmap")
    header = next(line for line in text.splitlines() if line.startswith("| dataset"))
    assert "| codec" in header and "fcn8 (17M)" in header and "unet (31M)" in header
    assert "unet-regression" not in text and "mean-shape" not in text
    assert "**" in _row(text, "fishA", "gaussian")


def test_regression_and_baseline_tables_pick_their_methods(run_folder, capsys):
    regression = _table(run_folder, capsys, "--table", "regression")
    assert "unet-regression (31M)" in regression and "fcn8" not in regression and "mean-shape" not in regression
    baseline = _table(run_folder, capsys, "--table", "baseline")
    assert "mean-shape" in baseline and "unet" not in baseline


def test_hit_rates_at_multiples_of_delta_pixels_and_millimetres(tmp_path, capsys):
    store = RunStore(tmp_path / "r")
    rng = np.random.default_rng(0)
    errors = np.array([[5.0, 15.0, 25.0, 35.0]] * 2)  # δ = 640 / 64 = 10 px, 0.5 mm per px
    write_cell(store, "xray", "mean-shape", 0, errors, ["a", "b"], folds=1, rng=rng, pixel_size_mm=0.5)
    write_cell(store, "photo", "mean-shape", 0, errors, ["c", "e"], folds=1, rng=rng)
    data = pd.read_csv(io.StringIO(_table(store.root, capsys, "--table", "hits", "--format", "csv")))
    xray = data[data.dataset == "xray"].set_index("column")["mean"]
    assert [xray[f"hit @ {k}δ".replace("1δ", "δ")] for k in (1, 2, 3, 4)] == [25.0, 50.0, 75.0, 100.0]
    assert xray["hit @ 10 px"] == 25.0 and xray["hit @ 4 mm"] == 25.0  # 4 mm = 8 px
    assert data[(data.dataset == "photo") & data.column.str.endswith("mm")]["mean"].isna().all()
    text = _table(store.root, capsys, "--table", "hits")
    assert "| 10.00 " in _row(text, "xray") and "hit @ 2δ (%)" in text and "hit @ 2.5 mm (%)" in text


def test_tables_of_old_runs_without_image_sizes_still_render(tmp_path, capsys):
    store = RunStore(tmp_path / "r")
    table = pd.DataFrame([dict(image_id="i", landmark="a", x=0.0, y=0.0, pred_x=3.0, pred_y=4.0)])
    store.write(*identified({"status": "ok", "dataset": "toy", "method": "m", "fold": 0,
                             "config": {"protocol": {"folds": 1}}}), table)
    text = _table(store.root, capsys, "--table", "hits")
    assert "| —" in _row(text, "toy", "m")
    assert "5.00" in _table(store.root, capsys)


def test_per_landmark_table_names_landmarks_in_dataset_order_and_draws_a_chart(run_folder, tmp_path, capsys):
    png = tmp_path / "landmarks.png"
    assert main(["leaderboard", str(run_folder), "--table", "per-landmark", "--plot", str(png)]) == 0
    captured = capsys.readouterr()
    rows = [line for line in captured.out.splitlines() if line.startswith("| fishA")]
    assert [r.split("|")[3].strip() for r in rows] == ["snout", "eye", "tail"]
    assert png.read_bytes()[:4] == b"\x89PNG" and str(png) in captured.err


def test_plot_needs_the_per_landmark_table(run_folder, capsys):
    assert main(["leaderboard", str(run_folder), "--plot"]) == 2
    assert "per-landmark" in capsys.readouterr().err


def test_correlation_table_gives_r2_ev_and_pearson(tmp_path, capsys):
    store = RunStore(tmp_path / "r")
    rng = np.random.default_rng(0)
    write_cell(store, "d", "unet+gaussian", 0, np.zeros((3, 3)), ["a", "b", "c"], folds=1, rng=rng)
    write_cell(store, "d", "mean-shape", 0, np.full((3, 3), 40.0), ["a", "b", "c"], folds=1, rng=rng)
    text = _table(store.root, capsys, "--table", "correlation")
    assert "| **1.0000** " in _row(text, "d", "unet+gaussian")
    assert "r²" in text and "explained variance" in text and "Pearson r" in text
    assert "each landmark's x and each landmark's y is its own target" in text and "pooled" not in text


def test_ranking_is_the_mean_rank_over_datasets_of_complete_methods(tmp_path, capsys):
    store = RunStore(tmp_path / "r")
    rng = np.random.default_rng(0)
    errors = {"d1": {"unet+gaussian": 1.0, "fcn8+gaussian": 2.0, "mean-shape": 3.0},
              "d2": {"unet+gaussian": 2.0, "fcn8+gaussian": 1.0, "mean-shape": 3.0}}
    for dataset, methods in errors.items():
        for method, error in methods.items():
            for fold in range(2):
                if (dataset, method, fold) != ("d2", "mean-shape", 1):  # incomplete on d2: unranked there
                    write_cell(store, dataset, method, fold, np.full((2, 2), error), [f"{fold}a", f"{fold}b"],
                               folds=2, rng=rng)
    data = pd.read_csv(io.StringIO(_table(store.root, capsys, "--table", "ranking", "--format", "csv")))
    assert data.set_index("method")["mean_rank"].to_dict() == {"unet+gaussian": 1.5, "fcn8+gaussian": 1.5,
                                                               "mean-shape": 3.0}
    assert data.set_index("method")["datasets"].to_dict() == {"unet+gaussian": 2, "fcn8+gaussian": 2,
                                                              "mean-shape": 1}
    assert list(data.method)[-1] == "mean-shape"


def test_method_and_dataset_filters(run_folder, capsys):
    text = _table(run_folder, capsys, "-m", "*gaussian", "-d", "fishA")
    assert "fishB" not in text and "mean-shape" not in text and "unet+gaussian" in text


def test_unknown_table_is_a_clear_error(run_folder, capsys):
    assert main(["leaderboard", str(run_folder), "--table", "nope"]) == 2
    assert "unknown table 'nope'" in capsys.readouterr().err


def test_speed_table_reports_throughput_and_pipeline_efficiency(tmp_path, registry):
    from benchsuite.run.results import Run
    from benchsuite.report.tables import build
    from benchsuite.run.store import RunStore

    store = RunStore(tmp_path / "run")
    rows = pd.DataFrame([dict(image_id="i", landmark="a", x=0.0, y=0.0, pred_x=1.0, pred_y=0.0)])
    for fold, (train, bare) in enumerate([(90.0, 100.0), (70.0, 100.0)]):
        store.write(*identified({"status": "ok", "dataset": "d", "method": "m", "fold": fold,
                                 "config": {"protocol": {"folds": 2}}, "device": "cpu", "train_seconds": 10.0,
                                 "train_images_per_s": train, "bare_images_per_s": bare,
                                 "pipeline_efficiency": train / bare}), rows)
    table = build(Run(store, registry), "speed")
    assert table.data.loc[0, "pipeline_efficiency"] == pytest.approx(0.8)
    assert table.data.loc[0, "train_images_per_s"] == pytest.approx(80.0)


@pytest.fixture(scope="module")
def flagged_run(tmp_path_factory):
    """fcn8 errs more than the dataset's baseline (labelled 'floor' here: found by what it is, not its name);
    unet-regression put one landmark just past the right edge of a 640 px wide image."""
    store = RunStore(tmp_path_factory.mktemp("flags") / "run")
    rng = np.random.default_rng(0)
    for method, error in (("floor", 10.0), ("unet+gaussian", 2.0), ("fcn8+gaussian", 15.0),
                          ("unet-regression+regression", 3.0)):
        spec = ("mean-shape", None, None, None) if method == "floor" else None
        for fold in range(2):
            ids = [f"{fold}-{i}" for i in range(4)]
            cell = write_cell(store, "d", method, fold, np.full((4, 3), error), ids, folds=2, rng=rng, spec=spec)
            if method.startswith("unet-regression") and fold == 1:
                record, table = store.record(cell), store.predictions(cell)
                table.loc[0, ["x", "pred_x"]] = [637.0, 639.6]  # the last pixel's centre is 639, its edge 639.5
                store.write(cell, record, table)
    return store.root


def test_methods_worse_than_the_baseline_or_outside_the_image_are_flagged(flagged_run, capsys):
    text = _table(flagged_run, capsys)
    method = {line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| d ")}
    assert method == {"fcn8+gaussian‡", "unet-regression+regression§", "unet+gaussian", "floor"}
    assert "- ‡: mean error worse than the dataset's baseline" in text and "floor" in text.split("- ‡:")[1]
    assert "- §: predicted landmarks outside the image" in text
    assert "fcn8+gaussian‡" in _table(flagged_run, capsys, "-m", "*gaussian")  # judged on the whole run
    data = pd.read_csv(io.StringIO(_table(flagged_run, capsys, "--format", "csv"))).set_index("method")
    assert data.worse_than_baseline.to_dict() == {"unet+gaussian": False, "unet-regression+regression": False,
                                                  "floor": False, "fcn8+gaussian": True}
    assert data.outside_image.to_dict() == {"unet+gaussian": 0, "unet-regression+regression": 1, "floor": 0,
                                            "fcn8+gaussian": 0}


@pytest.mark.parametrize("name", [n for n in TABLES if n != "baseline"])
def test_flags_appear_in_every_table_with_their_footnote(flagged_run, registry, name):
    text = render(build(Run(flagged_run, registry), name), "md")
    body, notes = text.split("\n\n- ", 1)
    marks = [mark for mark, method in (("‡", "fcn8"), ("§", "unet-regression")) if method in body]
    assert marks, "the table shows neither flagged method"
    for mark in marks:
        assert mark in body and f"{mark}: " in notes
    assert "\\S" in render(build(Run(flagged_run, registry), name), "latex") or "§" not in marks


def test_without_a_baseline_nothing_is_flagged_worse(tmp_path, capsys):
    store = make_run(tmp_path / "r", {"fishA": {"unet+gaussian": 2.0, "fcn8+gaussian": 40.0}})
    assert "‡" not in _table(store.root, capsys)


@pytest.fixture(scope="module")
def retrained_run(tmp_path_factory):
    """fcn8 errs more than unet on 2 folds of 3 and less on the third: worse on most images (Wilcoxon), but the
    fold scores vary too much for the difference to survive retraining (Nadeau–Bengio)."""
    store = RunStore(tmp_path_factory.mktemp("dagger") / "run")
    rng = np.random.default_rng(1)
    for fold, factor in enumerate((1.5, 1.3, 0.95)):
        ids = [f"{fold}-{i}" for i in range(8)]
        errors = 2.0 * rng.gamma(4.0, 0.25, size=(8, 3))
        for method, scale in (("unet+gaussian", 1.0), ("fcn8+gaussian", factor)):
            write_cell(store, "d", method, fold, scale * errors, ids, folds=3, rng=rng)
    return store.root


def test_the_dagger_says_which_test_it_uses_and_can_account_for_retraining(retrained_run, capsys):
    text = _table(retrained_run, capsys)
    assert "†" not in _row(text, "d", "fcn8+gaussian")
    assert "†: not significantly worse than the best (per-image Wilcoxon signed-rank" in text
    corrected = _table(retrained_run, capsys, "--dagger", "nadeau-bengio")
    assert "†" in _row(corrected, "d", "fcn8+gaussian")
    assert "†: not significantly worse than the best (Nadeau–Bengio corrected resampled t-test" in corrected
    data = pd.read_csv(io.StringIO(_table(retrained_run, capsys, "--table", "heatmap", "--format", "csv",
                                          "--dagger", "nadeau-bengio"))).set_index("method")
    assert data.not_worse.to_dict() == {"unet+gaussian": True, "fcn8+gaussian": True}
    with pytest.raises(SystemExit):
        main(["leaderboard", str(retrained_run), "--dagger", "t-test"])


def test_a_value_that_rounds_to_zero_is_shown_without_a_minus_sign():
    from benchsuite.report.render import mean_std, number

    assert mean_std(-1e-17, 1e-18, 4) == "0.0000 ± 0.0000" and number(-0.001) == "0.00"
    assert mean_std(-0.25, 0.5) == "-0.25 ± 0.50"


FALLING = np.linspace(40.0, 5.0, 20)  # still falling at its 20th epoch
FLAT = np.r_[np.linspace(40.0, 5.0, 8), 5.0 + 0.02 * np.abs(np.sin(np.arange(1, 13)))]  # best at 8, flat after


def test_still_improving_is_read_from_the_learning_curve_or_from_the_best_epoch():
    assert still_improving(trained(FALLING))
    assert not still_improving(trained(FLAT))
    nudged = np.r_[FLAT, 4.99]  # a new best by a hair (0.2 %) on a flat curve is noise, not progress
    assert not still_improving(trained(nudged)) and trained(nudged)["best_epoch"] == len(nudged)
    assert still_improving(trained([30.0]))  # one epoch: it had barely started
    # cells recorded before learning curves: the best epoch among the last quarter of the epochs run
    assert still_improving(trained(FALLING, curve=False))
    assert not still_improving(trained(FLAT, curve=False))
    assert not still_improving({"train_seconds": 3.0})  # the mean shape, dlib: no epochs


def test_a_method_training_in_stages_is_starved_when_any_stage_is():
    """Coarse to fine on the X-rays: the budget stopped both its stages at or near their best epoch, yet the
    table gave it no ‖, because its record's top line (epochs in all, the last stage's stop) has no curve."""
    patient = trained(FLAT, stopped_by="patience")
    assert starved({"stopped_by": "patience", "stages": {"coarse": trained(FALLING), "fine": patient}})
    assert not starved({"stopped_by": "budget", "stages": {"coarse": trained(FLAT), "fine": patient}})  # flat
    as_recorded = {"coarse": {"epochs_run": 27, "best_epoch": 27, "stopped_by": "budget"},  # before stage curves
                   "fine": {"epochs_run": 9, "best_epoch": 7, "stopped_by": "budget"}}
    assert starved({"epochs_run": 36, "stopped_by": "budget", "stages": as_recorded})
    damaged = {"stopped_by": "budget", "epochs_run": 9, "best_epoch": 9, "learning_curve": 5}  # read as no curve
    assert starved(damaged) and starved({"stages": {"coarse": damaged, "fine": "not a stage"}})


@pytest.fixture(scope="module")
def starved_run(tmp_path_factory):
    """unet's 1.6-minute budget ended it still improving on 2 of its 3 folds; fcn8 ran out of budget on a flat
    curve; the regression network was stopped by patience while still falling (its epochs, not time, ended it)."""
    root = tmp_path_factory.mktemp("starved") / "run"
    make_run(root, {"wings": {"unet+gaussian": 4.0, "fcn8+gaussian": 3.0, "unet-regression+regression": 6.0,
                              "mean-shape": 30.0}},
             records={("wings", "unet+gaussian"): [trained(FALLING, max_minutes=1.6),
                                                   trained(FALLING, max_minutes=1.6, curve=False),
                                                   trained(FLAT, max_minutes=1.6)],
                      ("wings", "fcn8+gaussian"): trained(FLAT, max_minutes=1.6),
                      ("wings", "unet-regression+regression"): trained(FALLING, stopped_by="patience"),
                      ("wings", "mean-shape"): {"train_seconds": 0.03}})
    return root


@pytest.mark.parametrize("name", [n for n in TABLES if n not in ("baseline", "regression")])
def test_a_network_its_budget_stopped_still_improving_is_flagged_in_every_table(starved_run, registry, name):
    table = build(Run(starved_run, registry), name)
    text = render(table, "md")
    body, notes = text.split("\n\n- ", 1)
    assert "‖" in body
    note = next(n for n in notes.split("\n- ") if n.startswith("‖: "))
    assert "unet+gaussian on wings: 2 of 3 folds, 1.6 minutes of training per fold" in note
    assert "--budget DURATION" in note and "--set max_minutes=M" in note
    assert "$\\|$" in render(table, "latex")
    if name == "summary":  # only unet: fcn8's curve was flat, the regression network stopped by patience
        assert {line.split("|")[2].strip() for line in body.splitlines() if "‖" in line} == {"unet+gaussian‖"}
        assert table.data.set_index("method")["starved_folds"].to_dict() == {
            "unet+gaussian": 2, "fcn8+gaussian": 0, "unet-regression+regression": 0, "mean-shape": 0}


def test_the_training_table_says_how_each_method_was_trained(tmp_path, registry):
    root = tmp_path / "run"
    make_run(root, {"wings": {"unet+gaussian": 4.0, "mean-shape": 30.0}}, folds=2,
             records={("wings", "unet+gaussian"): [trained(FALLING, max_minutes=1.6),
                                                   trained(FLAT, stopped_by="patience", max_minutes=1.6)],
                      ("wings", "mean-shape"): {"train_seconds": 0.6}})
    store = RunStore(root)
    for record in list(store.records()):  # a pretrained encoder and the lab protocol's augmentation
        if record["method"] == "unet+gaussian":
            weights = {"file": "imagenet", "sha256": "5793"}  # as a grid records it: with its digest
            config = record["config"] | {"encoder": {"name": "efficientnet-lite0", "params": {"weights": weights}}}
            config["protocol"] |= {"rotate_deg": 10.0, "scale": 0.1, "translate": 0.05}
            predictions = store.predictions(record["id"])
            shutil.rmtree(root / "cells" / record["id"])  # the identity changed: the cell moves to its new id
            store.write(*identified(record | {"config": config}), predictions)
    table = build(Run(root, registry), "training")
    rows = {row[1].text: row for row in table.rows}
    network = [e.text for e in rows["unet+gaussian"]]
    assert network[2:5] == ["64×64", "ImageNet", "rotation ±10°, zoom ±10 %, shift ±5 %"]
    assert network[5] == "20 / 8–20"  # both folds ran 20 epochs; their best epochs span 8 to 20
    assert set(network[6].split(", ")) == {"budget ×1", "patience ×1"} and network[7:] == ["1/2", "2.0 ± 0.0", "1.6"]
    assert rows["unet+gaussian"][1].flags == "‖"  # fold 0: its budget stopped it still improving
    assert [e.text for e in rows["mean-shape"]][2:] == ["—"] * 6 + ["0.01 ± 0.00", "—"]


def test_the_leaderboard_gives_the_error_as_a_share_of_the_specimen_and_in_mm_where_known(run_folder, registry):
    table = build(Run(run_folder, registry), "summary")
    assert table.headers[2:5] == ["MRE (px) mean ± std over folds", "mm", "% of specimen size"]
    data = table.data[~table.data.reference.astype(bool)].set_index(["dataset", "method"])
    best = data.loc[("fishA", "unet+gaussian")]
    assert best.mre_mm_mean == pytest.approx(best["mean"] * 0.1)  # fishA's pixels are 0.1 mm
    assert data.loc[("fishB", "unet+gaussian")].mre_mm_mean != data.loc[("fishB", "unet+gaussian")].mre_mm_mean
    assert 0 < best.mre_specimen_mean < 100 and any("diagonal of its annotated landmarks" in n for n in table.notes)


def test_a_table_names_the_paper_it_follows_only_for_that_papers_datasets(tmp_path, registry):
    fish = make_run(tmp_path / "fish", {"zebrafish": {"unet+gaussian": 2.0, "fcn8+gaussian": 3.0}}).root
    wings = make_run(tmp_path / "wings", {"wings": {"unet+gaussian": 2.0, "fcn8+gaussian": 3.0}}).root
    assert build(Run(fish, registry), "heatmap").title == "Heatmap regression: fish (fish Table 4)"
    assert build(Run(wings, registry), "heatmap").title == "Heatmap regression: wings"
