"""Metric plugins: pure functions of the predictions table, reached through the registry by name."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchsuite.api import PluginError, Sample
from benchsuite.run.results import CellInfo, with_context
from benchsuite.report.scores import load_metric, parse_metric
from benchsuite.run.runner import predictions_table


def _table(errors, width=640, height=480, delta=None, pixel_size_mm=None, missing=()):
    """One image per row of ``errors`` (radial error of each landmark, along x)."""
    rows = []
    for i, image_errors in enumerate(errors):
        for j, err in enumerate(image_errors):
            truth = (np.nan, np.nan) if (i, j) in missing else (100.0, 50.0)
            rows.append(dict(image_id=f"i{i}", landmark=f"L{j}", x=truth[0], y=truth[1], pred_x=100.0 + err,
                             pred_y=50.0, width=width, height=height))
    table = pd.DataFrame(rows)
    table["delta"] = np.nan if delta is None else delta
    table["pixel_size_mm"] = np.nan if pixel_size_mm is None else pixel_size_mm
    return table


def test_mre_excludes_missing_truth_per_image_and_per_landmark(registry):
    metric = load_metric(registry, "mre")
    table = _table([[3.0, 5.0], [1.0, 100.0]], missing={(1, 1)})
    assert metric.per_image(table).tolist() == [4.0, 1.0]
    assert metric.per_landmark(table).to_dict() == {"L0": 2.0, "L1": 5.0}


def test_radial_error_is_euclidean(registry):
    table = pd.DataFrame([dict(image_id="i", landmark="a", x=0.0, y=0.0, pred_x=3.0, pred_y=4.0)])
    assert load_metric(registry, "mre").per_image(table).tolist() == [5.0]


def test_coordinate_rmse_is_the_fish_papers_per_image_root_mean_square(registry):
    """The fish paper's code: sqrt(mean over an image's landmarks of (dx² + dy²) / 2), then the mean over images."""
    rows = [("a", "p", 3.0, 0.0), ("a", "q", 0.0, 4.0), ("a", "r", 12.0, 0.0), ("a", "s", np.nan, 0.0),
            ("b", "p", 1.0, 1.0), ("b", "q", 1.0, 1.0), ("b", "r", 1.0, 1.0), ("b", "s", 1.0, 1.0)]
    table = pd.DataFrame([dict(image_id=i, landmark=l, x=10.0 if dx == dx else np.nan, y=20.0, pred_x=10.0 + (dx if
                               dx == dx else 5.0), pred_y=20.0 + dy) for i, l, dx, dy in rows])
    metric = load_metric(registry, "coordinate-rmse")
    assert not metric.higher_is_better and metric.unit == "px"
    expected = [math.sqrt((9 + 16 + 144) / 3 / 2), 1.0]  # landmark s of image a has no truth
    assert metric.per_image(table).tolist() == pytest.approx(expected)
    assert load_metric(registry, "mre").per_image(table).tolist() == pytest.approx([19 / 3, math.sqrt(2)])


def test_mre_input_divides_by_delta(registry):
    table = _table([[12.75, 25.5]], delta=12.75)
    assert load_metric(registry, "mre-input").per_image(table).tolist() == [1.5]


@pytest.mark.parametrize("spec,expected", [
    ("hit-rate(threshold=1,unit=delta)", 50.0),  # δ = 2 px: 1 and 2 (a hit is inclusive)
    ("hit-rate(threshold=2,unit=delta)", 75.0),  # 4 px: 1, 2 and 4
    ("hit-rate(threshold=3,unit=px)", 50.0),
    ("hit-rate(threshold=0.5,unit=mm)", 75.0),  # 0.5 mm / 0.125 mm per px = 4 px
])
def test_hit_rate_at_delta_pixels_and_millimetres(registry, spec, expected):
    table = _table([[1.0, 2.0, 4.0, 9.0]], delta=2.0, pixel_size_mm=0.125)
    metric = load_metric(registry, spec)
    assert metric.higher_is_better and metric.per_image(table).tolist() == [expected]


def test_hit_rate_is_unknown_without_image_size_or_pixel_size(registry):
    table = _table([[1.0, 2.0]])
    assert load_metric(registry, "hit-rate(threshold=2,unit=delta)").per_image(table).isna().all()
    assert load_metric(registry, "hit-rate(threshold=2,unit=mm)").per_image(table).isna().all()


def test_hit_rate_excludes_missing_truth(registry):
    table = _table([[1.0, 50.0, 2.0]], missing={(0, 1)})
    assert load_metric(registry, "hit-rate(threshold=5,unit=px)").per_image(table).tolist() == [100.0]


def test_hit_rate_rejects_an_unknown_unit(registry):
    with pytest.raises(PluginError, match="unknown hit-rate unit 'cm'"):
        load_metric(registry, "hit-rate(threshold=1,unit=cm)")


def test_metric_specs_parse_names_and_parameters():
    assert parse_metric("mre") == ("mre", {})
    assert parse_metric("hit-rate(threshold=2.5,unit=mm)") == ("hit-rate", {"threshold": 2.5, "unit": "mm"})
    with pytest.raises(PluginError):
        parse_metric("bad metric!")


def _coordinate_table(truth, predicted):
    """Images × landmarks × (x, y) arrays as a predictions table."""
    truth, predicted = np.asarray(truth, float), np.asarray(predicted, float)
    images, landmarks = truth.shape[:2]
    return pd.DataFrame({"image_id": np.repeat([f"i{i}" for i in range(images)], landmarks),
                         "landmark": np.tile([f"L{j}" for j in range(landmarks)], images),
                         "x": truth[..., 0].ravel(), "y": truth[..., 1].ravel(),
                         "pred_x": predicted[..., 0].ravel(), "pred_y": predicted[..., 1].ravel()})


def test_coordinate_agreement_is_per_coordinate_like_scikit_learns_uniform_average(registry):
    """scikit-learn's multi-output example: y_true = [[0.5, 1], [-1, 1], [7, -6]], y_pred = [[0, 2], [-1, 2],
    [8, -5]] (three images, one landmark: the columns are its x and y). explained_variance_score with
    multioutput="uniform_average" is documented as 0.983...; r² per column is 1 - 1.25 / 36.1667 and
    1 - 3 / 32.6667, averaged; Pearson's r likewise."""
    table = _coordinate_table([[[0.5, 1]], [[-1, 1]], [[7, -6]]], [[[0, 2]], [[-1, 2]], [[8, -5]]])
    assert load_metric(registry, "explained-variance").fold_score(table) == pytest.approx(0.98387, abs=1e-5)
    assert load_metric(registry, "r2").fold_score(table) == pytest.approx(
        (1 - 1.25 / (36 + 1 / 6) + 1 - 3 / (32 + 2 / 3)) / 2)
    expected = (np.corrcoef([0.5, -1, 7], [0, -1, 8])[0, 1] + 1.0) / 2  # y: prediction = truth + 1 exactly
    assert load_metric(registry, "pearson").fold_score(table) == pytest.approx(expected)


