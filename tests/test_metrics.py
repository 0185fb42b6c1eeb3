"""Metric plugins: pure functions of the predictions table, reached through the registry by name."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchsuite.api import PluginError, Sample
from benchsuite.report.results import CellInfo, with_context
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


def test_coordinate_agreement_matches_scikit_learns_documented_examples(registry):
    """sklearn's r2_score and explained_variance_score docstrings: y_true = [3, -0.5, 2, 7],
    y_pred = [2.5, 0.0, 2, 8] give r² = 0.948... and explained variance = 0.957..."""
    table = pd.DataFrame({"image_id": ["a", "b"], "landmark": ["p", "p"], "x": [3.0, -0.5], "y": [2.0, 7.0],
                          "pred_x": [2.5, 0.0], "pred_y": [2.0, 8.0]})
    assert load_metric(registry, "r2").fold_score(table) == pytest.approx(0.9486081370449679)
    assert load_metric(registry, "explained-variance").fold_score(table) == pytest.approx(0.9571734475374732)
    expected = np.corrcoef([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])[0, 1]
    assert load_metric(registry, "pearson").fold_score(table) == pytest.approx(expected)


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
