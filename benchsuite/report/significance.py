"""Which differences between methods in a run are real: ``benchsuite stats``.

Within a dataset every complete method has exactly one out-of-fold
prediction per image, so per-image errors are paired across methods and the
images are the blocks. Across datasets the blocks are the datasets and the
values each method's mean over folds. Only complete methods (all folds) are
tested; the rest are listed as excluded.

Across datasets, errors are compared in network-input pixels (error / δ, δ =
original pixels per network-input pixel), not in original pixels. Pixel
scales differ about tenfold between datasets (2575-px microscopy beside
640-px video frames): in raw pixels the signed-rank test would weigh the
large-image datasets most, and a ROPE of 0.5 px would be a twentieth of a
pixel the network sees on one dataset and half of one on another. Divided by
δ, every dataset is measured in the pixels the network sees, and the ROPE
means the same everywhere (0.5: half an input pixel). The alternative, the
error relative to the same dataset's baseline (a method that ignores the
image), needs that baseline in every dataset and mixes in how variable each
dataset's poses are. Metrics in other units (%, input px, unitless) are already comparable
and used as they are; datasets whose image sizes were not stored (δ
unknown) are left out of the tests across datasets, and said so.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchsuite.api import PluginError
from benchsuite.report import stats
from benchsuite.report.scores import best_per_group
from benchsuite.run.results import Run

FEW_DATASETS = 10  # Demšar (2006): the Friedman χ² approximation wants N > 10 datasets for k ≤ 5

QUESTIONS = {
    "friedman": "Friedman (images as blocks): do the methods differ at all on this dataset?",
    "posthoc": "{name} post-hoc: which pairs differ, with the error controlled over all pairs?",
    "wilcoxon": ("Wilcoxon signed-rank per pair (Holm over all pairs; effect = rank-biserial r, + when the first "
                 "method errs more): do these trained models differ on these very images? "
                 "It ignores training variability."),
    "nadeau": ("Nadeau–Bengio corrected resampled t-test on fold scores: would the difference survive "
               "retraining? Its variance accounts for the folds' overlapping training sets."),
    "vs_best": ("Not significantly worse than the best (what † marks in the tables by default; `leaderboard "
                "--dagger nadeau-bengio` marks by the corrected t-test instead): Wilcoxon signed-rank of each method "
                "against the best, Holm over those comparisons."),
    "across": "Friedman + Nemenyi on per-dataset ranks: does a method rank consistently better across datasets?",
    "across_values": ("values across datasets: each method's mean over folds in {unit}{why}, so that every dataset "
                      "weighs the same"),
    "bayes": ("Bayesian signed-rank test with a ROPE (recommended reading): how probable is it that the top-ranked "
              "method is practically better, equivalent, or worse than each other one across datasets?"),
}


def paired_matrix(images: pd.DataFrame, dataset: str, methods: list[str]) -> tuple[pd.DataFrame, int]:
    """Images × methods of per-image values; images some method lacks are dropped (and counted)."""
    rows = images[(images["dataset"] == dataset) & images["method"].isin(methods)]
    matrix = rows.pivot_table(index="image_id", columns="method", values="value", aggfunc="first")
    matrix = matrix.reindex(columns=methods)
    complete = matrix.dropna()
    return complete, len(matrix) - len(complete)


DAGGER_TESTS = {  # how † decides "not significantly worse than the best", as the legends say it
    "wilcoxon": "per-image Wilcoxon signed-rank against the best, Holm",
    "nadeau-bengio": ("Nadeau–Bengio corrected resampled t-test on fold scores against the best, which accounts for "
                      "training variability, Holm"),
}


def vs_best(matrix: pd.DataFrame, best: str, alpha: float, higher_is_better: bool) -> pd.DataFrame:
    """Each other method against the best, per image; ``not_worse`` unless significantly worse."""
    others = [m for m in matrix.columns if m != best]
    table = stats.wilcoxon_pairs(matrix, [(m, best) for m in others]).rename(columns={"a": "method"})
    worse_direction = table["effect"] < 0 if higher_is_better else table["effect"] > 0
    table["not_worse"] = ~((table["p_holm"] < alpha) & worse_direction)
    return table.drop(columns="b")


def vs_best_corrected(folds: pd.DataFrame, dataset: str, methods: list[str], best: str, ratio: float | None,
                      alpha: float, higher_is_better: bool) -> pd.DataFrame:
    """Each other method against the best on fold scores (Nadeau–Bengio), Holm; ``not_worse`` unless worse."""
    others = [m for m in methods if m != best]
    tests = [_corrected_t(folds, dataset, m, best, ratio) for m in others]
    table = pd.DataFrame({"method": others, "t": [t for t, _ in tests], "p": [p for _, p in tests]})
    table["p_holm"] = stats.holm(table["p"].fillna(1.0)) if len(table) else []
    worse_direction = table["t"] < 0 if higher_is_better else table["t"] > 0
    table["not_worse"] = ~((table["p_holm"] < alpha) & worse_direction)
    return table


def not_worse_than_best(images: pd.DataFrame | None, summary: pd.DataFrame, alpha: float, higher_is_better: bool,
                        test: str = "wilcoxon", folds: pd.DataFrame | None = None,
                        ratios: dict[str, float] | None = None) -> pd.Series:
    """Per summary row: True for each dataset's best complete method and those not significantly worse.

    ``test`` is one of :data:`DAGGER_TESTS`: the per-image Wilcoxon needs
    ``images``, the Nadeau–Bengio test ``folds`` (and the datasets'
    test/train ``ratios``; 1 / (k - 1) where unknown).
    """
    if test not in DAGGER_TESTS:
        raise PluginError(f"unknown test for † {test!r} (known: {', '.join(DAGGER_TESTS)})")
    result = pd.Series(False, index=summary.index)
    best = best_per_group(summary, higher_is_better)
    for dataset, group in summary[summary["complete"]].groupby("dataset"):
        winners = group[best[group.index]]
        if winners.empty:
            continue
        result[winners.index] = True
        methods, top = list(group["method"]), winners["method"].iloc[0]
        if len(group) < 2:
            continue
        if test == "wilcoxon":
            if images is None:
                continue
            matrix, _ = paired_matrix(images, dataset, methods)
            if len(matrix) < 2:
                continue
            verdict = vs_best(matrix, top, alpha, higher_is_better)
        else:
            verdict = vs_best_corrected(folds, dataset, methods, top, (ratios or {}).get(dataset), alpha,
                                        higher_is_better)
        not_worse = verdict.set_index("method")["not_worse"]
        for index, method in group["method"].items():
            if not best[index]:
                result[index] = bool(not_worse[method])
    return result


@dataclass
class DatasetTests:
    dataset: str
    methods: list[str]
    excluded: list[str]
    images: int
    dropped_images: int
    best: str | None = None
    friedman: stats.Friedman | None = None
    posthoc: pd.DataFrame | None = None
    cd: float | None = None
    pairs: pd.DataFrame | None = None
    vs_best: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def within_dataset(dataset: str, summary: pd.DataFrame, images: pd.DataFrame, folds: pd.DataFrame,
                   ratios: dict[str, float], alpha: float = 0.05, posthoc: str = "nemenyi",
                   higher_is_better: bool = False) -> DatasetTests:
    rows = summary[summary["dataset"] == dataset]
    methods = list(rows[rows["complete"]]["method"])
    tests = DatasetTests(dataset, methods, list(rows[~rows["complete"]]["method"]), 0, 0)
    if len(methods) < 2:
        tests.notes.append("fewer than two complete methods: nothing to test")
        return tests
    matrix, tests.dropped_images = paired_matrix(images, dataset, methods)
    tests.images = len(matrix)
    tests.best = rows[best_per_group(rows, higher_is_better)]["method"].iloc[0]
    if len(matrix) < 2:
        tests.notes.append("fewer than two images shared by all methods: nothing to test")
        return tests
    if len(methods) >= 3:
        tests.friedman = stats.friedman(matrix, higher_is_better)
        tests.posthoc = stats.posthoc(matrix, posthoc)
        tests.cd = stats.nemenyi_cd(len(methods), len(matrix), alpha)
    tests.pairs = stats.wilcoxon_pairs(matrix)
    tests.pairs[["t_nb", "p_nb"]] = [_corrected_t(folds, dataset, a, b, ratios.get(dataset)) for a, b in
                                     zip(tests.pairs["a"], tests.pairs["b"])]
    tests.vs_best = vs_best(matrix, tests.best, alpha, higher_is_better)
    return tests


def _corrected_t(folds: pd.DataFrame, dataset: str, a: str, b: str, ratio: float | None) -> tuple[float, float]:
    table = folds[folds["dataset"] == dataset].pivot_table(index="fold", columns="method", values="score")
    pair = table[[a, b]].dropna()
    if len(pair) < 2:
        return (np.nan, np.nan)
    ratio = ratio if ratio else 1 / (len(pair) - 1)
    test = stats.nadeau_bengio(pair[a] - pair[b], ratio)
    return (test.t, test.pvalue)


def test_train_ratios(run: Run) -> dict[str, float]:
    """n_test / n_train per dataset from the stored splits (training includes validation)."""
    ratios: dict[str, list[float]] = {}
    for cell in run.cells:
        split = cell.record.get("split") or {}
        train = split.get("train", 0) + split.get("val", 0)
        if train and split.get("test"):
            ratios.setdefault(cell.dataset, []).append(split["test"] / train)
    return {dataset: float(np.mean(values)) for dataset, values in ratios.items()}


INPUT_PIXELS = "input px"


@dataclass
class AcrossSummary:
    """Each method's mean over folds per dataset in a unit shared by all datasets (see the module docstring)."""

    table: pd.DataFrame  # as scores.summarise returns it
    unit: str
    excluded: list[str] = field(default_factory=list)  # datasets without δ (image sizes not stored)