def test_a_mean_shape_that_ignores_the_image_explains_nothing(registry):
    """Landmarks far apart make pooled coordinates correlate perfectly with any shape-like guess; per coordinate,
    the training images' mean shape explains none of the test images' variation."""
    rng = np.random.default_rng(0)
    layout = np.array([[100.0, 200.0], [400.0, 150.0], [700.0, 260.0], [380.0, 330.0]])  # a fish's landmarks
    train, test = (layout + rng.normal(0, 15, size=(n, 4, 2)) for n in (40, 12))
    table = _coordinate_table(test, np.broadcast_to(train.mean(axis=0), test.shape))
    assert load_metric(registry, "r2").fold_score(table) == pytest.approx(0, abs=0.2)
    assert load_metric(registry, "explained-variance").fold_score(table) == pytest.approx(0, abs=1e-9)
    assert math.isnan(load_metric(registry, "pearson").fold_score(table))  # a constant has no correlation
    good = _coordinate_table(test, test + rng.normal(0, 3, size=test.shape))
    assert load_metric(registry, "r2").fold_score(good) > 0.8


def test_coordinate_agreement_skips_missing_truth_and_coordinates_without_spread(registry):
    truth = np.array([[[1.0, 5.0], [10.0, 0.0]], [[2.0, 5.0], [20.0, 0.0]], [[4.0, 5.0], [np.nan, np.nan]]])
    predicted = truth.copy()
    predicted[..., 0] += [[0.5, 1.0], [-0.5, -1.0], [0.0, 99.0]]
    table = _coordinate_table(truth, np.nan_to_num(predicted))
    # L0.x: 1 - 0.5 / 4.667; L1.x over its two images with truth: 1 - 2 / 50; y is constant: left out
    assert load_metric(registry, "r2").fold_score(table) == pytest.approx((1 - 0.5 / (14 / 3) + 1 - 2 / 50) / 2)


