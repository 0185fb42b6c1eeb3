"""Two leaderboards side by side: ``benchsuite compare A B``.

Each side is a run folder or a published leaderboard
(``results/published/<name>``). Two runs are aligned on dataset × method
labels; where both predicted the same images, the per-image differences are
tested (paired Wilcoxon signed-rank). With ``--fail-worse PIXELS`` the
command is a regression gate: it exits 1 when some method of B is
significantly worse than in A by more than that many pixels (one-sided
Wilcoxon on the per-image differences minus the threshold).

A published side is aligned on the names in cell.json (see
``report.published``) and has only means and stds, so no paired test is
possible there. Each published number names the metric of ours that computes
what the paper computed, and is set beside our value of that metric as it is:
no conversion factor between error conventions (those hold per landmark at
best, never for means over images).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as st

from benchsuite.api import PluginError
from benchsuite.plugins import Registry
from benchsuite.report import published as pub
from benchsuite.report.render import Entry, Table, mean_std, render, terminal_format
from benchsuite.report.scores import fold_scores, image_scores, landmark_scores, load_metric, summarise
from benchsuite.report.stats import wilcoxon
from benchsuite.run.results import Run

EXIT_WORSE = 1


@dataclass
class Comparison:
    table: Table
    regressions: list[str] = field(default_factory=list)


def _side(folder: Path, registry: Registry, include_stale: bool = False) -> Run | pub.Published:
    folder = Path(folder)
    if pub.is_published(folder):
        return pub.load(folder)
    if not (folder / "cells").is_dir():
        raise PluginError(f"{folder}: neither a run (cells/) nor a published leaderboard ({pub.MANIFEST})")
    run = Run(folder, registry, include_stale)
    if not run.cells:
        raise PluginError(f"{folder}: no completed cell yet")
    return run


def compare_runs(a: Run, b: Run, metric_spec: str | None = None, alpha: float = 0.05,
                 fail_worse: float | None = None) -> Comparison:
    metric = load_metric(a.registry, metric_spec)
    sign = -1.0 if metric.higher_is_better else 1.0  # sign × (B - A) > 0: B is worse
    summaries = [summarise(fold_scores(run, metric), metric.higher_is_better).set_index(["dataset", "method"])
                 for run in (a, b)]
    images = [image_scores(run, metric) if "image" in metric.scores else None for run in (a, b)]
    keys = sorted(set(summaries[0].index) | set(summaries[1].index))
    rows, data, regressions = [], [], []
    for dataset, method in keys:
        sa, sb = (s.loc[(dataset, method)] if (dataset, method) in s.index else None for s in summaries)
        diff = sb["mean"] - sa["mean"] if sa is not None and sb is not None else np.nan
        paired = _paired(images, dataset, method) if sa is not None and sb is not None else None
        n, p, p_gate = (0, np.nan, np.nan)
        if paired is not None and len(paired):
            d = sign * (paired["b"] - paired["a"])
            n, p = len(d), wilcoxon(paired["b"], paired["a"]).pvalue
            if fail_worse is not None:
                p_gate = _one_sided_worse(d.to_numpy(), fail_worse)
        verdict = _verdict(sa, sb, diff * sign, n, p, p_gate, alpha, fail_worse)
        if verdict.startswith("REGRESSION"):
            regressions.append(f"{dataset} | {method}")
        rows.append([Entry(dataset), Entry(method), Entry(_score(sa)), Entry(_score(sb)),
                     Entry(f"{diff:+.2f}" if diff == diff else "—"), Entry(str(n) if n else "—"),
                     Entry(_p(p)), Entry(verdict, bold=verdict.startswith("REGRESSION"))])
        data.append({"dataset": dataset, "method": method, "a_mean": _get(sa, "mean"), "a_std": _get(sa, "std"),
                     "b_mean": _get(sb, "mean"), "b_std": _get(sb, "std"), "difference": diff, "images": n,
                     "p": p, "p_worse_by_threshold": p_gate, "verdict": verdict})
    unit = metric.unit
    headers = ["dataset", "method", f"A {metric.name} ({unit})", f"B {metric.name} ({unit})", "B − A", "paired images",
               "p (Wilcoxon)", "verdict"]
    notes = [f"A: {a.store.root} (run)", f"B: {b.store.root} (run)",
             f"{metric.name}: {metric.description}",
             f"scores: mean ± std over folds; p: two-sided paired Wilcoxon signed-rank on the per-image "
             f"{metric.name} of the images both runs predicted; α = {alpha:g}"]
    if fail_worse is not None:
        notes.append(f"REGRESSION: B worse than A by more than {fail_worse:g} {unit}, significantly (one-sided "
                     f"Wilcoxon on the per-image differences minus {fail_worse:g}, p < α)")
    return Comparison(Table(f"Compare {a.name} (A) with {b.name} (B)", headers, rows, pd.DataFrame(data), notes),
                      regressions)


def _paired(images: list[pd.DataFrame | None], dataset: str, method: str) -> pd.DataFrame | None:
    if images[0] is None or images[1] is None:
        return None
    a, b = (i[(i["dataset"] == dataset) & (i["method"] == method)].set_index("image_id")["value"] for i in images)
    return pd.DataFrame({"a": a, "b": b}).dropna()


def _one_sided_worse(d: np.ndarray, threshold: float) -> float:
    """p-value of 'the per-image worsening exceeds the threshold' (Wilcoxon on d - threshold, greater)."""
    shifted = d - threshold
    if np.all(shifted == 0):
        return 1.0
    return float(st.wilcoxon(shifted, zero_method="zsplit", alternative="greater").pvalue)


def _verdict(sa, sb, worsening: float, n: int, p: float, p_gate: float, alpha: float, threshold) -> str:
    if sa is None:
        return "only in B"
    if sb is None:
        return "only in A"
    if n and p_gate == p_gate and p_gate < alpha:
        return "REGRESSION"
    if not (sa["complete"] and sb["complete"]):
        return "incomplete"
    if not n:
        return "not paired"
    if worsening == 0 and p >= alpha:
        return "no difference"
    if p < alpha:
        return "B worse" if worsening > 0 else "B better"
    return "n.s."


def compare_published(paper: pub.Published, run: Run, paper_is_a: bool) -> Comparison:
    """The paper's numbers beside ours, in the same metric, wherever dataset and method match; no paired test."""
    rows, data = [], []
    cache: dict[tuple[str, bool], pd.DataFrame] = {}
    metrics: dict[str, object] = {}
    unmatched = 0
    for _, row in paper.scores.iterrows():
        methods = sorted({(c.dataset, c.method) for c in run.cells if pub.matches(row, c)})
        if not methods:
            unmatched += 1
            continue
        metric = metrics.setdefault(row["metric"], load_metric(run.registry, row["metric"]))
        ours = _run_scores(run, row["metric"], bool(row["landmark"]), cache)
        for dataset, method in methods:
            key = (dataset, method, row["landmark"]) if row["landmark"] else (dataset, method)
            mine = ours.loc[key] if key in ours.index else None
            diff = (_get(mine, "mean") - float(row["mean"])) * (1 if paper_is_a else -1)
            sides = [Entry(mean_std(row["mean"], row["std"], metric.decimals)), Entry(_score(mine, metric.decimals))]
            rows.append([Entry(row["table"]), Entry(dataset), Entry(row["label"]), Entry(method),
                         Entry(row["metric"]), Entry(row["landmark"] or "all")] + (sides if paper_is_a else sides[::-1])
                        + [Entry(f"{diff:+.2f}" if diff == diff else "—")])
            data.append({"table": row["table"], "dataset": dataset, "published_method": row["label"],
                         "method": method, "metric": row["metric"], "landmark": row["landmark"],
                         "published_mean": row["mean"], "published_std": row["std"],
                         "our_mean": _get(mine, "mean"), "our_std": _get(mine, "std"), "difference": diff})
    sides = [f"{'A' if paper_is_a else 'B'}: {paper.name} (published)", f"{'B' if paper_is_a else 'A'}: {run.name} (ours)"]
    headers = (["table", "dataset", "published method", "our method", "metric", "landmark"]
               + (sides if paper_is_a else sides[::-1]) + ["B − A"])
    notes = [f"published: {paper.citation}", f"  {paper.description}"] + [f"  {n}" for n in paper.notes]
    notes += ["each published number is set beside ours in the metric that computes what the paper computed, "
              "unconverted:"] + [f"  {name}: {metric.description}" for name, metric in sorted(metrics.items())]
    notes += ["published numbers carry no per-image predictions: no paired test is possible, read differences "
              "against the stds",
              f"{unmatched} published rows have no matching dataset and method in {run.name}"]
    title = f"Compare {paper.name if paper_is_a else run.name} (A) with {run.name if paper_is_a else paper.name} (B)"
    return Comparison(Table(title, headers, rows, pd.DataFrame(data), notes))