def across_summary(run: Run, metric) -> AcrossSummary:
    """The summary the tests across datasets use: per-image values in original pixels divided by the image's δ."""
    from benchsuite.report.scores import FOLD_COLUMNS, summarise

    scale_free = metric.unit == "px"
    rows, excluded = [], set()
    for cell in run.cells:
        predictions = run.predictions(cell)
        values = metric.per_image(predictions)
        if scale_free:
            values = values / predictions.groupby("image_id")["delta"].first().reindex(values.index)
            if values.isna().all():
                excluded.add(cell.dataset)
        rows.append({"dataset": cell.dataset, "method": cell.method, "fold": cell.fold, "folds": cell.folds,
                     "score": float(values.mean())})
    folds = pd.DataFrame(rows, columns=FOLD_COLUMNS[:5])
    folds = folds[~folds["dataset"].isin(excluded)]
    return AcrossSummary(summarise(folds, bool(metric.higher_is_better)), INPUT_PIXELS if scale_free else metric.unit,
                         sorted(excluded))


@dataclass
class AcrossTests:
    methods: list[str]
    datasets: list[str]
    matrix: pd.DataFrame
    unit: str = ""
    friedman: stats.Friedman | None = None
    posthoc: pd.DataFrame | None = None
    cd: float | None = None
    bayes: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


