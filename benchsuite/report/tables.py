"""The papers' tables, built from a run's stored predictions.

| name         | like                        | rows × columns                                           |
|--------------|-----------------------------|----------------------------------------------------------|
| summary      | –                           | dataset × method: MRE mean ± std, median, P90, folds     |
| heatmap      | fish Table 4                | dataset × heatmap codec: architectures (parameters)      |
| regression   | fish Table 2                | dataset × regression codec: architectures (parameters)   |
| baseline     | fish Table 1                | dataset: codec-free baselines                            |
| hits         | fish Table 5                | dataset × method: hit rate at k·δ, pixels, millimetres   |
| per-landmark | fish Fig. 6, beetle Table 3 | dataset × landmark: methods                              |
| correlation  | beetle Table 2              | dataset × method: r², explained variance, Pearson        |
| ranking      | –                           | method: rank on each dataset, mean rank                  |
| speed        | –                           | dataset × method: images/s, pipeline efficiency, share   |
| training     | –                           | dataset × method: input, weights, epochs, stop, minutes  |

Scores are means ± sample std over folds. Bold marks the best complete
method of each dataset; † marks a method not significantly worse than it,
by the paired per-image Wilcoxon against the best (Holm, α; it conditions on
the trained models) or, with ``dagger="nadeau-bengio"``, the Nadeau–Bengio
corrected resampled t-test on fold scores (it accounts for training
variability); the legend says which. Incomplete methods are shown with
their folds, never bolded, ranked or tested.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from benchsuite.api import PluginError, spread
from benchsuite.report import training as trained
from benchsuite.report.flags import flags_of
from benchsuite.report.render import DAGGER_NOTE, Entry, Table, mean_std, number
from benchsuite.report.scores import best_per_group, fold_scores, image_scores, landmark_scores, load_metric, summarise
from benchsuite.report.significance import DAGGER_TESTS, not_worse_than_best, test_train_ratios
from benchsuite.run.curves import still_improving
from benchsuite.run.results import Run, group_cells


class Scores:
    """One metric's fold, image and method-level scores for a run, computed once."""

    def __init__(self, run: Run, metric):
        self.metric = metric
        self.higher = bool(metric.higher_is_better)
        self.folds = fold_scores(run, metric)
        self.images = image_scores(run, metric) if "image" in metric.scores else None
        self.summary = summarise(self.folds, self.higher, images=self.images)
        self.ratios = test_train_ratios(run)

    def testable(self, dagger: str) -> bool:
        """Whether † can be decided: the per-image test needs per-image scores, the corrected t-test fold scores."""
        return dagger != "wilcoxon" or self.images is not None

    def marked(self, alpha: float, dagger: str = "wilcoxon") -> pd.DataFrame:
        """The summary with ``best`` and ``not_worse`` (than the best, by the test ``dagger`` names) columns."""
        table = self.summary.copy()
        table["best"] = best_per_group(table, self.higher)
        table["not_worse"] = (not_worse_than_best(self.images, table, alpha, self.higher, dagger, self.folds,
                                                  self.ratios) if self.testable(dagger) else table["best"])
        return table


def _notes(metric, alpha: float, dagger: str | None = "wilcoxon") -> list[str]:
    """The metric, the emphasis and the test behind † (None: no † in this table)."""
    notes = [f"{metric.description}; a fold's score is the mean over its test images, shown as mean ± sample "
             "std over folds"]
    notes.append("bold: best complete method per dataset" + (f"; {DAGGER_NOTE} ({DAGGER_TESTS[dagger]}, "
                 f"α = {alpha:g})" if dagger else ""))
    notes.append("a method missing folds is marked incomplete: never bolded, ranked or tested")
    return notes


def _score_entry(row, digits: int = 2, folds: bool = True) -> Entry:
    text = mean_std(row.mean, row.std, digits)
    if not row.complete and folds:
        text += f" ({row.folds_done}/{row.folds} folds)"
    return Entry(text, bold=bool(getattr(row, "best", False)),
                 dagger=bool(getattr(row, "not_worse", False)) and not getattr(row, "best", False))