def _run_scores(run: Run, spec: str, per_landmark: bool, cache: dict) -> pd.DataFrame:
    """Our summary (mean ± std over folds) for one metric spec, by method or by method × landmark number."""
    if (spec, per_landmark) not in cache:
        metric = load_metric(run.registry, spec)
        if per_landmark:
            scores = landmark_scores(run, metric)
            scores["number"] = (scores["index"] + 1).astype(str)
            table = summarise(scores, metric.higher_is_better, by=("dataset", "method", "number"))
            cache[(spec, per_landmark)] = table.set_index(["dataset", "method", "number"])
        else:
            table = summarise(fold_scores(run, metric), metric.higher_is_better)
            cache[(spec, per_landmark)] = table.set_index(["dataset", "method"])
    return cache[(spec, per_landmark)]


def _get(row, key: str) -> float:
    return float(row[key]) if row is not None else np.nan


def _score(row, digits: int = 2) -> str:
    if row is None:
        return "—"
    text = mean_std(row["mean"], row["std"], digits)
    return text if row["complete"] else f"{text} ({row['folds_done']}/{row['folds']} folds)"


def _p(p: float) -> str:
    return "—" if p != p else (f"{p:.1e}" if p < 1e-3 else f"{p:.3f}")


def command(path_a: Path, path_b: Path, registry: Registry, metric_spec: str | None = None, alpha: float = 0.05,
            fail_worse: float | None = None, fmt: str | None = None, include_stale: bool = False) -> tuple[str, int]:
    """The comparison's text and the exit code (1 when the regression gate failed)."""
    a, b = _side(path_a, registry, include_stale), _side(path_b, registry, include_stale)
    if isinstance(a, Run) and isinstance(b, Run):
        result = compare_runs(a, b, metric_spec, alpha, fail_worse)
    elif isinstance(a, Run) or isinstance(b, Run):
        paper, run = (a, b) if isinstance(a, pub.Published) else (b, a)
        result = compare_published(paper, run, paper is a)
        if fail_worse is not None:
            result.table.notes.append("--fail-worse gates run against run only: published numbers have no images")
    else:
        raise PluginError("compare needs at least one run (two published leaderboards have nothing to test)")
    text = render(result.table, fmt or terminal_format())
    if result.regressions:
        text += "\n\nREGRESSION in: " + "; ".join(result.regressions)
    return text, EXIT_WORSE if result.regressions else 0