def across_datasets(summary: pd.DataFrame, alpha: float = 0.05, rope: float = 0.5,
                    higher_is_better: bool = False, unit: str = INPUT_PIXELS) -> AcrossTests:
    """Methods complete on every dataset, compared with the datasets as blocks (``summary`` from across_summary)."""
    complete = summary[summary["complete"]]
    matrix = complete.pivot_table(index="dataset", columns="method", values="mean").dropna(axis=1)
    tests = AcrossTests(list(matrix.columns), list(matrix.index), matrix, unit)
    n, k = matrix.shape
    if n < 2 or k < 2:
        tests.warnings.append(f"{n} dataset(s) and {k} method(s) complete on all of them: nothing to test "
                              "across datasets")
        return tests
    if n < FEW_DATASETS:
        tests.warnings.append(f"only {n} datasets: the Friedman/Nemenyi tests across datasets have little power "
                              f"(Demšar 2006 asks for about {FEW_DATASETS} or more); read the Bayesian test instead")
    if k >= 3:
        tests.friedman = stats.friedman(matrix, higher_is_better)
        tests.posthoc = stats.posthoc(matrix, "nemenyi")
        tests.cd = stats.nemenyi_cd(k, n, alpha)
    ranks = stats.average_ranks(matrix, higher_is_better).sort_values()
    top = ranks.index[0]
    rows = []
    for other in ranks.index[1:]:
        better, equivalent, worse = stats.bayesian_signed_rank(matrix[top], matrix[other], rope, higher_is_better)
        rows.append({"a": top, "b": other, "p_a_better": better, "p_equivalent": equivalent, "p_b_better": worse})
    tests.bayes = pd.DataFrame(rows, columns=["a", "b", "p_a_better", "p_equivalent", "p_b_better"])
    return tests