def test_explained_variance_forgives_a_constant_offset_and_r2_does_not(registry):
    table = _table([[0.0]])
    table = pd.concat([table.assign(image_id="a", x=10.0, y=20.0), table.assign(image_id="b", x=30.0, y=60.0)])
    table["pred_x"], table["pred_y"] = table["x"] + 5, table["y"] + 5
    assert load_metric(registry, "explained-variance").fold_score(table) == pytest.approx(1.0)
    assert load_metric(registry, "r2").fold_score(table) < 1.0
    assert load_metric(registry, "pearson").fold_score(table) == pytest.approx(1.0)


def test_runner_stores_each_images_size_with_its_predictions():
    samples = [Sample("a", np.array([[1.0, 2.0], [3.0, 4.0]]), (640, 480)),
               Sample("b", np.array([[5.0, 6.0], [np.nan, np.nan]]), (100, 300))]
    table = predictions_table(["p", "q"], samples, np.zeros((2, 2, 2)))
    assert table["width"].tolist() == [640, 640, 100, 100] and table["height"].tolist() == [480, 480, 300, 300]


def test_context_gives_delta_from_image_and_input_size_and_tolerates_old_tables():
    record = {"config": {"protocol": {"input_size": 256}}, "pixel_size_mm": 0.1}
    cell = CellInfo("c", "d", "m", 0, record)
    table = _table([[1.0]], width=2575, height=1932).drop(columns=["delta", "pixel_size_mm"])
    enriched = with_context(table, cell)
    assert enriched["delta"].iloc[0] == pytest.approx(2575 / 256) and enriched["pixel_size_mm"].iloc[0] == 0.1
    old = with_context(table.drop(columns=["width", "height"]), CellInfo("c", "d", "m", 0, {}))
    assert math.isnan(old["delta"].iloc[0]) and math.isnan(old["pixel_size_mm"].iloc[0])


def test_the_error_as_a_share_of_the_specimen_and_in_millimetres(registry):
    """The specimen size is the diagonal of an image's annotated landmarks' bounding box: 30 × 40 px -> 50 px."""
    rows = [dict(image_id="i", landmark=name, x=x, y=y, pred_x=x + 5.0, pred_y=y, pixel_size_mm=0.02)
            for name, x, y in (("a", 10.0, 10.0), ("b", 40.0, 50.0), ("c", 25.0, 30.0))]
    rows.append(dict(image_id="i", landmark="d", x=np.nan, y=np.nan, pred_x=900.0, pred_y=900.0, pixel_size_mm=0.02))
    table = pd.DataFrame(rows)
    assert load_metric(registry, "mre-specimen").per_image(table).tolist() == pytest.approx([10.0])  # 5 of 50 px
    assert load_metric(registry, "mre-mm").per_image(table).tolist() == pytest.approx([0.1])
    assert load_metric(registry, "mre-mm").per_image(table.assign(pixel_size_mm=np.nan)).isna().all()
