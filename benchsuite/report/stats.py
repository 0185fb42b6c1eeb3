"""Statistical tests for comparing methods, as pure functions of score tables.

Conventions: a *matrix* is a DataFrame with one row per block (an image, or a
dataset) and one column per method; ranks are 1 = best. Which test answers
which question:

* ``friedman`` — do the k methods differ at all over these blocks?
  (Iman–Davenport's F is the less conservative reading, Demšar 2006.)
* ``posthoc`` / ``nemenyi_cd`` — which pairs differ, controlling the error
  over all pairs (Nemenyi; Conover is more powerful). The critical
  difference diagram draws it.
* ``wilcoxon_pairs`` — is A's per-image error different from B's on these
  very images? Paired, Holm-corrected, with the matched-pairs rank-biserial
  correlation as effect size. It conditions on the trained models, so it
  ignores training variability.
* ``nadeau_bengio`` — would the difference survive retraining? A fold-level
  t-test whose variance is inflated for the overlap of the folds' training
  sets (Nadeau & Bengio 2003).
* ``bayesian_signed_rank`` — across datasets, how probable is it that A is
  practically better, equivalent (within a ROPE) or worse (Benavoli et al.
  2017; baycomp).

scikit-posthocs, baycomp and matplotlib are imported inside the functions
that need them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as st


def average_ranks(matrix: pd.DataFrame, higher_is_better: bool = False) -> pd.Series:
    """Each method's rank averaged over blocks; ties share the average rank."""
    ranks = (-matrix if higher_is_better else matrix).rank(axis=1, method="average")
    return ranks.mean()


@dataclass
class Friedman:
    statistic: float  # Friedman's chi-square (k - 1 degrees of freedom)
    pvalue: float
    iman_davenport: float  # F with (k - 1, (k - 1)(N - 1)) degrees of freedom
    iman_davenport_pvalue: float
    blocks: int
    methods: int
    ranks: pd.Series


def friedman(matrix: pd.DataFrame, higher_is_better: bool = False, tie_correction: bool = True) -> Friedman:
    """Friedman's test over blocks (rows); Demšar's (2006) formulas, optionally tie-corrected like scipy."""
    n, k = matrix.shape
    if k < 3 or n < 2:
        raise ValueError(f"Friedman's test needs at least 3 methods and 2 blocks, got {k} and {n}")
    ranks = (-matrix if higher_is_better else matrix).rank(axis=1, method="average").to_numpy()
    mean_ranks = ranks.mean(axis=0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(mean_ranks**2) - k * (k + 1) ** 2 / 4)
    if tie_correction:
        ties = sum(np.sum(c**3 - c) for c in (np.unique(row, return_counts=True)[1] for row in ranks))
        chi2 /= 1 - ties / (n * k * (k * k - 1))
    p = float(st.chi2.sf(chi2, k - 1))
    denominator = n * (k - 1) - chi2
    f = (n - 1) * chi2 / denominator if denominator > 0 else math.inf
    pf = float(st.f.sf(f, k - 1, (k - 1) * (n - 1))) if math.isfinite(f) else 0.0
    return Friedman(float(chi2), p, float(f), pf, n, k, pd.Series(mean_ranks, index=matrix.columns))


def nemenyi_cd(methods: int, blocks: int, alpha: float = 0.05) -> float:
    """The Nemenyi critical difference of average ranks: q_α √(k(k+1) / 6N), q_α from the studentized range."""
    q = st.studentized_range.ppf(1 - alpha, methods, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(methods * (methods + 1) / (6 * blocks)))


def posthoc(matrix: pd.DataFrame, method: str = "nemenyi", p_adjust: str | None = "holm") -> pd.DataFrame:
    """All-pairs p-values after Friedman (scikit-posthocs): Nemenyi, or Conover adjusted by ``p_adjust``.

    Nemenyi's test controls the error over all pairs by itself; Conover's
    needs the adjustment (Holm by default).
    """
    import scikit_posthocs as sp

    if method == "nemenyi":
        result = sp.posthoc_nemenyi_friedman(matrix.to_numpy())
    elif method == "conover":
        result = sp.posthoc_conover_friedman(matrix.to_numpy(), p_adjust=p_adjust)
    else:
        raise ValueError(f"unknown post-hoc test {method!r} (known: nemenyi, conover)")
    result.index = result.columns = matrix.columns
    return result


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment: the i-th smallest p times (m - i), kept monotone, capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p))))
    result = np.empty_like(p)
    result[order] = np.minimum(adjusted, 1.0)
    return result


@dataclass
class Wilcoxon:
    n: int  # pairs
    statistic: float  # min(R+, R-), zero differences split between them
    pvalue: float
    rank_biserial: float  # (R+ - R-) / (R+ + R-): +1 when a is larger on every pair
    median_difference: float  # median of a - b


