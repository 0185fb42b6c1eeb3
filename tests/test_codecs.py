"""Codecs: targets follow their formula, decoding inverts encoding, missing landmarks are ignored."""
from __future__ import annotations

import math

import pytest
import torch

from benchsuite.api import PluginError


@pytest.fixture
def gaussian(registry):
    return registry.get("codecs", "gaussian").cls(sigma=3.0)


@pytest.fixture
def regression(registry):
    return registry.get("codecs", "regression").cls()


def test_gaussian_target_matches_the_formula_at_unrounded_centre(gaussian):
    landmarks = torch.tensor([[[10.3, 20.6]]])
    heatmap = gaussian.encode(landmarks, 32)
    assert heatmap.shape == (1, 1, 32, 32)
    for x, y in [(10, 20), (12, 25), (0, 0)]:
        expected = math.exp(-((x - 10.3) ** 2 + (y - 20.6) ** 2) / (2 * 3.0**2))
        assert heatmap[0, 0, y, x].item() == pytest.approx(expected, rel=1e-5)
    assert gaussian.encode(torch.tensor([[[7.0, 9.0]]]), 32)[0, 0, 9, 7].item() == pytest.approx(1.0)


def test_argmax_round_trip_within_half_a_pixel(gaussian):
    points = torch.rand(4, 5, 2, generator=torch.Generator().manual_seed(0)) * 60 + 1.5
    decoded = gaussian.decode(gaussian.encode(points, 64), 64)
    assert (decoded - points).abs().max() <= 0.5
    integer_points = points.round()
    assert torch.equal(gaussian.decode(gaussian.encode(integer_points, 64), 64), integer_points)


def test_missing_landmarks_contribute_nothing_to_the_loss(gaussian, regression):
    torch.manual_seed(0)
    landmarks = torch.tensor([[[5.0, 6.0], [float("nan"), float("nan")], [20.0, 3.5]]])
    for codec in (gaussian, regression):
        prediction = torch.rand(1, codec.out_channels(3), 32, 32) if codec.output == "heatmap" else torch.rand(1, 6)
        loss = codec.loss(prediction, landmarks, 32)
        assert torch.isfinite(loss)
        changed = prediction.clone()
        if codec.output == "heatmap":
            changed[:, 1] += 5.0
        else:
            changed[:, 2:4] += 5.0
        assert codec.loss(changed, landmarks, 32).item() == pytest.approx(loss.item())
        present = torch.tensor([[[5.0, 6.0], [20.0, 3.5]]])
        kept = prediction[:, [0, 2]] if codec.output == "heatmap" else prediction[:, [0, 1, 4, 5]]
        assert codec.loss(kept, present, 32).item() == pytest.approx(loss.item(), rel=1e-6)


def test_regression_round_trip_is_exact_and_normalised(regression):
    points = torch.tensor([[[-0.5, -0.5], [63.5, 63.5], [10.25, 40.75]]])
    encoded = regression.encode(points, 64)
    assert encoded.min() == 0.0 and encoded.max() == 1.0
    assert torch.allclose(regression.decode(encoded.reshape(1, -1), 64), points)


def test_unknown_options_are_refused_not_silently_replaced(registry):
    with pytest.raises(PluginError, match="decoding"):
        registry.get("codecs", "gaussian").cls(decode="soft")
    with pytest.raises(PluginError, match="sigma"):
        registry.get("codecs", "gaussian").cls(sigma=0)