def join_names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _pair_row(pairs: pd.DataFrame, a: str, b: str) -> pd.Series:
    return pairs[((pairs["a"] == a) & (pairs["b"] == b)) | ((pairs["a"] == b) & (pairs["b"] == a))].iloc[0]


def verdict(tests: DatasetTests, alpha: float) -> list[str]:
    """What the tests on one dataset say, in plain sentences, most important first."""
    dataset = tests.dataset
    sentences = []
    if tests.best is None or tests.vs_best is None:
        sentences.append(f"On {dataset}, nothing was tested: " + "; ".join(tests.notes or ["no complete method"]) + ".")
    else:
        worse = tests.vs_best[~tests.vs_best["not_worse"]]["method"].tolist()
        kept = tests.vs_best[tests.vs_best["not_worse"]]["method"].tolist()
        how = (f"paired Wilcoxon signed-rank tests over {tests.images} test images, Holm-corrected, α = {alpha:g}")
        if worse:
            sentences.append(f"On {dataset}, {tests.best} is significantly better than {join_names(worse)} ({how}).")
            if kept:
                sentences.append(f"{join_names(kept)} {'is' if len(kept) == 1 else 'are'} not significantly worse than "
                                 f"{tests.best}.")
        else:
            sentences.append(f"On {dataset}, {tests.best} has the best score but is not significantly better than "
                             f"{join_names(kept)} ({how}).")
        p_folds = {m: _pair_row(tests.pairs, tests.best, m)["p_nb"] for m in worse}
        held = [m for m in worse if p_folds[m] < alpha]
        if worse and all(p != p for p in p_folds.values()):
            sentences.append("Whether they would survive retraining is unknown: the corrected t-test over folds "
                             "needs at least two folds.")
        elif worse:
            if len(held) == len(worse):
                sentences.append("These differences also hold over the folds (Nadeau–Bengio corrected t-test), so "
                                 "they should survive retraining.")
            elif held:
                sentences.append(f"Over the folds (Nadeau–Bengio corrected t-test, which accounts for retraining) the "
                                 f"difference holds against {join_names(held)} but not against "
                                 f"{join_names([m for m in worse if m not in held])}.")
            else:
                sentences.append("None of these differences is significant over the folds (Nadeau–Bengio corrected "
                                 "t-test): they may not survive retraining.")
    if tests.friedman is not None:
        differ = tests.friedman.pvalue < alpha
        sentences.append(f"Friedman's test over the {len(tests.methods)} complete methods "
                         f"{'finds that they differ' if differ else 'finds no evidence that they differ'} "
                         f"(p = {format_p(tests.friedman.pvalue)}).")
    if tests.excluded:
        sentences.append(f"Not tested (incomplete folds): {join_names(tests.excluded)}.")
    return sentences


def across_verdict(across: AcrossTests, alpha: float, rope: float, unit: str) -> list[str]:
    """What the tests across datasets say, in plain sentences."""
    if across.bayes is None or not len(across.bayes):
        return [f"Across datasets, nothing was tested: {across.warnings[0]}." if across.warnings
                else "Across datasets, nothing was tested."]
    top = across.bayes["a"].iloc[0]
    sentences = [f"Across {len(across.datasets)} datasets, {top} ranks best on average. Bayesian signed-rank test "
                 f"(differences within ±{rope:g} {unit} count as equivalent):"]
    for row in across.bayes.itertuples():
        sentences.append(f"P({top} practically better than {row.b}) = {row.p_a_better:.2f}, "
                         f"P(equivalent) = {row.p_equivalent:.2f}, P({row.b} better) = {row.p_b_better:.2f}.")
    if across.friedman is not None:
        sentences.append(f"Friedman's test on the ranks {'finds' if across.friedman.pvalue < alpha else 'finds no'} "
                         f"evidence that the methods rank differently (p = {format_p(across.friedman.pvalue)}).")
    sentences += [warning[0].upper() + warning[1:] + "." for warning in across.warnings]
    return sentences


def friedman_line(f: stats.Friedman, alpha: float) -> str:
    return (f"χ²_F = {f.statistic:.3f} (df {f.methods - 1}), p = {format_p(f.pvalue)}; Iman–Davenport F = "
            f"{f.iman_davenport:.3f}, p = {format_p(f.iman_davenport_pvalue)} -> "
            f"{'the methods differ' if f.pvalue < alpha else 'no evidence that the methods differ'}")


def ranks_line(f: stats.Friedman) -> str:
    return "average ranks (1 = best): " + ", ".join(f"{m} {r:.2f}" for m, r in f.ranks.sort_values().items())