HUMAN = "human (inter-annotator)"
HUMAN_NOTE = (f"{HUMAN}: a second annotator against the ground truth, mean radial error over the dataset's images; "
              "a reference, never bolded, ranked or tested")


def _humans(run: Run, metric) -> dict[str, float]:
    """The datasets' inter-annotator errors, shown beside the headline metric (the error they are measured in)."""
    return run.human_errors if metric.headline else {}


def summary(run: Run, metric_spec: str | None = None, alpha: float = 0.05, dagger: str = "wilcoxon") -> Table:
    scores = Scores(run, load_metric(run.registry, metric_spec))
    table = scores.marked(alpha, dagger)
    table["reference"] = False
    humans = _humans(run, scores.metric)
    flags = flags_of(run)
    unit = scores.metric.unit
    scales = scaled_errors(run) if scores.metric.headline else []
    for metric, scaled in scales:
        table = table.merge(scaled.rename(columns={"mean": scale_column(metric, "mean"),
                                                   "std": scale_column(metric, "std")}), on=["dataset", "method"],
                            how="left")
    rows, references = [], []
    for dataset, group in table.groupby("dataset", sort=False):
        for row in group.itertuples():
            folds = f"{row.folds_done}/{row.folds}" + ("" if row.complete else " incomplete")
            rows.append([Entry(row.dataset), flags.mark(Entry(row.method), row.dataset, row.method),
                         _score_entry(row, folds=False)]
                        + [Entry(mean_std(getattr(row, scale_column(m, "mean")), getattr(row, scale_column(m, "std")),
                                          m.decimals)) for m, _ in scales]
                        + [Entry(number(getattr(row, "median", np.nan))), Entry(number(getattr(row, "p90", np.nan))),
                           Entry(folds), Entry(str(row.images)), Entry(str(row.missing))])
        if dataset in humans:
            rows.append([Entry(dataset), Entry(HUMAN), Entry(number(humans[dataset]))] + [Entry("—")] * len(scales)
                        + [Entry("—")] * 2 + [Entry("reference")] + [Entry("—")] * 2)
            references.append({"dataset": dataset, "method": HUMAN, "mean": humans[dataset], "best": False,
                               "not_worse": False, "reference": True})
    data = flags.columns(pd.concat([table, pd.DataFrame(references)], ignore_index=True) if references else table)
    label = f"{scores.metric.name.upper()} ({unit})" if unit else scores.metric.name
    headers = (["dataset", "method", f"{label} mean ± std over folds"] + [m.unit for m, _ in scales]
               + ["median", "P90", "folds", "test images", "missing landmarks"])
    notes = _notes(scores.metric, alpha, dagger if scores.testable(dagger) else None)
    notes += [f"{m.unit}: {m.description[0].lower()}{m.description[1:]}" for m, _ in scales]
    notes += ["median, P90: over all out-of-fold test images, each image once",
              "missing landmarks: without ground truth, excluded from every score"]
    notes += ([HUMAN_NOTE] if references else []) + flags.notes()
    return Table(f"Leaderboard: {run.name}", headers, rows, data, notes)


def scale_column(metric, stat: str) -> str:
    """The summary's data column of a scaled error's ``mean`` or ``std``: ``mre_mm_mean``."""
    return f"{metric.name}_{stat}".replace("-", "_")


def scaled_errors(run: Run) -> list[tuple[object, pd.DataFrame]]:
    """The headline error on the scales beside pixels, per dataset × method (mean, std over folds): every metric
    that declares it fills the summary (the built-in ones: as a share of the specimen's size, in millimetres),
    those no cell can score (millimetres without a pixel size) left out."""
    found = []
    for metric in table_metrics(run, "summary"):
        summary = summarise(fold_scores(run, metric), metric.higher_is_better)
        if summary["mean"].notna().any():
            found.append((metric, summary[["dataset", "method", "mean", "std"]]))
    return found


