"""Figures for the reports (matplotlib, Agg backend, imported only when drawing)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def per_landmark_bars(table: pd.DataFrame, path: Path, unit: str = "px") -> Path:
    """Grouped bars of each landmark's mean error per method, one panel per dataset (fish Fig. 6).

    ``table`` is ``tables.landmark_summary``'s: dataset, landmark, index, method, mean, std.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    datasets = sorted(table["dataset"].unique())
    methods = sorted(table["method"].unique())
    fig, axes = plt.subplots(len(datasets), 1, figsize=(max(6.0, 0.5 * table["landmark"].nunique() * len(methods)),
                                                         3.2 * len(datasets)), squeeze=False)
    width = 0.8 / len(methods)
    for ax, dataset in zip(axes[:, 0], datasets):
        rows = table[table["dataset"] == dataset]
        landmarks = rows.drop_duplicates("landmark").sort_values("index")["landmark"].tolist()
        x = np.arange(len(landmarks))
        for i, method in enumerate(methods):
            values = rows[rows["method"] == method].set_index("landmark").reindex(landmarks)
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, values["mean"], width, yerr=values["std"].fillna(0),
                   label=method, capsize=2)
        ax.set_xticks(x, landmarks, rotation=45 if max(map(len, landmarks)) > 3 else 0, ha="right")
        ax.set_ylabel(f"mean error ({unit})")
        ax.set_title(dataset)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
