"""Metrics: pure functions of the stored predictions table.

The table has one row per test image × landmark: ``image_id``, ``landmark``,
truth ``x, y`` and prediction ``pred_x, pred_y`` in original pixels. The core
may add context columns before calling a metric: ``width``/``height`` (the
original image size), ``delta`` (original pixels per network-input pixel, the
fish paper's δ) and ``pixel_size_mm``. A landmark whose truth is missing (NaN)
is excluded from every metric here; the core counts those rows.

Each metric class offers ``per_image`` (a Series by image_id; the fold score
is its mean over images), and where it makes sense ``per_landmark`` (a Series
by landmark, mean over the images) or ``fold_score`` (a score that is not a
mean over images, like r², computed per coordinate over the fold's images).
"""
from __future__ import annotations

import numpy as np

from benchsuite import api, toolkit
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

pd = lazy_import("pandas")

HIT_UNITS = ("delta", "px", "mm")


def radial_errors(predictions: pd.DataFrame) -> pd.Series:
    """Euclidean distance per row (image × landmark), original pixels; NaN where truth is missing."""
    errors = toolkit.radial_errors(predictions[["pred_x", "pred_y"]].to_numpy(float),
                                   predictions[["x", "y"]].to_numpy(float))
    return pd.Series(errors, index=predictions.index)


def truth_present(predictions: pd.DataFrame) -> pd.Series:
    return predictions["x"].notna() & predictions["y"].notna()


def _column(predictions: pd.DataFrame, name: str) -> pd.Series:
    """A context column, or NaN everywhere when the table predates it."""
    if name in predictions:
        return predictions[name].astype(float)
    return pd.Series(np.nan, index=predictions.index)


def _by_image(values: pd.Series, predictions: pd.DataFrame) -> pd.Series:
    return values.groupby(predictions["image_id"], sort=True).mean()


def _by_landmark(values: pd.Series, predictions: pd.DataFrame) -> pd.Series:
    return values.groupby(predictions["landmark"], sort=False).mean()


class MeanRadialError(api.Metric):
    name = "mre"
    description = "Mean radial (Euclidean) error per image over its landmarks, original pixels"
    higher_is_better = False
    unit = "px"
    scores = frozenset({"image", "landmark"})
    headline = True

    def errors(self, predictions: pd.DataFrame) -> pd.Series:
        return radial_errors(predictions)

    def per_image(self, predictions: pd.DataFrame) -> pd.Series:
        return _by_image(self.errors(predictions), predictions)

    def per_landmark(self, predictions: pd.DataFrame) -> pd.Series:
        return _by_landmark(self.errors(predictions), predictions)


class InputPixelRadialError(MeanRadialError):
    """The beetle paper reports errors at its 256×192 network input, not in original pixels."""

    name = "mre-input"
    description = "Mean radial error per image in network-input pixels (radial error / δ)"
    unit = "input px"
    headline = False

    def errors(self, predictions: pd.DataFrame) -> pd.Series:
        return radial_errors(predictions) / _column(predictions, "delta")


class SpecimenRadialError(MeanRadialError):
    """The error on a scale every image shares whatever its magnification: the specimen itself."""

    name = "mre-specimen"
    description = ("Mean radial error per image as a percentage of its specimen size (the diagonal of its "
                   "annotated landmarks' bounding box)")
    unit = "% of specimen size"
    headline = False
    tables = {"summary": ({},)}  # beside the pixels in the leaderboard: a scale whatever the magnification

    def errors(self, predictions: pd.DataFrame) -> pd.Series:
        known = predictions.dropna(subset=["x", "y"])
        sizes = {image: float(toolkit.specimen_sizes(group[["x", "y"]].to_numpy(float))[0])
                 for image, group in known.groupby("image_id", sort=False)}
        return 100 * radial_errors(predictions) / predictions["image_id"].map(sizes).astype(float)


class MillimetreRadialError(MeanRadialError):
    """The error in physical units, where the dataset knows its pixel size (NaN elsewhere)."""

    name = "mre-mm"
    description = "Mean radial error per image in millimetres (the dataset's pixel size)"
    unit = "mm"
    headline = False
    tables = {"summary": ({},)}  # beside the pixels in the leaderboard, where a dataset knows its pixel size
    decimals = 3

    def errors(self, predictions: pd.DataFrame) -> pd.Series:
        return radial_errors(predictions) * _column(predictions, "pixel_size_mm")


class CoordinateRMSE(api.Metric):
    """The error the fish paper reports (Kumar et al. 2022), so that its numbers can be compared as they are.

    Its code computed, per test image, sqrt(mean over the image's landmarks of
    (dx² + dy²) / 2), the root mean square of the coordinate errors, and
    called it the RMSE; a fold's score is the mean over its test images.
    √2 × this is the image's root mean square radial error, which is at least
    its mean radial error: no factor turns one into the other.
    """

    name = "coordinate-rmse"
    description = ("Root mean square coordinate error per image, sqrt(mean over landmarks of (dx²+dy²)/2), original "
                   "pixels (the fish paper's 'RMSE')")
    higher_is_better = False
    unit = "px"

    def per_image(self, predictions: pd.DataFrame) -> pd.Series:
        return np.sqrt(_by_image(radial_errors(predictions) ** 2 / 2, predictions))


def threshold_px(predictions: pd.DataFrame, threshold: float, unit: str) -> pd.Series:
    """The hit threshold in original pixels, per row: ``threshold`` × δ, pixels or millimetres."""
    if unit == "px":
        return pd.Series(float(threshold), index=predictions.index)
    if unit == "delta":
        return threshold * _column(predictions, "delta")
    if unit == "mm":
        return threshold / _column(predictions, "pixel_size_mm")
    raise PluginError(f"unknown hit-rate unit {unit!r} (known: {', '.join(HIT_UNITS)})")


