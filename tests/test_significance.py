"""`benchsuite stats`: the tests run on the right data, say what they answer, draw CD diagrams."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_runs import identified, make_run, write_cell

from benchsuite.cli import main
from benchsuite.report import significance, stats
from benchsuite.run.results import Run
from benchsuite.report.scores import fold_scores, image_scores, load_metric, summarise
from benchsuite.run.store import RunStore

SCALES = {
    "fishA": {"unet+gaussian": 2.0, "fcn8+gaussian": 2.02, "unet-regression+regression": 6.0, "mean-shape": 30.0},
    "fishB": {"unet+gaussian": 3.0, "fcn8+gaussian": 2.0, "unet-regression+regression": 8.0, "mean-shape": 40.0},
}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats") / "run"
    make_run(root, SCALES, skip={("fishB", "fcn8+gaussian", 2)})
    return root


@pytest.fixture(scope="module")
def scores(run_folder, registry):
    run = Run(run_folder, registry)
    metric = load_metric(registry, "mre")
    folds = fold_scores(run, metric)
    return run, folds, image_scores(run, metric), summarise(folds)


def test_stats_command_prints_each_test_with_its_question_and_writes_cd_diagrams(run_folder, tmp_path, capsys):
    assert main(["stats", str(run_folder), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for question in ("do the methods differ at all", "which pairs differ", "ignores training variability",
                     "would the difference survive retraining", "what † marks in the tables",
                     "rank consistently better across datasets", "Bayesian signed-rank test with a ROPE"):
        assert question in out
    assert "excluded (incomplete folds): fcn8+gaussian" in out
    assert "WARNING: only 2 datasets" in out
    for name in ("cd-fishA.png", "cd-fishB.png", "cd-across-datasets.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG" and name in out


def test_friedman_uses_images_as_blocks_and_only_complete_methods(scores):
    run, folds, images, summary = scores
    tests = significance.within_dataset("fishB", summary, images, folds, {})
    assert tests.methods == ["unet+gaussian", "unet-regression+regression", "mean-shape"]
    assert tests.excluded == ["fcn8+gaussian"] and tests.images == 24
    rows = images[images.dataset == "fishB"].pivot(index="image_id", columns="method", values="value")
    expected = stats.friedman(rows[tests.methods])
    assert tests.friedman.statistic == pytest.approx(expected.statistic)
    assert tests.cd == pytest.approx(stats.nemenyi_cd(3, 24))


def test_pairs_carry_wilcoxon_holm_and_the_corrected_t_test(scores):
    run, folds, images, summary = scores
    ratios = significance.test_train_ratios(run)
    assert ratios["fishA"] == pytest.approx(8 / 16)  # fake splits: 12 train + 4 val for 8 test images
    tests = significance.within_dataset("fishA", summary, images, folds, ratios)
    pair = tests.pairs.set_index(["a", "b"]).loc[("unet+gaussian", "mean-shape")]
    per_fold = folds[folds.dataset == "fishA"].pivot(index="fold", columns="method", values="score")
    expected = stats.nadeau_bengio(per_fold["unet+gaussian"] - per_fold["mean-shape"], 8 / 16)
    assert pair["t_nb"] == pytest.approx(expected.t) and pair["p_nb"] == pytest.approx(expected.pvalue)
    assert pair["p_holm"] <= min(1.0, pair["p"] * len(tests.pairs)) + 1e-12 and pair["effect"] == -1.0


def test_not_worse_than_best_matches_what_the_tables_mark(scores):
    run, folds, images, summary = scores
    tests = significance.within_dataset("fishA", summary, images, folds, {})
    verdict = tests.vs_best.set_index("method")["not_worse"].to_dict()
    assert tests.best == "unet+gaussian"
    assert verdict == {"fcn8+gaussian": True, "unet-regression+regression": False, "mean-shape": False}


def test_across_datasets_warns_when_too_few_and_reads_the_bayesian_test(scores):
    run, folds, images, summary = scores
    across = significance.across_datasets(summary, rope=0.5)
    assert across.methods == sorted(["unet+gaussian", "unet-regression+regression", "mean-shape"])
    assert any("only 2 datasets" in w for w in across.warnings)
    bayes = across.bayes.set_index("b")
    assert (across.bayes["a"] == "unet+gaussian").all() and bayes.loc["mean-shape", "p_a_better"] > 0.9


def test_across_datasets_with_one_dataset_tests_nothing(scores):
    run, folds, images, summary = scores
    across = significance.across_datasets(summary[summary.dataset == "fishA"])
    assert across.friedman is None and "nothing to test" in across.warnings[0]


def test_stats_of_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["stats", "nope", "--results", str(tmp_path)]) == 2
    assert "no results" in capsys.readouterr().err


@pytest.fixture(scope="module")
def scales_apart(tmp_path_factory):
    """Six datasets, half photographed at 640 px (δ = 10 original px per input px), half at 64 px (δ = 1); fcn8
    errs 0.2 input px more than unet everywhere: 2 px on the large images, 0.2 px on the small ones."""
    store = RunStore(tmp_path_factory.mktemp("scales") / "run")
    rng = np.random.default_rng(0)
    for d in range(6):
        delta = 10.0 if d % 2 else 1.0
        for method, error in (("unet+gaussian", 1.0 + 0.1 * d), ("fcn8+gaussian", 1.2 + 0.1 * d),
                              ("mean-shape", 5.0)):
            for fold in range(2):
                ids = [f"d{d}-{fold}-{i}" for i in range(4)]
                write_cell(store, f"d{d}", method, fold, np.full((4, 3), error * delta), ids, folds=2, rng=rng,
                           size=(int(64 * delta), int(48 * delta)), input_size=64)
    return store.root


def test_across_datasets_compares_errors_in_network_input_pixels(scales_apart, registry):
    """Raw pixels would let the large images dominate, and a ROPE of 0.5 px would mean 0.05 input px there."""
    summary = significance.across_summary(Run(scales_apart, registry), load_metric(registry, "mre"))
    assert summary.unit == "input px" and not summary.excluded
    means = summary.table.set_index(["dataset", "method"])["mean"]
    assert means[("d1", "fcn8+gaussian")] == pytest.approx(1.3) and means[("d0", "fcn8+gaussian")] == pytest.approx(1.2)
    across = significance.across_datasets(summary.table, rope=0.5)
    bayes = across.bayes.set_index("b")
    assert bayes.loc["fcn8+gaussian", "p_equivalent"] > 0.9  # 0.2 input px apart everywhere: within the ROPE


def test_stats_states_the_rope_in_input_pixels(scales_apart, tmp_path, capsys):
    assert main(["stats", str(scales_apart), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ROPE = ±0.5 input px" in out and "error / δ" in out


def test_across_datasets_leaves_out_datasets_without_image_sizes(tmp_path, registry):
    store = RunStore(tmp_path / "run")
    rows = pd.DataFrame([dict(image_id="i", landmark="a", x=0.0, y=0.0, pred_x=3.0, pred_y=4.0)])
    store.write(*identified({"status": "ok", "dataset": "old", "method": "m", "fold": 0,
                             "config": {"protocol": {"folds": 1}}}), rows)
    summary = significance.across_summary(Run(store, registry), load_metric(registry, "mre"))
    assert summary.excluded == ["old"] and summary.table.empty


def test_one_dataset_gets_no_across_datasets_section_and_no_p_of_zero(tmp_path, capsys):
    root = tmp_path / "one"
    make_run(root, {"wings": {"unet+gaussian": 2.0, "mean-shape": 40.0, "fcn8+gaussian": 9.0}},
             images_per_fold=20)
    assert main(["stats", str(root), "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "across datasets:" not in out and "WARNING: only" not in out
    assert "0.00e+00" not in out
    assert significance.format_p(0.0) == "< 1e-16" and significance.format_p(2.5e-13) == "2.50e-13"