PAPER_GRIDS = {"fish": "paper-fish", "beetle": "paper-beetle"}  # a paper's short name -> the grid of its datasets


def paper_tag(run: Run, tag: str) -> str:
    """`` (fish Table 4)`` where the run holds a dataset of that paper (a lab's wings are not the fish paper's
    Table 4, however the table is laid out), else nothing."""
    from benchsuite.run.grid import load_spec

    paper_datasets = set(load_spec(PAPER_GRIDS[tag.split()[0]]).axes["datasets"])
    return f" ({tag})" if paper_datasets & {c.dataset_name for c in run.cells} else ""


def _architecture_label(method: str, codec: str | None) -> str:
    """The method label without its codec part (labels are architecture+encoder+codec)."""
    return method.rsplit("+", 1)[0] if not pd.isna(codec) else method


def _kind_label(method: str, codec: str | None) -> str:
    if pd.isna(codec):
        return ""
    return method.rsplit("+", 1)[1] if "+" in method else codec


def _millions(values) -> str:
    values = sorted({round(v / 1e6, 1) for v in values if v})
    if not values:
        return ""
    return f" ({values[0]:g}M)" if len(values) == 1 else f" ({values[0]:g}–{values[-1]:g}M)"


def method_grid(run: Run, select: Callable[[pd.Series], bool], title: str, by_kind: bool, metric_spec: str | None = None,
                alpha: float = 0.05, dagger: str = "wilcoxon") -> Table:
    """Rows dataset (× codec), columns architectures with their parameter counts, like the fish paper."""
    methods = run.methods[run.methods.apply(select, axis=1)]
    chosen = set(zip(methods.dataset, methods.method))
    subset = run.where(lambda c: (c.dataset, c.method) in chosen)
    if not subset.cells:
        return Table(title, ["dataset"], [], pd.DataFrame(), ["no method of this kind in the run"])
    scores = Scores(subset, load_metric(run.registry, metric_spec))
    table = scores.marked(alpha, dagger).merge(methods, on=["dataset", "method"], suffixes=("", "_m"))
    table["architecture_label"] = [_architecture_label(m, c) for m, c in zip(table.method, table.codec)]
    table["kind"] = [_kind_label(m, c) for m, c in zip(table.method, table.codec)] if by_kind else ""
    columns = list(dict.fromkeys(table.sort_values("architecture_label")["architecture_label"]))
    params = {a: _millions(table[table.architecture_label == a]["parameters"].dropna()) for a in columns}
    humans = {d: v for d, v in _humans(run, scores.metric).items() if d in set(table["dataset"])}
    flags = flags_of(run)
    rows = []
    for (dataset, kind), group in table.groupby(["dataset", "kind"], sort=True):
        cells = {r.architecture_label: flags.mark(_score_entry(r), dataset, r.method) for r in group.itertuples()}
        rows.append([Entry(dataset)] + ([Entry(kind)] if by_kind else []) +
                    [cells.get(a, Entry("—")) for a in columns] +
                    ([Entry(number(humans.get(dataset, np.nan)))] if humans else []))
    headers = ["dataset"] + (["codec"] if by_kind else []) + [a + params[a] for a in columns] + ([HUMAN] if humans else [])
    data = table[["dataset", "kind", "architecture_label", "method", "parameters", "mean", "std", "folds_done", "folds",
                  "complete", "best", "not_worse"]].rename(columns={"architecture_label": "architecture"})
    data["human_error"] = data["dataset"].map(humans)
    return Table(title, headers, rows, flags.columns(data),
                 _notes(scores.metric, alpha, dagger if scores.testable(dagger) else None)
                 + ([HUMAN_NOTE] if humans else []) + flags.notes())


def heatmap(run: Run, alpha: float = 0.05, dagger: str = "wilcoxon") -> Table:
    return method_grid(run, lambda m: m.output == "heatmap",
                       f"Heatmap regression: {run.name}{paper_tag(run, 'fish Table 4')}", True, alpha=alpha,
                       dagger=dagger)


