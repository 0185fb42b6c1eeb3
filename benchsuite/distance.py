"""The one distance the suite scores landmarks with: the radial (Euclidean) error in original pixels.

Every place that turns predictions into an error — the headline metric, the validation error a nested
selection chooses on, ``predict`` against a lab's annotations, overlays, exports, error floors and the
inter-annotator reference — computes it here, so the criterion a method is chosen on and the number its
leaderboard row shows can never drift apart. Arrays are (N images, K landmarks, 2) in x, y order; a
landmark missing on either side (NaN) has no error (NaN) and an image with no error at all counts for
nothing.
"""
from __future__ import annotations

import numpy as np


def radial_errors(predicted, truth, mask=None) -> np.ndarray:
    """(..., K) radial error of each landmark: NaN where either point is missing or ``mask`` is False."""
    predicted, truth = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    errors = np.hypot(predicted[..., 0] - truth[..., 0], predicted[..., 1] - truth[..., 1])
    if mask is not None:
        errors = np.where(np.asarray(mask, dtype=bool), errors, np.nan)
    return errors


def per_image_errors(predicted, truth, mask=None) -> np.ndarray:
    """(N,) each image's mean radial error over its landmarks with an error (NaN for an image with none)."""
    errors = np.atleast_2d(radial_errors(predicted, truth, mask))
    counted = np.isfinite(errors)
    totals = np.where(counted, errors, 0.0).sum(axis=-1)
    counts = counted.sum(axis=-1)
    return np.divide(totals, counts, out=np.full(totals.shape, np.nan), where=counts > 0)


def mean_radial_error(predicted, truth, mask=None) -> float:
    """The mean over images of each image's mean radial error: a fold's headline score (NaN with no image)."""
    per_image = per_image_errors(predicted, truth, mask)
    per_image = per_image[np.isfinite(per_image)]
    return float(per_image.mean()) if per_image.size else float("nan")


def specimen_sizes(truth) -> np.ndarray:
    """(N,) each image's specimen size in pixels: the diagonal of its annotated landmarks' bounding box (NaN with
    fewer than two landmarks). Why: an error in pixels means nothing without a scale, and where the pixel size
    is unknown the specimen itself is the scale that compares images of any magnification."""
    truth = np.asarray(truth, dtype=np.float64)
    truth = truth.reshape(-1, *truth.shape[-2:]) if truth.ndim >= 2 else truth
    known = np.isfinite(truth).all(axis=-1)
    x = np.where(known, truth[..., 0], np.nan)
    y = np.where(known, truth[..., 1], np.nan)
    sizes = np.full(len(truth), np.nan)
    enough = known.sum(axis=-1) >= 2
    if enough.any():
        sizes[enough] = np.hypot(np.nanmax(x[enough], axis=-1) - np.nanmin(x[enough], axis=-1),
                                 np.nanmax(y[enough], axis=-1) - np.nanmin(y[enough], axis=-1))
    return sizes