def vs_best_line(tests: DatasetTests) -> str:
    worse = tests.vs_best[~tests.vs_best["not_worse"]]["method"].tolist()
    kept = tests.vs_best[tests.vs_best["not_worse"]]["method"].tolist()
    return (f"best: {tests.best}; not significantly worse: {', '.join(kept) or 'none'}; "
            f"significantly worse: {', '.join(worse) or 'none'}")


def bayes_rows(across: AcrossTests) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the Bayesian signed-rank tests of the top-ranked method against each other one."""
    rows = [[r.a, r.b, f"{r.p_a_better:.3f}", f"{r.p_equivalent:.3f}", f"{r.p_b_better:.3f}"]
            for r in across.bayes.itertuples()]
    return ["A (top-ranked)", "B", "P(A better)", "P(equivalent)", "P(B better)"], rows


def write_text(within: list[DatasetTests], across: AcrossTests, alpha: float, posthoc: str, rope: float,
               unit: str, diagrams: dict[str, Path]) -> str:
    """The stats report as plain text: each test preceded by the question it answers."""
    out = io.StringIO()
    say = lambda text="": print(text, file=out)  # noqa: E731
    say(f"α = {alpha}; per-image values are paired across methods (one out-of-fold prediction per image).")
    for tests in within:
        say()
        say(f"== {tests.dataset}: {len(tests.methods)} complete methods, {tests.images} paired images"
            + (f" ({tests.dropped_images} dropped: not predicted by every method)" if tests.dropped_images else ""))
        for method in tests.excluded:
            say(f"   excluded (incomplete folds): {method}")
        for note in tests.notes:
            say(f"   {note}")
        if tests.friedman is not None:
            f = tests.friedman
            say(f"-- {QUESTIONS['friedman']}")
            say(f"   {friedman_line(f, alpha)}")
            say(f"-- {QUESTIONS['posthoc'].format(name=posthoc.capitalize())}")
            say(f"   {ranks_line(f)}")
            say(f"   Nemenyi critical difference CD = {tests.cd:.3f} ranks")
            say(_indent(_pvalue_matrix(tests.posthoc)))
            if tests.dataset in diagrams:
                say(f"   critical difference diagram: {diagrams[tests.dataset]}")
        if tests.pairs is not None:
            say(f"-- {QUESTIONS['wilcoxon']}")
            say(f"-- {QUESTIONS['nadeau']}")
            say(_indent(_pairs_table(tests.pairs, unit)))
            say(f"-- {QUESTIONS['vs_best']}")
            say(f"   {vs_best_line(tests)}")
    if len(within) < 2:  # one dataset: there is nothing to compare across
        return out.getvalue()
    say()
    say(f"== across datasets: {len(across.datasets)} datasets, {len(across.methods)} methods complete on all")
    why = (" (error / δ, δ = original pixels per network-input pixel: pixel scales differ between datasets)"
           if across.unit == INPUT_PIXELS else "")
    unit_text = across.unit or "the metric's own units"
    say("   " + QUESTIONS["across_values"].format(unit=unit_text, why=why))
    for warning in across.warnings:
        say(f"   WARNING: {warning}")
    if across.friedman is not None:
        f = across.friedman
        say(f"-- {QUESTIONS['across']}")
        say(f"   χ²_F = {f.statistic:.3f}, p = {format_p(f.pvalue)}; Iman–Davenport F = {f.iman_davenport:.3f}, "
            f"p = {format_p(f.iman_davenport_pvalue)}; CD = {across.cd:.3f}")
        say(f"   {ranks_line(f)}")
        if "across" in diagrams:
            say(f"   critical difference diagram: {diagrams['across']}")
    if across.bayes is not None and len(across.bayes):
        say(f"-- {QUESTIONS['bayes']}")
        say(f"   ROPE = ±{rope:g} {across.unit}".rstrip())
        headers, rows = bayes_rows(across)
        say(_indent(tabulate(rows, headers=headers)))
    return out.getvalue()


def format_p(p: float) -> str:
    """A p-value as text: 4 decimals, scientific below 0.001, and "< 1e-16" where it is computed as 1 minus a
    probability that rounds to 1 (a p of exactly 0 is never true)."""
    if p != p:
        return "nan"
    if p < 1e-16:
        return "< 1e-16"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())


def pvalue_rows(p: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of an all-pairs p-value matrix, formatted."""
    rows = [[name] + [format_p(v) if a != b else "—" for b, v in row.items()] for (a, row), name in
            zip(p.iterrows(), p.index)]
    return ["p-values"] + list(p.columns), rows