def regression(run: Run, alpha: float = 0.05, dagger: str = "wilcoxon") -> Table:
    return method_grid(run, lambda m: m.output == "coords",
                       f"Direct regression: {run.name}{paper_tag(run, 'fish Table 2')}", True, alpha=alpha,
                       dagger=dagger)


def baseline(run: Run, alpha: float = 0.05, dagger: str = "wilcoxon") -> Table:
    return method_grid(run, lambda m: pd.isna(m.codec), f"Baselines: {run.name}{paper_tag(run, 'fish Table 1')}",
                       False, alpha=alpha, dagger=dagger)


def table_metrics(run: Run, table: str) -> list:
    """Every installed metric that declares it fills ``table``, once per column it declares, in name order."""
    return [run.registry.create("metrics", entry.name, params)
            for entry in run.registry.select("metrics", lambda cls: table in cls.tables)
            for params in entry.cls.tables[table]]


def _column_summaries(run: Run, metrics: list) -> tuple[list, list[pd.DataFrame]]:
    """Each metric's summary with its best method marked; columns no cell can score (all NaN, e.g. millimetres
    without a pixel size) left out, unless no column has a value (then all are shown, as —)."""
    tables = []
    for metric in metrics:
        table = summarise(fold_scores(run, metric), metric.higher_is_better)
        table["best"] = best_per_group(table, metric.higher_is_better)
        tables.append(table.set_index(["dataset", "method"]))
    scored = [i for i, t in enumerate(tables) if t["mean"].notna().any()] or list(range(len(tables)))
    return [metrics[i] for i in scored], [tables[i] for i in scored]


def hits(run: Run) -> Table:
    """Hit rates (% of landmarks within a distance) at multiples of δ, in pixels and, where known, millimetres."""
    metrics, summaries = _column_summaries(run, table_metrics(run, "hits"))
    if not metrics:
        raise PluginError("no installed metric fills the hits table")
    base = summaries[0]
    delta = _mean_delta(run)
    flags = flags_of(run)
    rows, data = [], []
    for dataset, method in base.index:
        row = [Entry(dataset), flags.mark(Entry(method), dataset, method), Entry(number(delta.get(dataset, np.nan)))]
        for metric, table in zip(metrics, summaries):
            r = table.loc[(dataset, method)]
            entry = Entry(mean_std(r["mean"], r["std"], metric.decimals), bold=bool(r["best"]))
            if not r["complete"] and r["mean"] == r["mean"]:
                entry.text += f" ({r['folds_done']}/{r['folds']} folds)"
            row.append(entry)
            data.append({"dataset": dataset, "method": method, "metric": metric.name, "column": metric.label,
                         "delta_px": delta.get(dataset, np.nan), "mean": r["mean"],
                         "std": r["std"], "complete": r["complete"], "best": r["best"]})
        rows.append(row)
    headers = ["dataset", "method", "δ (px)"] + [f"{m.label} ({m.unit})" for m in metrics]
    notes = ["hit: a landmark predicted within the threshold; hit rate: % of an image's landmarks, mean over "
             "images, mean ± std over folds",
             "δ = original size / network input size (longest side), the error of one input pixel; "
             "δ (px) is its mean over the dataset's images",
             "bold: best complete method per dataset and threshold; — where the threshold is unknown "
             "(δ needs stored image sizes, mm the dataset's pixel size)"] + flags.notes()
    return Table(f"Hit rates: {run.name}{paper_tag(run, 'fish Table 5')}", headers, rows,
                 flags.columns(pd.DataFrame(data)), notes)


def _mean_delta(run: Run) -> dict[str, float]:
    values: dict[str, list[pd.Series]] = {}
    for cell in run.cells:
        predictions = run.predictions(cell)
        values.setdefault(cell.dataset, []).append(predictions.groupby("image_id")["delta"].first())
    return {d: float(pd.concat(v).mean()) for d, v in values.items()}