def wilcoxon(a, b) -> Wilcoxon:
    """Two-sided Wilcoxon signed-rank test of a - b; zero differences split (Demšar 2006)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0 or np.all(d == 0):
        return Wilcoxon(len(d), 0.0, 1.0, 0.0, 0.0)
    ranks = st.rankdata(np.abs(d))
    r_plus = ranks[d > 0].sum() + ranks[d == 0].sum() / 2
    r_minus = ranks[d < 0].sum() + ranks[d == 0].sum() / 2
    result = st.wilcoxon(d, zero_method="zsplit")
    return Wilcoxon(len(d), float(min(r_plus, r_minus)), float(result.pvalue),
                    float((r_plus - r_minus) / (r_plus + r_minus)), float(np.median(d)))


def wilcoxon_pairs(matrix: pd.DataFrame, pairs: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Paired Wilcoxon tests for the given (default: all) pairs of columns, Holm-corrected over them."""
    columns = list(matrix.columns)
    pairs = pairs if pairs is not None else [(a, b) for i, a in enumerate(columns) for b in columns[i + 1:]]
    rows = []
    for a, b in pairs:
        test = wilcoxon(matrix[a], matrix[b])
        rows.append({"a": a, "b": b, "n": test.n, "statistic": test.statistic, "p": test.pvalue,
                     "effect": test.rank_biserial, "median_diff": test.median_difference})
    table = pd.DataFrame(rows, columns=["a", "b", "n", "statistic", "p", "effect", "median_diff"])
    table["p_holm"] = holm(table["p"]) if len(table) else []
    return table


@dataclass
class CorrectedT:
    t: float
    df: int
    pvalue: float
    mean_difference: float


def nadeau_bengio(differences, test_train_ratio: float) -> CorrectedT:
    """Corrected resampled t-test over per-fold score differences.

    The naive variance s²/k is replaced by (1/k + n_test/n_train) s², because
    the folds' training sets overlap and their scores are correlated.
    """
    d = np.asarray(differences, dtype=float)
    k = len(d)
    if k < 2:
        raise ValueError("the corrected t-test needs at least 2 folds")
    mean, variance = float(d.mean()), float(d.var(ddof=1))
    if variance == 0:
        return CorrectedT(0.0 if mean == 0 else math.copysign(math.inf, mean), k - 1, 1.0 if mean == 0 else 0.0, mean)
    t = mean / math.sqrt((1 / k + test_train_ratio) * variance)
    return CorrectedT(float(t), k - 1, float(2 * st.t.sf(abs(t), k - 1)), mean)


def bayesian_signed_rank(a, b, rope: float, higher_is_better: bool = False, nsamples: int = 50000,
                         seed: int = 0) -> tuple[float, float, float]:
    """P(a practically better), P(equivalent within ±rope), P(b practically better), by baycomp."""
    import baycomp

    left, within, right = baycomp.SignedRankTest.probs(np.asarray(a, float), np.asarray(b, float), rope=rope,
                                                        nsamples=nsamples, random_state=seed)
    # baycomp's "right" is b - a > rope: b scores higher
    return (float(right), float(within), float(left)) if not higher_is_better else (float(left), float(within),
                                                                                     float(right))


def cd_figure(ranks: pd.Series, pvalues: pd.DataFrame, title: str, alpha: float = 0.05, cd: float | None = None):
    """A critical difference diagram (scikit-posthocs): methods joined by a bar do not differ; with ``cd``, the
    Nemenyi critical difference drawn as a bar of that many ranks above the axis (Demšar 2006)."""
    import scikit_posthocs as sp

    from benchsuite.report.plots import pyplot

    fig, ax = pyplot().subplots(figsize=(8, 1.6 + 0.35 * len(ranks)))
    sp.critical_difference_diagram(ranks, pvalues, ax=ax, alpha=alpha)
    if cd is not None:  # above the rank axis and its tick labels, starting at the best rank
        start, height = float(ranks.min()), 1.6
        ax.plot([start, start + cd], [height, height], color="black", linewidth=1.5, solid_capstyle="butt")
        ax.plot([start, start], [height - 0.15, height + 0.15], [start + cd] * 2, [height - 0.15, height + 0.15],
                color="black", linewidth=1.2)
        ax.text(start + cd / 2, height + 0.25, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
        ax.set_ylim(top=height + 1.0)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def cd_diagram(ranks: pd.Series, pvalues: pd.DataFrame, path: Path, title: str, alpha: float = 0.05,
               cd: float | None = None) -> Path:
    """:func:`cd_figure` written to ``path`` as PNG."""
    from benchsuite.report.plots import png, save

    return save(png(cd_figure(ranks, pvalues, title, alpha, cd)), path)