class HitRate(api.Metric):
    """Percentage of an image's landmarks predicted within a distance (SDR in cephalometry).

    NaN where the threshold is unknown: δ needs the image size, mm the
    dataset's pixel size.
    """

    name = "hit-rate"
    description = "Percentage of landmarks within a threshold: k×δ (unit=delta), pixels (px) or millimetres (mm)"
    higher_is_better = True
    unit = "%"
    scores = frozenset({"image", "landmark"})
    decimals = 1
    tables = {"hits": tuple([{"threshold": k, "unit": "delta"} for k in (1, 2, 3, 4)]
                            + [{"threshold": k, "unit": "px"} for k in (5, 10)]
                            + [{"threshold": k, "unit": "mm"} for k in (2, 2.5, 3, 4)])}  # mm: the SDR of X-ray challenges

    def __init__(self, threshold: float = 1.0, unit: str = "delta"):
        if unit not in HIT_UNITS:
            raise PluginError(f"unknown hit-rate unit {unit!r} (known: {', '.join(HIT_UNITS)})")
        self.threshold, self.threshold_unit = float(threshold), unit

    @property
    def label(self) -> str:
        k = f"{self.threshold:g}"
        return "hit @ " + {"delta": f"{'' if k == '1' else k}δ", "px": f"{k} px", "mm": f"{k} mm"}[self.threshold_unit]

    def hits(self, predictions: pd.DataFrame) -> pd.Series:
        """1.0 for a hit, 0.0 for a miss, NaN where truth or threshold is missing."""
        limit = threshold_px(predictions, self.threshold, self.threshold_unit)
        hit = (radial_errors(predictions) <= limit).astype(float)
        return hit.where(truth_present(predictions) & limit.notna())

    def per_image(self, predictions: pd.DataFrame) -> pd.Series:
        return 100.0 * _by_image(self.hits(predictions), predictions)

    def per_landmark(self, predictions: pd.DataFrame) -> pd.Series:
        return 100.0 * _by_landmark(self.hits(predictions), predictions)


def coordinate_columns(predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted coordinates as images × targets matrices, one target per landmark and axis.

    Each landmark's x and each landmark's y is its own regression target over
    the fold's images; NaN where the truth is missing.
    """
    table = predictions.set_index(["image_id", "landmark"])
    truth = table[["x", "y"]].unstack("landmark")
    predicted = table[["pred_x", "pred_y"]].unstack("landmark")
    return truth.to_numpy(float), predicted.to_numpy(float)


def per_coordinate(function, predictions: pd.DataFrame) -> float:
    """``function`` on each coordinate separately, averaged uniformly (scikit-learn's multioutput="uniform_average").

    Pooling x and y of all landmarks would score the spread *between*
    landmarks, which any shape-like guess reproduces: the mean shape, blind
    to the image, would get r² ≈ 0.99. Per coordinate it gets ≈ 0.
    Coordinates with fewer than two true values or no spread in the truth
    have no score and are left out; NaN when none is left.
    """
    truth, predicted = coordinate_columns(predictions)
    scores = []
    for t, p in zip(truth.T, predicted.T):
        known = np.isfinite(t)
        if known.sum() >= 2 and np.ptp(t[known]) > 0:
            scores.append(function(t[known], p[known]))
    return float(np.mean(scores)) if scores else float("nan")


def r2_score(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination of one target, 1 - SS_res / SS_tot (scikit-learn's r2_score)."""
    return float(1.0 - np.sum((truth - predicted) ** 2) / np.sum((truth - truth.mean()) ** 2))


def explained_variance(truth: np.ndarray, predicted: np.ndarray) -> float:
    """1 - Var(truth - predicted) / Var(truth) of one target: r² that forgives a constant offset."""
    return float(1.0 - np.var(truth - predicted) / np.var(truth))


def pearson(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Pearson's r of one target; NaN for a constant prediction, whose correlation is undefined."""
    if np.std(predicted) == 0:
        return float("nan")
    return float(np.corrcoef(truth, predicted)[0, 1])


class _CoordinateAgreement(api.Metric):
    """Agreement of predicted with true coordinates over a fold, per coordinate (the beetle paper's Table 2)."""

    higher_is_better = True
    unit = ""
    scores = frozenset({"fold"})
    decimals = 4
    tables = {"correlation": ({},)}
    function = staticmethod(r2_score)
    title = ""

    @property
    def label(self) -> str:
        return self.title

    def fold_score(self, predictions: pd.DataFrame) -> float:
        return per_coordinate(self.function, predictions)


class R2(_CoordinateAgreement):
    name = "r2"
    title = "r²"
    description = ("Coefficient of determination r² of predicted vs true coordinates, per coordinate (each landmark's "
                   "x and y over a fold's images) and averaged")
    function = staticmethod(r2_score)


class ExplainedVariance(_CoordinateAgreement):
    name = "explained-variance"
    title = "explained variance"
    description = ("Explained variance of predicted vs true coordinates, per coordinate (each landmark's x and y "
                   "over a fold's images) and averaged")
    function = staticmethod(explained_variance)


class Pearson(_CoordinateAgreement):
    name = "pearson"
    title = "Pearson r"
    description = ("Pearson correlation of predicted and true coordinates, per coordinate (each landmark's x and y "
                   "over a fold's images) and averaged")
    function = staticmethod(pearson)


@hookimpl
def register_metrics(register):
    for metric in (MeanRadialError, InputPixelRadialError, SpecimenRadialError, MillimetreRadialError, CoordinateRMSE,
                   HitRate, R2, ExplainedVariance, Pearson):
        register(metric)