def landmark_summary(run: Run, metric_spec: str | None = None) -> tuple[pd.DataFrame, object]:
    metric = load_metric(run.registry, metric_spec)
    if "landmark" not in metric.scores:
        raise PluginError(f"metric {metric.name!r} has no per-landmark scores")
    scores = landmark_scores(run, metric)
    table = summarise(scores, metric.higher_is_better, by=("dataset", "landmark", "method"))
    order = scores.groupby(["dataset", "landmark"])["index"].min()
    table["index"] = [order[(d, l)] for d, l in zip(table.dataset, table.landmark)]
    table["best"] = best_per_group(table, metric.higher_is_better, ["dataset", "landmark"])
    return table.sort_values(["dataset", "index", "method"], ignore_index=True), metric


def per_landmark(run: Run, metric_spec: str | None = None) -> Table:
    """Each landmark's error per method, landmarks in the dataset's order and with its names (fish Fig. 6)."""
    table, metric = landmark_summary(run, metric_spec)
    methods = sorted(table["method"].unique())
    flags = flags_of(run)
    rows = []
    for (dataset, index, landmark), group in table.groupby(["dataset", "index", "landmark"], sort=True):
        cells = {r.method: flags.mark(_score_entry(r), dataset, r.method) for r in group.itertuples()}
        rows.append([Entry(dataset), Entry(str(index + 1)), Entry(landmark)] +
                    [cells.get(m, Entry("—")) for m in methods])
    headers = ["dataset", "#", "landmark"] + methods
    notes = [f"{metric.description}; per landmark: mean over a fold's test images, mean ± std over folds",
             "bold: best complete method per landmark"] + flags.notes()
    return Table(f"Error per landmark: {run.name}{paper_tag(run, 'fish Fig. 6')}", headers, rows,
                 flags.columns(table.drop(columns=[c for c in ("images", "missing") if c in table])), notes)


def correlation(run: Run) -> Table:
    """Agreement of predicted with true coordinates (r², explained variance, Pearson's r), per fold (beetle Table 2)."""
    metrics, summaries = _column_summaries(run, table_metrics(run, "correlation"))
    if not metrics:
        raise PluginError("no installed metric fills the correlation table")
    flags = flags_of(run)
    rows, data = [], []
    for dataset, method in summaries[0].index:
        row = [Entry(dataset), flags.mark(Entry(method), dataset, method)]
        record = {"dataset": dataset, "method": method}
        for metric, summary_table in zip(metrics, summaries):
            r = summary_table.loc[(dataset, method)]
            row.append(Entry(mean_std(r["mean"], r["std"], metric.decimals) + ("" if r["complete"] else " (incomplete)"),
                             bold=bool(r["best"])))
            record |= {f"{metric.name}_mean": r["mean"], f"{metric.name}_std": r["std"]}
        record["complete"] = bool(summaries[0].loc[(dataset, method)]["complete"])
        rows.append(row)
        data.append(record)
    notes = ["per coordinate: each landmark's x and each landmark's y is its own target over a fold's test images, "
             "scored separately and averaged (scikit-learn's multioutput=\"uniform_average\"), so a prediction that "
             "ignores the image (the mean shape) scores ≈ 0; mean ± std over folds",
             "Pearson r is undefined (—) for a constant prediction",
             "bold: best complete method per dataset"] + flags.notes()
    return Table(f"Correlation of predicted and true coordinates: {run.name}{paper_tag(run, 'beetle Table 2')}",
                 ["dataset", "method"] + [m.label for m in metrics], rows, flags.columns(pd.DataFrame(data)), notes)


