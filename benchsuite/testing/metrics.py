"""``check_metric``: every declared score level on a tiny predictions table."""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from benchsuite import api
from benchsuite.testing.subject import Subject, start
from benchsuite.testing.tiny import predictions


def check_metric(cls: type, **params: Any) -> list[str]:
    """Every declared score level on a tiny predictions table: types, indexes, purity, determinism; perfect
    predictions score no worse than noisy ones; errors in pixels are not negative; every table column it fills."""
    subject, registry, metric = start("metrics", cls, params)
    if metric is None:
        return subject.notes
    with subject.calling("label"):
        label = metric.label
    subject.expect(isinstance(label, str) and label.strip() and "\n" not in label, "label",
                   f"must be one non-empty line, got {label!r}")
    noisy, perfect = predictions(False), predictions(True)
    untouched = noisy.copy()
    scores = _scores(subject, metric, noisy)
    subject.expect(noisy.equals(untouched), "scores", "a metric must not modify the predictions table")
    subject.expect(_scores(subject, metric, noisy) == scores, "scores", "two calls on one table gave two results")
    best, worst = _fold_score(metric, _scores(subject, metric, perfect)), _fold_score(metric, scores)
    better = best >= worst if cls.higher_is_better else best <= worst
    subject.expect(better or math.isnan(best) or math.isnan(worst), "higher_is_better",
                   f"perfect predictions score {best:.4g}, noisy ones {worst:.4g}: check higher_is_better "
                   f"({cls.higher_is_better})")
    if cls.unit in ("px", "input px") and not cls.higher_is_better and "image" in cls.scores:  # an error in pixels
        values = [v for v in scores["image"] if v is not None]
        subject.expect(min(values, default=0) >= 0, "per_image()", f"an error in {cls.unit} is negative")
    for table, columns in cls.tables.items():
        labels = []
        for column in columns:
            with subject.calling(f"tables[{table!r}] {column}"):
                labels.append(registry.create("metrics", cls.name, column).label)
        subject.expect(len(set(labels)) == len(labels), f"tables[{table!r}]", f"columns share a label: {labels}")
    subject.expect(cls.decimals >= 0, "decimals", f"must not be negative, got {cls.decimals}")
    return subject.notes


_INDEX = {"image": "image_id", "landmark": "landmark"}


def _scores(subject: Subject, metric, table) -> dict[str, Any]:
    """Each declared level's result on ``table``, as plain values (NaN as None, so two results compare)."""
    import pandas as pd

    results: dict[str, Any] = {}
    for level in sorted(metric.scores):
        method = api.SCORE_METHODS[level]
        with subject.calling(f"{method}()"):
            value = getattr(metric, method)(table)
        if level == "fold":
            subject.expect(isinstance(value, numbers.Real) and not isinstance(value, bool), f"{method}()",
                           f"must return a number, got {type(value).__name__}")
            results[level] = None if math.isnan(value) else float(value)
            continue
        column = _INDEX[level]
        subject.expect(isinstance(value, pd.Series) and set(value.index) == set(table[column]), f"{method}()",
                       f"must return a pandas Series indexed by {column} (one entry each), got "
                       f"{type(value).__name__}")
        numbers_ = pd.to_numeric(value, errors="coerce")
        subject.expect(numbers_.notna().any(), f"{method}()", "gave no number at all")
        results[level] = [None if pd.isna(v) else float(v) for v in numbers_.sort_index()]
    return results


def _fold_score(metric, scores: dict[str, Any]) -> float:
    """As the leaderboard computes it: the fold score, else the mean over images."""
    if "fold" in scores:
        return math.nan if scores["fold"] is None else scores["fold"]
    values = [v for v in scores["image"] if v is not None]
    return float(np.mean(values)) if values else math.nan
