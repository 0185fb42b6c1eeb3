"""Metrics: pure functions of the stored predictions table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchsuite.hookspecs import hookimpl


def radial_errors(predictions: pd.DataFrame) -> pd.Series:
    """Euclidean distance per row (image × landmark), original pixels; NaN where truth is missing."""
    return np.hypot(predictions["pred_x"] - predictions["x"], predictions["pred_y"] - predictions["y"])


class MeanRadialError:
    name = "mre"
    description = "Mean radial (Euclidean) error per image over its landmarks, original pixels"
    higher_is_better = False
    unit = "px"

    def per_image(self, predictions: pd.DataFrame) -> pd.Series:
        errors = radial_errors(predictions)
        return errors.groupby(predictions["image_id"], sort=True).mean()


@hookimpl
def register_metrics(register):
    register(MeanRadialError)