def ranking(run: Run, metric_spec: str | None = None) -> Table:
    """Each complete method's rank on every dataset (1 = best) and its mean rank over them."""
    metric = load_metric(run.registry, metric_spec)
    table = summarise(fold_scores(run, metric), metric.higher_is_better)
    table = table[table["complete"]].copy()
    signed = -table["mean"] if metric.higher_is_better else table["mean"]
    table["rank"] = signed.groupby(table["dataset"]).rank(method="average")
    datasets = sorted(table["dataset"].unique())
    wide = table.pivot_table(index="method", columns="dataset", values="rank")
    result = pd.DataFrame({"method": wide.index, "mean_rank": wide.mean(axis=1).to_numpy(),
                           "datasets": wide.notna().sum(axis=1).to_numpy()})
    result = result.sort_values(["datasets", "mean_rank"], ascending=[False, True], ignore_index=True)
    best = result["mean_rank"][result["datasets"] == len(datasets)].min()
    flags = flags_of(run)
    rows = []
    for r in result.itertuples():
        ranks = [flags.mark(Entry(number(wide.loc[r.method, d], 1) if d in wide.columns else "—"), d, r.method)
                 for d in datasets]
        rows.append([Entry(r.method)] + ranks + [Entry(f"{r.mean_rank:.2f}", bold=bool(r.mean_rank == best
                     and r.datasets == len(datasets))), Entry(f"{r.datasets}/{len(datasets)}")])
    data = result.merge(wide.reset_index(), on="method")
    notes = [f"rank of each complete method among the complete methods of a dataset by {metric.name} "
             "(1 = best, ties share), mean over datasets",
             "a method not complete on every dataset is ranked after those that are: its mean rank is over fewer "
             "datasets", "bold: best mean rank; see `benchsuite stats` for whether the ranks differ significantly"]
    notes += flags.notes()
    return Table(f"Ranking across datasets: {run.name}", ["method"] + datasets + ["mean rank", "datasets"], rows,
                 data, notes)


def speed(run: Run) -> Table:
    """Training throughput and pipeline efficiency of each method, mean over its cells (from cell.json)."""
    rows, data = [], []
    flags = flags_of(run)
    cells = [c for c in run.cells if "pipeline_efficiency" in c.record]
    for (dataset, method), group in sorted(group_cells(cells).items()):
        record = {
            "dataset": dataset, "method": method, "cells": len(group),
            "device": ", ".join(sorted({c.record.get("device", "?") for c in group})),
            "train_images_per_s": float(np.mean([c.record["train_images_per_s"] for c in group])),
            "bare_images_per_s": float(np.mean([c.record["bare_images_per_s"] for c in group])),
            "pipeline_efficiency": float(np.mean([c.record["pipeline_efficiency"] for c in group])),
            "train_seconds": float(np.mean([c.record["train_seconds"] for c in group])),
            "train_share": float(np.mean([c.record.get("train_share", np.nan) for c in group])),
        }
        data.append(record)
        rows.append([Entry(dataset), flags.mark(Entry(method), dataset, method), Entry(record["device"]), Entry(number(record["train_images_per_s"], 1)),
                     Entry(number(record["bare_images_per_s"], 1)), Entry(number(record["pipeline_efficiency"], 2)),
                     Entry(number(record["train_seconds"], 1)), Entry(number(record["train_share"], 2)),
                     Entry(str(len(group)))])
    notes = ["efficiency: the training loop's images/s over the ceiling, the faster of the bare training step "
             "(same model, loss, batch and input on random data already on the device) and the loop's fastest "
             "epoch; at most 1, and 1 means the pipeline costs nothing",
             "train share: training time over the cell's wall time (the rest: preparing images, validation, "
             "prediction)", "means over the method's cells; codec-free baselines do not train and are not listed"
             ] + flags.notes()
    headers = ["dataset", "method", "device", "train images/s", "ceiling images/s", "efficiency", "train s",
               "train share", "cells"]
    data = flags.columns(pd.DataFrame(data)) if data else pd.DataFrame(data)
    return Table(f"Speed: {run.name}", headers, rows, data, notes)


def _counted(values: list) -> str:
    """``20`` when every fold agrees, else each value with its number of folds: ``budget ×3, patience ×2``."""
    counts = pd.Series(values, dtype=object).value_counts(sort=True)
    return str(counts.index[0]) if len(counts) == 1 else ", ".join(f"{v} ×{n}" for v, n in counts.items())


