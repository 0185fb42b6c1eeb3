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
def exponential(registry):
    return registry.get("codecs", "exponential").cls(sigma=3.0)


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


def test_missing_landmarks_contribute_nothing_to_the_loss(gaussian, exponential, regression):
    torch.manual_seed(0)
    landmarks = torch.tensor([[[5.0, 6.0], [float("nan"), float("nan")], [20.0, 3.5]]])
    for codec in (gaussian, exponential, regression):
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


def test_exponential_target_matches_the_formula_at_unrounded_centre(exponential):
    landmarks = torch.tensor([[[10.3, 20.6]]])
    heatmap = exponential.encode(landmarks, 32)
    rate = math.log(2) / (2 * 3.0)
    for x, y in [(10, 20), (12, 25), (0, 0), (31, 2)]:
        expected = math.exp(-rate * (abs(x - 10.3) + abs(y - 20.6)))
        assert heatmap[0, 0, y, x].item() == pytest.approx(expected, rel=1e-5)
    exact = exponential.encode(torch.tensor([[[7.0, 9.0]]]), 32)[0, 0]
    assert exact[9, 7].item() == pytest.approx(1.0)
    assert exact[9, 13].item() == pytest.approx(0.5)  # half height at an L1 distance of 2σ


def test_paper_default_sigmas(registry):
    assert registry.get("codecs", "gaussian").cls().sigma == 5.0
    assert registry.get("codecs", "exponential").cls().sigma == 3.0


ROUND_TRIP = [("gaussian", 5.0), ("gaussian", 2.0), ("exponential", 3.0), ("exponential", 1.0)]


@pytest.mark.parametrize("name, sigma", ROUND_TRIP)
def test_round_trip_argmax_within_half_a_pixel_and_dark_within_five_hundredths(registry, name, sigma):
    cls = registry.get("codecs", name).cls
    points = torch.rand(4, 6, 2, generator=torch.Generator().manual_seed(1)) * 60 + 1.5
    heatmaps = cls(sigma=sigma).encode(points, 64)
    by_argmax = cls(sigma=sigma, decode="argmax").decode(heatmaps, 64)
    by_dark = cls(sigma=sigma, decode="dark").decode(heatmaps, 64)
    assert (by_argmax - points).abs().max() <= 0.5
    assert (by_dark - points).abs().max() <= 0.05
    assert (by_dark - points).norm(dim=-1).mean() < 0.2 * (by_argmax - points).norm(dim=-1).mean()


def test_dark_keeps_the_integer_position_on_the_border_and_stays_finite(gaussian, registry):
    dark = registry.get("codecs", "gaussian").cls(sigma=3.0, decode="dark")
    points = torch.tensor([[[0.2, 30.3], [63.0, 63.0]]])
    decoded = dark.decode(dark.encode(points, 64), 64)
    assert decoded[0, 0, 0] == 0.0 and decoded[0, 0, 1] == pytest.approx(30.3, abs=0.05)
    assert torch.equal(decoded[0, 1], torch.tensor([63.0, 63.0]))
    flat = dark.decode(torch.zeros(1, 1, 8, 8) - 1.0, 8)  # a network that outputs nothing positive
    assert torch.isfinite(flat).all()


def test_heatmap_names_cannot_silently_fall_back_to_another_shape(registry):
    """The fish paper's code trained Gaussian when "exponential" was asked for; each name gives its own target."""
    point = torch.tensor([[[20.0, 20.0]]])
    maps = {name: registry.get("codecs", name).cls(sigma=3.0).encode(point, 41)[0, 0, 20]
            for name in ("gaussian", "exponential")}
    distance = torch.arange(41.0) - 20
    assert torch.allclose(maps["gaussian"], torch.exp(-(distance**2) / 18))
    assert torch.allclose(maps["exponential"], torch.exp(-math.log(2) / 6 * distance.abs()))
    for name in ("gaussian", "exponential"):
        cls = registry.get("codecs", name).cls
        assert cls.name == name
        with pytest.raises(PluginError, match="unknown decoding 'soft-argmax'"):
            cls(decode="soft-argmax")
        with pytest.raises(PluginError, match="sigma must be a positive number"):
            cls(sigma="5")
        with pytest.raises(PluginError, match="sigma must be a positive number"):
            cls(sigma=True)


def test_a_grid_entry_instantiates_exactly_the_codec_and_decoding_it_names(registry):
    codec = registry.create("codecs", "exponential", {"sigma": 3, "decode": "dark"})
    assert type(codec).__name__ == "Exponential" and codec.decoding == "dark" and codec.sigma == 3.0
    with pytest.raises(PluginError, match="codec gaussian: unknown parameter 'kind'"):
        registry.create("codecs", "gaussian", {"kind": "exponential"})


@pytest.mark.parametrize("name", ["gaussian", "exponential", "regression"])
def test_rectangular_inputs_round_trip(registry, name):
    codec = registry.get("codecs", name).cls()
    points = torch.tensor([[[3.0, 5.0], [40.25, 27.5], [-0.5, -0.5]]])
    encoded = codec.encode(points, (48, 32))
    if name == "regression":
        assert torch.allclose(encoded[0, 2], torch.zeros(2))
        assert torch.allclose(codec.encode(torch.tensor([[[47.5, 31.5]]]), (48, 32)), torch.ones(1, 1, 2))
        assert torch.allclose(codec.decode(encoded.reshape(1, -1), (48, 32)), points)
    else:
        assert encoded.shape == (1, 3, 32, 48)  # height × width
        assert (codec.decode(encoded[:, :2], (48, 32)) - points[:, :2]).abs().max() <= 0.5


def test_signed_regression_puts_the_input_edges_at_minus_one_and_one(registry):
    """The beetle paper regresses coordinates in [-1, 1]; decoding inverts it exactly."""
    codec = registry.create("codecs", "regression", {"coordinates": "signed"})
    points = torch.tensor([[[-0.5, -0.5], [47.5, 31.5], [10.25, 3.75]]])
    encoded = codec.encode(points, (48, 32))
    assert torch.allclose(encoded[0, 0], -torch.ones(2)) and torch.allclose(encoded[0, 1], torch.ones(2))
    assert torch.allclose(codec.decode(encoded.reshape(1, -1), (48, 32)), points, atol=1e-5)
    with pytest.raises(PluginError, match="coordinates must be one of unit, signed"):
        registry.create("codecs", "regression", {"coordinates": "[-1,1]"})
