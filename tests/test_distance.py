"""One distance: the metric a leaderboard shows, the validation error a selection chooses on, predict's report
against a lab's annotations, the overlays, the export and the inter-annotator reference all agree, on one
fixture with missing landmarks (one landmark of one image, every landmark of another)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from benchsuite_builtin.datasets.folder import inter_annotator_mre

from benchsuite import distance
from benchsuite.api import Sample
from benchsuite.lab.predict import Predicted, error_report
from benchsuite.report.overlays import image_errors, radial_errors

NAN = np.nan
TRUTH = np.array([[[0, 0], [10, 0], [NAN, NAN]],
                  [[5, 5], [6, 6], [7, 7]],
                  [[NAN, NAN], [NAN, NAN], [NAN, NAN]]], dtype=float)
PREDICTED = np.array([[[3, 4], [10, 2], [1, 1]],
                      [[5, 5], [6, 9], [8, 7]],
                      [[1, 1], [2, 2], [3, 3]]], dtype=float)
IDS = ["a", "b", "c"]
PER_IMAGE = {"a": (5 + 2) / 2, "b": (0 + 3 + 1) / 3}  # by hand; "c" has no truth and counts for nothing


def _table() -> pd.DataFrame:
    return pd.DataFrame({"image_id": np.repeat(IDS, 3), "landmark": np.tile(["L1", "L2", "L3"], 3),
                         "x": TRUTH[..., 0].ravel(), "y": TRUTH[..., 1].ravel(),
                         "pred_x": PREDICTED[..., 0].ravel(), "pred_y": PREDICTED[..., 1].ravel(),
                         "width": 20, "height": 20, "delta": 1.0, "pixel_size_mm": NAN})


def test_the_distance_itself():
    np.testing.assert_allclose(distance.per_image_errors(PREDICTED, TRUTH)[:2], list(PER_IMAGE.values()))
    assert np.isnan(distance.per_image_errors(PREDICTED, TRUTH)[2])
    assert distance.mean_radial_error(PREDICTED, TRUTH) == pytest.approx(np.mean(list(PER_IMAGE.values())))
    masked = distance.radial_errors(PREDICTED, TRUTH, mask=[[True, False, True]] * 3)
    assert np.isnan(masked[:, 1]).all() and masked[0, 0] == 5


def test_every_consumer_computes_the_same_errors(registry):
    expected = distance.mean_radial_error(PREDICTED, TRUTH)
    metric = registry.create("metrics", registry.the_one("metrics", lambda c: c.headline, "headline").name)
    scores = metric.per_image(_table()).dropna()
    assert scores.to_dict() == pytest.approx(PER_IMAGE) and scores.mean() == pytest.approx(expected)
    assert image_errors(_table()).to_dict() == pytest.approx(PER_IMAGE)  # the overlays' best/median/worst
    np.testing.assert_allclose(radial_errors(_table()), distance.radial_errors(PREDICTED, TRUTH).ravel())
    samples = [Sample(i, p, (20, 20)) for i, p in zip(IDS, PREDICTED)]
    result = Predicted(samples, {}, ["L1", "L2", "L3"], {i: t for i, t in zip(IDS, TRUTH)})
    assert f"{expected:.2f} px over 2 images" in error_report(result)  # benchsuite predict on annotated images
    mre, images = inter_annotator_mre(dict(zip(IDS, TRUTH)), dict(zip(IDS, PREDICTED)))
    assert (mre, images) == (pytest.approx(expected), 2)  # the human reference row
