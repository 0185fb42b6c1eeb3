"""The statistics reproduce published values, so a wiring mistake fails here.

Sources: scipy's and scikit-posthocs' own documented examples and tests, and
the worked example of Demšar (2006), "Statistical comparisons of classifiers
over multiple data sets", JMLR 7: Table 6 (AUC of C4.5 variants on 14 data
sets) and the numbers computed from it in sections 3.1.3 and 3.2.2.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from benchsuite.report import stats
from benchsuite.report.plots import pyplot

DEMSAR_COLUMNS = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]
DEMSAR_AUC = [  # Table 6; higher is better
    [0.763, 0.768, 0.771, 0.798], [0.599, 0.591, 0.590, 0.569], [0.954, 0.971, 0.968, 0.967],
    [0.628, 0.661, 0.654, 0.657], [0.882, 0.888, 0.886, 0.898], [0.936, 0.931, 0.916, 0.931],
    [0.661, 0.668, 0.609, 0.685], [0.583, 0.583, 0.563, 0.625], [0.775, 0.838, 0.866, 0.875],
    [1.000, 1.000, 1.000, 1.000], [0.940, 0.962, 0.965, 0.962], [0.619, 0.666, 0.614, 0.669],
    [0.972, 0.981, 0.975, 0.975], [0.957, 0.978, 0.946, 0.970],
]


@pytest.fixture
def demsar():
    """Table 6 as printed, except that the paper's ranks (2.893 and 1.964 for the last two columns)
    show C4.5+cf beat C4.5+m+cf on 'voting' before rounding to 0.975 each: we restore that order."""
    table = pd.DataFrame(DEMSAR_AUC, columns=DEMSAR_COLUMNS)
    table.loc[12, "C4.5+cf"] = 0.9751
    return table


def test_average_ranks_are_demsars(demsar):
    ranks = stats.average_ranks(demsar, higher_is_better=True)
    assert ranks.round(3).tolist() == [3.143, 2.000, 2.893, 1.964]


def test_friedman_statistic_and_iman_davenport_are_demsars(demsar):
    result = stats.friedman(demsar, higher_is_better=True, tie_correction=False)
    assert round(result.statistic, 2) == 9.28  # χ²_F
    assert round(result.iman_davenport, 2) == 3.69  # F_F, with 3 and 39 degrees of freedom
    assert result.iman_davenport_pvalue < 0.05 and (result.blocks, result.methods) == (14, 4)


def test_friedman_matches_scipys_documented_example():
    x = np.random.default_rng(seed=18).random((6, 10))  # scipy.stats.friedmanchisquare's docstring
    result = stats.friedman(pd.DataFrame(x.T))
    assert result.statistic == pytest.approx(11.428571428571416)
    assert result.pvalue == pytest.approx(0.043514520866727614)


def test_friedman_tie_correction_agrees_with_scipy_on_tied_data():
    table = pd.DataFrame(DEMSAR_AUC, columns=DEMSAR_COLUMNS)  # 'mushroom' ties all four
    expected = st.friedmanchisquare(*table.T.to_numpy())
    assert stats.friedman(table, higher_is_better=True).statistic == pytest.approx(expected.statistic)


def test_nemenyi_critical_difference_is_demsars():
    assert stats.nemenyi_cd(4, 14, 0.05) == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 14)), abs=1e-3)
    assert round(stats.nemenyi_cd(4, 14, 0.05), 2) == 1.25  # "CD = 1.25" (q_0.05 = 2.569)
    assert round(stats.nemenyi_cd(4, 14, 0.10), 2) == 1.12  # "CD = 1.12" (q_0.10 = 2.291)


def test_nemenyi_post_hoc_reaches_demsars_conclusions(demsar):
    """At α = 0.10 (CD = 1.12) C4.5 is worse than C4.5+m and C4.5+m+cf; nothing differs at α = 0.05."""
    p = stats.posthoc(demsar, "nemenyi")
    for other in ("C4.5+m", "C4.5+m+cf"):
        assert 0.05 < p.loc["C4.5", other] < 0.10
    assert (p.loc["C4.5+cf"].drop("C4.5+cf") > 0.10).all()
    assert list(p.columns) == DEMSAR_COLUMNS and p.loc["C4.5", "C4.5+m"] == p.loc["C4.5+m", "C4.5"]


SCIKIT_POSTHOCS_BLOCKS = [[4, 3, 4, 4, 5, 6, 3], [1, 2, 3, 5, 6, 7, 7], [1, 2, 6, 4, 1, 5, 1]]  # their df_bn


def test_nemenyi_post_hoc_matches_scikit_posthocs_test_values():
    p = stats.posthoc(pd.DataFrame(SCIKIT_POSTHOCS_BLOCKS), "nemenyi")
    expected = [1.0, 0.9999999, 0.8414506, 0.9177741, 0.9177741, 0.2147827, 0.9976902]
    assert p.iloc[:, 0].tolist() == pytest.approx(expected, abs=1e-6)


def test_conover_post_hoc_matches_scikit_posthocs_test_values():
    blocks = pd.DataFrame(SCIKIT_POSTHOCS_BLOCKS)
    p = stats.posthoc(blocks, "conover", p_adjust=None)
    expected = [1.0, 0.9147508, 0.1518030, 0.2140927, 0.2140927, 0.0181602, 0.5242303]
    assert p.iloc[:, 0].tolist() == pytest.approx(expected, abs=1e-6)
    holm = stats.posthoc(blocks, "conover")  # Holm by default: the smallest of 21 p-values is multiplied by 21
    assert holm.iloc[5, 0] == pytest.approx(0.0181602 * 21, abs=1e-5)


def test_wilcoxon_matches_scipys_documented_example():
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]  # scipy.stats.wilcoxon's docstring
    result = stats.wilcoxon(d, np.zeros(len(d)))
    assert (result.statistic, result.pvalue) == (24.0, pytest.approx(0.041259765625))
    assert result.rank_biserial == pytest.approx((96 - 24) / 120)  # R+ = 96, R- = 24


def test_wilcoxon_splits_zero_differences_as_demsar_does():
    """Section 3.1.3: C4.5+m vs C4.5 gives R+ = 93, R- = 12, so T = 12 (the 'mushroom' tie split)."""
    table = pd.DataFrame(DEMSAR_AUC, columns=DEMSAR_COLUMNS)
    result = stats.wilcoxon(table["C4.5+m"], table["C4.5"])
    assert result.statistic == 12.0 and result.n == 14
    assert result.rank_biserial == pytest.approx((93 - 12) / 105)
    assert result.pvalue < 0.05


def test_wilcoxon_of_identical_samples_is_no_difference():
    result = stats.wilcoxon([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (result.pvalue, result.rank_biserial) == (1.0, 0.0)


def test_holm_adjustment_by_hand():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> kept monotone: 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # 0.5·2 caps at 1 and monotonicity carries it


def test_wilcoxon_pairs_holm_corrects_over_the_pairs_given():
    rng = np.random.default_rng(1)
    matrix = pd.DataFrame({"a": rng.normal(0, 1, 30), "b": rng.normal(0.6, 1, 30), "c": rng.normal(0, 1, 30)})
    table = stats.wilcoxon_pairs(matrix)
    assert list(zip(table.a, table.b)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert table.p_holm.tolist() == pytest.approx(stats.holm(table.p).tolist())
    assert table.loc[0, "p"] == pytest.approx(st.wilcoxon(matrix.a, matrix.b, zero_method="zsplit").pvalue)


def test_nadeau_bengio_corrected_t_by_hand():
    """d = 1..5 over 5 folds, n_test/n_train = 1/4: t = 3 / sqrt((1/5 + 1/4) · 2.5) = 2√2, 4 df."""
    result = stats.nadeau_bengio([1, 2, 3, 4, 5], 1 / 4)
    assert result.t == pytest.approx(2 * math.sqrt(2))
    assert result.df == 4 and result.pvalue == pytest.approx(2 * st.t.sf(2 * math.sqrt(2), 4))
    naive = st.ttest_1samp([1, 2, 3, 4, 5], 0)  # the uncorrected test is overconfident
    assert naive.statistic == pytest.approx(3 / math.sqrt(2.5 / 5)) and naive.pvalue < result.pvalue


def test_bayesian_signed_rank_orients_its_probabilities():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    better, equivalent, worse = stats.bayesian_signed_rank(a, a + 2.0, rope=0.5)  # errors: a is lower
    assert better > 0.9 and better + equivalent + worse == pytest.approx(1.0)
    better, equivalent, worse = stats.bayesian_signed_rank(a, a + 2.0, rope=0.5, higher_is_better=True)
    assert worse > 0.9
    assert stats.bayesian_signed_rank(a, a + 0.1, rope=0.5)[1] > 0.9  # within the ROPE: equivalent


def test_cd_diagram_is_a_png(tmp_path, demsar):
    ranks = stats.average_ranks(demsar, higher_is_better=True)
    path = stats.cd_diagram(ranks, stats.posthoc(demsar), tmp_path / "cd.png", "Demšar Table 6")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cd_diagram_draws_the_critical_difference_as_a_bar_from_the_best_rank(demsar):
    ranks = stats.average_ranks(demsar, higher_is_better=True)
    cd = stats.nemenyi_cd(4, 14)
    figure = stats.cd_figure(ranks, stats.posthoc(demsar), "Demšar Table 6", cd=cd)
    ax = figure.axes[0]
    above = [line.get_xdata() for line in ax.lines if min(line.get_ydata()) > 0.5]  # over the rank axis (y = 0)
    assert any(np.allclose(x, [ranks.min(), ranks.min() + cd]) for x in above)  # Demšar's CD = 1.25 ranks
    assert f"CD = {cd:.2f}" in [t.get_text() for t in ax.texts] and round(cd, 2) == 1.25
    top = ax.get_ylim()[1]
    assert all(max(line.get_ydata()) < top for line in ax.lines)  # drawn inside the axes, not clipped
    bare = stats.cd_figure(ranks, stats.posthoc(demsar), "no bar").axes[0]
    assert not [line for line in bare.lines if min(line.get_ydata()) > 0.5]
    pyplot().close("all")