def training(run: Run) -> Table:
    """How each method was trained, from its cells: what a reader needs before trusting a network's score."""
    flags = flags_of(run)
    rows, data = [], []
    for (dataset, method), group in sorted(group_cells(run.cells).items()):
        first = group[0]
        epochs = trained.trains_epochs(first.record)
        minutes = [m for m in (trained.training_minutes(c.record) for c in group) if m is not None]
        budgets = {(c.config.get("protocol") or {}).get("max_minutes") for c in group}
        budget = max((b for b in budgets if b), default=None) if epochs else None
        improving = sum(still_improving(c.record) for c in group) if epochs else None
        record = {"dataset": dataset, "method": method, "input": trained.input_text(first),
                  "pretrained": trained.pretrained(first), "augmentation": trained.augmentation(first),
                  "epochs_run": float(np.mean([c.record.get("epochs_run", np.nan) for c in group])) if epochs else np.nan,
                  "best_epoch": float(np.mean([c.record.get("best_epoch", np.nan) for c in group])) if epochs else np.nan,
                  "stopped_by": _counted([c.record.get("stopped_by") or "?" for c in group]) if epochs else "",
                  "still_improving_folds": improving, "minutes_mean": float(np.mean(minutes)) if minutes else np.nan,
                  "minutes_std": float(np.std(minutes, ddof=1)) if len(minutes) > 1 else np.nan,
                  "budget_minutes": budget, "folds": len(group)}
        data.append(record)
        epoch_text = (f"{spread([c.record.get('epochs_run') for c in group])} / "
                      f"{spread([c.record.get('best_epoch') for c in group])}") if epochs else "—"
        rows.append([Entry(dataset), flags.mark(Entry(method), dataset, method), Entry(record["input"]),
                     Entry(record["pretrained"]), Entry(record["augmentation"]), Entry(epoch_text),
                     Entry(record["stopped_by"] or "—"),
                     Entry(f"{improving}/{len(group)}" if epochs else "—"),
                     Entry(mean_std(record["minutes_mean"], record["minutes_std"], 2 if minutes and max(minutes) < 1
                                    else 1)), Entry(number(budget, 1) if budget else "—")])
    headers = ["dataset", "method", "input (px)", "pretrained", "augmentation", "epochs run / best", "stopped by",
               "still improving", "training min", "budget min"]
    notes = ["epochs run / best: one value when every fold agrees, else the range over folds; stopped by: "
             "epochs (all run), patience (no validation improvement for that many epochs) or budget (max_minutes)",
             "still improving: folds whose validation error fell by 1 % or more over the last quarter of their "
             "epochs (at least the last 2)",
             "training min: a network's training and validation passes (what its budget counts), a method without "
             "epochs its fit (the mean shape, dlib: all training images, no validation), mean ± std over folds"
             ] + flags.notes()
    return Table(f"Training: {run.name}", headers, rows, flags.columns(pd.DataFrame(data)) if data else
                 pd.DataFrame(data), notes)


COMPARISONS = ("heatmap", "regression", "baseline")  # tables laid out to compare methods of one kind

TABLES: dict[str, Callable[..., Table]] = {  # (run, alpha, dagger) -> Table; dagger names the test behind †
    "summary": lambda run, alpha, dagger: summary(run, alpha=alpha, dagger=dagger),
    "heatmap": heatmap,
    "regression": regression,
    "baseline": baseline,
    "hits": lambda run, alpha, dagger: hits(run),
    "per-landmark": lambda run, alpha, dagger: per_landmark(run),
    "correlation": lambda run, alpha, dagger: correlation(run),
    "ranking": lambda run, alpha, dagger: ranking(run),
    "speed": lambda run, alpha, dagger: speed(run),
    "training": lambda run, alpha, dagger: training(run),
}


def build(run: Run, name: str, alpha: float = 0.05, dagger: str = "wilcoxon") -> Table:
    if name not in TABLES:
        raise PluginError(f"unknown table {name!r} (known: {', '.join(TABLES)})")
    if dagger not in DAGGER_TESTS:
        raise PluginError(f"unknown test for † {dagger!r} (known: {', '.join(DAGGER_TESTS)})")
    return TABLES[name](run, alpha, dagger)
