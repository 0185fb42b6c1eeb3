"""Figures for the reports (matplotlib, Agg backend, imported only when drawing).

Each chart is built by a ``*_figure`` function and turned into PNG bytes by
:func:`png`, so the same drawing goes into a file or inline into the HTML
report. PNGs carry no metadata (no software name, no URL).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from benchsuite.files import write_atomic

LOG_SPAN = 10.0  # a chart switches to a log scale when its largest value is this many times its smallest
WIDEST = 14.0  # inches: bar charts of many landmarks × methods stay readable on a page
DPI = 110


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> bytes:
    """The figure as PNG bytes, closed afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    return buffer.getvalue()


def save(data: bytes, path: Path) -> Path:
    """Write PNG bytes atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, lambda handle: handle.write(data))


def filename(text: str) -> str:
    """A label made safe as a file name: letters, digits, ``-_.`` kept, anything else ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def spans_decades(values) -> bool:
    """Whether positive values differ by a factor of :data:`LOG_SPAN` or more (then a log scale reads better)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return len(values) > 1 and values.max() / values.min() >= LOG_SPAN


def per_landmark_figure(table: pd.DataFrame, unit: str = "px", log: bool | None = None,
                        methods: list[str] | None = None):
    """Grouped bars of each landmark's mean error per method, one panel per dataset (fish Fig. 6).

    ``table`` is ``tables.landmark_summary``'s: dataset, landmark, index, method, mean, std. ``log``:
    a log scale; by default when the means span a decade or more. ``methods`` fixes the order and colours
    (so that several charts agree); by default the table's methods, sorted.
    """
    plt = pyplot()
    datasets = sorted(table["dataset"].unique())
    colours = {m: f"C{i % 10}" for i, m in enumerate(methods or sorted(table["method"].unique()))}
    methods = [m for m in colours if m in set(table["method"])]
    log = spans_decades(table["mean"]) if log is None else log
    width_in = min(WIDEST, max(6.0, 0.5 * table["landmark"].nunique() * len(methods)))
    fig, axes = plt.subplots(len(datasets), 1, figsize=(width_in, 3.2 * len(datasets)), squeeze=False,
                             layout="constrained")
    width = 0.8 / len(methods)
    for ax, dataset in zip(axes[:, 0], datasets):
        rows = table[table["dataset"] == dataset]
        landmarks = rows.drop_duplicates("landmark").sort_values("index")["landmark"].tolist()
        x = np.arange(len(landmarks))
        for i, method in enumerate(methods):
            values = rows[rows["method"] == method].set_index("landmark").reindex(landmarks)
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, values["mean"], width, yerr=values["std"].fillna(0),
                   label=method, capsize=2, error_kw={"elinewidth": 0.8}, color=colours[method])
        ax.set_xticks(x, landmarks, rotation=45 if max(map(len, landmarks)) > 3 else 0, ha="right")
        if log:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(plain_ticks())
            ax.yaxis.set_minor_formatter(plain_ticks(minor=True))
        ax.set_ylabel(f"mean error ({unit}{', log scale' if log else ''})")
        ax.set_title(dataset)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3), fontsize=7, frameon=False)
    return fig


def per_landmark_bars(table: pd.DataFrame, path: Path, unit: str = "px", log: bool | None = None) -> Path:
    """The per-landmark bar chart written to ``path`` as PNG."""
    return save(png(per_landmark_figure(table, unit, log)), path)


def error_distribution_figure(images: pd.DataFrame, title: str, unit: str = "px", reference: float | None = None):
    """Box plots of per-image errors, one row per method, best median on top; the human reference as a line.

    ``images`` has columns method and value (one row per out-of-fold test image).
    """
    plt = pyplot()
    groups = {m: g["value"].dropna().to_numpy(float) for m, g in images.groupby("method")}
    groups = {m: v for m, v in groups.items() if len(v)}
    order = sorted(groups, key=lambda m: np.median(groups[m]), reverse=True)  # matplotlib draws bottom-up
    values = np.concatenate(list(groups.values())) if groups else np.array([])
    log = spans_decades(values)
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.45 * max(len(order), 1)))
    if order:
        ax.boxplot([groups[m] for m in order], orientation="horizontal", widths=0.6, showmeans=True,
                   flierprops={"markersize": 3, "alpha": 0.5},
                   meanprops={"marker": "D", "markersize": 4, "markerfacecolor": "white"})
        ax.set_yticks(np.arange(1, len(order) + 1), order)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="#b2182b", linestyle="--", linewidth=1.2, label="human reference")
        ax.legend(fontsize=8, loc="lower right")
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain_ticks())
        ax.xaxis.set_minor_formatter(plain_ticks(minor=True))
    ax.set_xlabel(f"per-image mean radial error ({unit}{', log scale' if log else ''}); ◇ mean")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def learning_curve_figure(curves: pd.DataFrame, fits: pd.DataFrame, unit: str = "px",
                          methods: list[str] | None = None, budgets: dict[str, float] | None = None):
    """Validation error against training minutes, one panel per dataset: a line per network fold coloured by
    its method, and the methods without epochs as points at their fit time and test error (one per fold).

    ``curves`` is ``training.curves``' (dataset, method, fold, minutes, val_mre), ``fits`` ``training.fits``'
    (dataset, method, fold, minutes, score). ``budgets``: each dataset's largest time budget in minutes, drawn
    as a dashed line. ``methods`` fixes the colours, as on the other charts.
    """
    plt = pyplot()
    curves = curves.dropna(subset=["minutes", "val_mre"])
    datasets = sorted(set(curves["dataset"]) | set(fits["dataset"]))
    colours = {m: f"C{i % 10}" for i, m in enumerate(methods or sorted(set(curves["method"]) | set(fits["method"])))}
    fig, axes = plt.subplots(len(datasets), 1, figsize=(8, 3.4 * len(datasets)), squeeze=False, layout="constrained")
    for ax, dataset in zip(axes[:, 0], datasets):
        lines, points = curves[curves["dataset"] == dataset], fits[fits["dataset"] == dataset]
        for (method, _fold), fold in lines.groupby(["method", "fold"], sort=True):
            fold = fold.sort_values("minutes")
            ax.plot(fold["minutes"], fold["val_mre"], color=colours.get(method, "k"), linewidth=1.1, alpha=0.8,
                    label=f"{method} (validation, per fold)")
        for method, group in points.groupby("method", sort=True):
            ax.scatter(group["minutes"], group["score"], color=colours.get(method, "k"), marker="D", s=28,
                       zorder=3, edgecolors="black", linewidths=0.5, label=f"{method} (test, per fold)")
        budget = (budgets or {}).get(dataset)
        if budget:
            ax.axvline(budget, color="#555555", linestyle="--", linewidth=1, label=f"budget {budget:g} min")
        if spans_decades(np.r_[lines["val_mre"].to_numpy(float), points["score"].to_numpy(float)]):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(plain_ticks())
            ax.yaxis.set_minor_formatter(plain_ticks(minor=True))
        ax.set_xlim(left=-0.02 * ax.get_xlim()[1])  # a fit of no time (the mean shape) stays in view
        ax.set_xlabel("training minutes (training and validation passes; a method without epochs: its fit)")
        ax.set_ylabel(f"mean radial error ({unit})")
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))  # one legend entry per method, not per fold
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper right", frameon=False)
    return fig


def plain_ticks(minor: bool = False):
    """Log-axis tick labels as plain numbers (2, 5, 10, 20) instead of powers of ten; minor ticks labelled only at
    2 and 5 × 10^k, so a short log axis still reads."""
    from matplotlib.ticker import FuncFormatter

    def label(value, _position):
        if value <= 0:
            return ""
        mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
        if minor and mantissa not in (2.0, 5.0):
            return ""
        return f"{value:g}"

    return FuncFormatter(label)