def pairs_rows(pairs: pd.DataFrame, unit: str) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the pairwise tests (Wilcoxon, Holm, Nadeau–Bengio), formatted."""
    rows = [[r.a, r.b, str(r.n), f"{r.median_diff:+.3f}", f"{r.effect:+.2f}", format_p(r.p), format_p(r.p_holm),
             "—" if r.t_nb != r.t_nb else f"{r.t_nb:+.2f}", format_p(r.p_nb)] for r in pairs.itertuples()]
    headers = ["A", "B", "images", f"median A−B ({unit})", "effect r", "p Wilcoxon", "p Holm", "t NB", "p NB"]
    return headers, rows


def _pvalue_matrix(p: pd.DataFrame) -> str:
    headers, rows = pvalue_rows(p)
    return tabulate(rows, headers=headers)


def _pairs_table(pairs: pd.DataFrame, unit: str) -> str:
    headers, rows = pairs_rows(pairs, unit)
    return tabulate(rows, headers=headers)


@dataclass
class Analysis:
    """Every test of a run under one metric: within each dataset and across datasets."""

    within: list[DatasetTests]
    across: AcrossTests
    summary: pd.DataFrame
    metric: object
    alpha: float
    posthoc: str
    rope: float


def analyse(run: Run, metric, alpha: float = 0.05, posthoc: str = "nemenyi", rope: float = 0.5) -> Analysis:
    """Run every test on a run's per-image scores (the metric must have them)."""
    from benchsuite.api import PluginError
    from benchsuite.report.scores import fold_scores, image_scores, summarise

    if "image" not in metric.scores:
        raise PluginError(f"metric {metric.name!r} has no per-image scores to pair")
    higher = bool(metric.higher_is_better)
    folds, images = fold_scores(run, metric), image_scores(run, metric)
    summary = summarise(folds, higher)
    ratios = test_train_ratios(run)
    within = [within_dataset(d, summary, images, folds, ratios, alpha, posthoc, higher) for d in run.datasets]
    scale_free = across_summary(run, metric)
    across = across_datasets(scale_free.table, alpha, rope, higher, scale_free.unit)
    if scale_free.excluded:
        across.warnings.append(f"left out (image sizes not stored, δ unknown): {', '.join(scale_free.excluded)}")
    return Analysis(within, across, summary, metric, alpha, posthoc, rope)


def cd_figures(analysis: Analysis) -> dict[str, object]:
    """The critical difference diagrams (matplotlib figures) of each dataset with a Friedman test, and across."""
    figures = {}
    for tests in analysis.within:
        if tests.friedman is not None:
            figures[tests.dataset] = stats.cd_figure(
                tests.friedman.ranks, tests.posthoc,
                f"{tests.dataset}: {analysis.posthoc} post-hoc, {tests.images} images, CD = {tests.cd:.2f}",
                analysis.alpha, tests.cd)
    across = analysis.across
    if across.friedman is not None:
        figures["across"] = stats.cd_figure(across.friedman.ranks, across.posthoc,
                                            f"across {len(across.datasets)} datasets, CD = {across.cd:.2f}",
                                            analysis.alpha, across.cd)
    return figures


def command(folder: Path, registry, metric_spec: str | None = None, alpha: float = 0.05, posthoc: str = "nemenyi",
            rope: float = 0.5, out: Path | None = None, include_stale: bool = False) -> str:
    """Run every test on a run, draw the critical difference diagrams, return the report text."""
    from benchsuite.api import PluginError
    from benchsuite.report.plots import filename, png, save
    from benchsuite.report.scores import load_metric

    run = Run(folder, registry, include_stale)
    if not run.cells:
        raise PluginError(f"{folder}: no completed cell yet")
    analysis = analyse(run, load_metric(registry, metric_spec), alpha, posthoc, rope)
    out = Path(out) if out else Path(folder) / "stats"
    diagrams = {key: save(png(figure), out / (f"cd-{filename(key)}.png" if key != "across"
                                              else "cd-across-datasets.png"))
                for key, figure in cd_figures(analysis).items()}
    return write_text(analysis.within, analysis.across, alpha, posthoc, rope, analysis.metric.unit, diagrams)
