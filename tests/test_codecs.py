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


# --- remedies for the all-zero plateau, decoding inside the image, collapse ------------------------------------


def test_remedy_losses_are_zero_at_the_target_and_pull_the_peak_harder_than_mse_on_the_plateau(registry):
    """On the plateau (a flat output at 2% of the peak), MSE's gradient is mostly the background's pull
    towards zero; the remedies give the peak's pixels several times its share."""
    landmarks = torch.tensor([[[20.0, 30.0], [40.5, 10.2]]])
    shares = {}
    for loss in ("mse", "weighted-mse", "adaptive-wing"):
        codec = registry.create("codecs", "gaussian", {"sigma": 2.0, "loss": loss})
        target = codec.encode(landmarks, 64)
        assert codec.loss(target, landmarks, 64).item() == pytest.approx(0.0, abs=1e-7)
        plateau = torch.full_like(target, 0.02, requires_grad=True)
        codec.loss(plateau, landmarks, 64).backward()
        gradient = plateau.grad.abs()
        shares[loss] = (gradient * (target > 0.5)).sum().item() / gradient.sum().item()
    assert shares["mse"] < 0.2, shares
    assert shares["weighted-mse"] > 2 * shares["mse"] and shares["adaptive-wing"] > 2 * shares["mse"], shares


def test_adaptive_wing_follows_the_paper_and_joins_smoothly_at_theta(registry):
    from benchsuite_builtin.codecs.heatmap import adaptive_wing

    target = torch.tensor([0.0, 0.3, 1.0])
    for y in target:
        power = 2.1 - y.item()
        small = adaptive_wing(torch.tensor([y + 0.2]), y.view(1)).item()
        assert small == pytest.approx(14 * math.log(1 + 0.2**power), rel=1e-5)  # ω ln(1 + |d/ε|^(α-y))
        below, above = (adaptive_wing(torch.tensor([y + d]), y.view(1)).item() for d in (0.5 - 1e-4, 0.5 + 1e-4))
        assert above == pytest.approx(below, abs=1e-2)  # continuous at θ = 0.5
        slope = (adaptive_wing(torch.tensor([y + 0.9]), y.view(1)) - adaptive_wing(torch.tensor([y + 0.7]), y.view(1)))
        derivative = 14 * power * 0.5 ** (power - 1) / (1 + 0.5**power)  # A of the paper at θ = 0.5, ε = 1
        assert slope.item() / 0.2 == pytest.approx(derivative, rel=1e-4)


def test_weight_map_is_eleven_on_the_dilated_peak_and_one_elsewhere():
    from benchsuite_builtin.codecs.heatmap import weight_map

    target = torch.zeros(1, 1, 9, 9)
    target[0, 0, 4, 4] = 1.0
    weights = weight_map(target)[0, 0]
    assert torch.equal(weights[3:6, 3:6], torch.full((3, 3), 11.0))
    assert weights.sum().item() == 81 + 9 * 10


def test_amplitude_scales_the_target_and_a_faint_answer_is_no_better_than_the_flat_output(registry):
    landmarks = torch.tensor([[[8.0, 8.0]]])
    codec = registry.create("codecs", "gaussian", {"sigma": 2.0, "amplitude": 10})
    target = codec.encode(landmarks, 17)
    assert target.max().item() == pytest.approx(10.0)
    flat = codec.flat_output(target)
    assert torch.equal(flat, torch.zeros_like(target))
    ratio = lambda output: (codec.loss(output, landmarks, 17) / codec.loss(flat, landmarks, 17)).item()  # noqa: E731
    assert ratio(target) == 0.0 and ratio(0.5 * target) < 0.5
    elsewhere = 0.2 * codec.encode(torch.tensor([[[1.0, 15.0]]]), 17)
    assert ratio(elsewhere) > codec.collapsed_above  # a faint answer in the wrong place: collapsed
    with pytest.raises(PluginError, match="unknown loss 'l1'"):
        registry.create("codecs", "gaussian", {"loss": "l1"})
    with pytest.raises(PluginError, match="amplitude must be a positive number"):
        registry.create("codecs", "gaussian", {"amplitude": 0})


@pytest.mark.parametrize("spec", [{"name": "gaussian", "sigma": 2.0, "decode": "argmax"},
                                  {"name": "gaussian", "sigma": 2.0, "decode": "dark"},
                                  {"name": "exponential", "sigma": 2.0, "decode": "dark"},
                                  {"name": "integral", "sigma": 2.0}], ids=lambda s: f"{s['name']}-{s.get('decode')}")
def test_decoding_never_leaves_the_region_even_when_the_maximum_lies_outside(registry, spec):
    codec = registry.create("codecs", spec["name"], {k: v for k, v in spec.items() if k != "name"})
    truth = torch.tensor([[[12.3, 20.6], [30.0, 4.0]]])
    output = codec.encode(truth, 32)
    output[:, :, :, 28:] += 50.0  # a strong answer in the padding on the right
    region = torch.tensor([[2, 3, 27, 29]])
    decoded = codec.decode(output, 32, region=region)
    assert (decoded[..., 0] >= 1.5).all() and (decoded[..., 0] <= 27.5).all()
    assert (decoded[..., 1] >= 2.5).all() and (decoded[..., 1] <= 29.5).all()
    tolerance = 0.5 if spec.get("decode") == "argmax" else 0.05
    assert (decoded[0, 0] - truth[0, 0]).abs().max() <= tolerance  # away from the padding: the true answer


def test_dark_does_not_refine_across_the_region_edge(registry):
    dark = registry.create("codecs", "gaussian", {"sigma": 2.0, "decode": "dark"})
    heatmaps = dark.encode(torch.tensor([[[10.4, 9.8]]]), 24)
    region = torch.tensor([[10, 0, 23, 23]])  # the peak's left neighbour is padding
    decoded = dark.decode(heatmaps, 24, region=region)
    assert decoded[0, 0, 0].item() == 10.0 and decoded[0, 0, 1].item() == pytest.approx(9.8, abs=0.05)


def test_integral_regression_round_trips_and_always_has_a_gradient(registry):
    codec = registry.create("codecs", "integral", {"sigma": 2.0})
    points = torch.rand(3, 4, 2, generator=torch.Generator().manual_seed(0)) * 40 + 12
    assert (codec.decode(codec.encode(points, 64), 64) - points).abs().max() < 1e-3
    flat = torch.zeros(3, 4, 64, 64, requires_grad=True)  # what a heatmap network collapses to
    codec.loss(flat, points, 64).backward()
    assert flat.grad.abs().sum() > 0  # the coordinate loss has no all-zero minimum
    regularised = registry.create("codecs", "integral", {"sigma": 2.0, "heatmap_weight": 1.0})
    assert regularised.loss(codec.encode(points, 64), points, 64).item() < 1e-3
    assert regularised.loss(flat, points, 64).item() > codec.loss(flat, points, 64).item()
    assert torch.equal(codec.flat_output(flat), flat.detach())  # flat logits: every landmark at the centre


def test_missing_landmarks_contribute_nothing_to_the_remedy_losses(registry):
    landmarks = torch.tensor([[[5.0, 6.0], [float("nan"), float("nan")], [20.0, 3.5]]])
    present = torch.tensor([[[5.0, 6.0], [20.0, 3.5]]])
    torch.manual_seed(0)
    prediction = torch.rand(1, 3, 32, 32)
    for name, params in [("gaussian", {"loss": "weighted-mse"}), ("gaussian", {"loss": "adaptive-wing"}),
                         ("integral", {}), ("integral", {"heatmap_weight": 0.5})]:
        codec = registry.create("codecs", name, params)
        loss = codec.loss(prediction, landmarks, 32)
        changed = prediction.clone()
        changed[:, 1] += 5.0
        assert codec.loss(changed, landmarks, 32).item() == pytest.approx(loss.item())
        assert codec.loss(prediction[:, [0, 2]], present, 32).item() == pytest.approx(loss.item(), rel=1e-6)


def test_a_collapsed_codec_suggests_only_remedies_it_does_not_use_yet(registry):
    plain = registry.create("codecs", "gaussian", {"sigma": 2.0}).collapse_remedy()
    wing = registry.create("codecs", "gaussian", {"sigma": 2.0, "loss": "adaptive-wing", "amplitude": 4.0})
    assert 'loss = "adaptive-wing"' in plain and "larger amplitude" in plain
    remedy = wing.collapse_remedy()
    assert "adaptive-wing" not in remedy and 'loss = "weighted-mse"' in remedy and "amplitude" not in remedy
    assert "sigma above 2" in remedy and "integral" in remedy
    assert registry.create("codecs", "integral", {}).collapse_remedy() == ""  # it has no all-zero plateau


def test_the_single_peak_term_turns_a_flat_map_that_places_its_landmark_right_into_a_peak(registry):
    """Why the lab grid's network uses heatmap_weight: the coordinate loss alone is content with a flat map whose
    expectation lands on the landmark (on the fly wings 7 of 12 maps stayed so), the term makes it a peak."""
    import math
    import tomllib
    from importlib.resources import files

    centre = torch.tensor([[[31.5, 31.5]]])  # where a flat 64 × 64 map's expectation is
    entropies = {}
    for weight in (0.0, 10.0):
        codec = registry.create("codecs", "integral", {"sigma": 2.0, "heatmap_weight": weight})
        logits = torch.zeros(1, 1, 64, 64, requires_grad=True)
        optimiser = torch.optim.Adam([logits], lr=0.1)
        for _ in range(150):
            optimiser.zero_grad()
            codec.loss(logits, centre, 64).backward()
            optimiser.step()
        p = torch.softmax(logits.detach().flatten(), 0)
        entropies[weight] = -(p * p.clamp_min(1e-12).log()).sum().item()
    assert entropies[0.0] == pytest.approx(math.log(64 * 64))  # still flat: nothing moved it
    gaussian = math.log(2 * math.pi * math.e * 2.0**2)  # a σ = 2 peak's entropy, 4.2 nats
    assert entropies[10.0] < gaussian + 0.5
    lab = tomllib.loads(files("benchsuite").joinpath("grids/lab.toml").read_text())
    codecs = [m.get("codec") or m["architecture"].get("codec") or {} for m in lab["methods"]]  # coarse to fine's
    integral = [codec for codec in codecs if codec.get("name") == "integral"]
    assert len(integral) == 2 and all(c.get("heatmap_weight", 0) >= 10 for c in integral)  # the measured default


def test_the_integral_loss_is_the_coordinate_error_plus_the_jensen_shannon_divergence_to_the_gaussian(registry):
    """The codec computes the single-peak term in a cheaper form than its definition; checked here against the
    definition in float64, on a non-square map, with landmarks on its edges and one missing (left out)."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 24, 40, generator=generator, dtype=torch.float64) * 4
    nan = float("nan")
    truth = torch.tensor([[[3.2, 5.0], [0.0, 23.0], [39.0, 11.7]], [[20.5, 12.5], [nan, nan], [38.9, 0.4]]],
                         dtype=torch.float64)
    sigma, weight = 2.0, 10.0
    p = torch.softmax(logits.flatten(-2), -1).view_as(logits)
    ys, xs = torch.meshgrid(torch.arange(24.0, dtype=torch.float64), torch.arange(40.0, dtype=torch.float64),
                            indexing="ij")
    centre = torch.nan_to_num(truth)
    q = torch.exp(-((xs - centre[..., 0, None, None]) ** 2 + (ys - centre[..., 1, None, None]) ** 2) / (2 * sigma**2))
    q = q / q.sum((-2, -1), keepdim=True)
    m = (p + q) / 2
    kl = lambda a: (torch.xlogy(a, a) - torch.xlogy(a, m)).sum((-2, -1))  # noqa: E731
    expected = torch.stack(((p * xs).sum((-2, -1)), (p * ys).sum((-2, -1))), -1)
    per_landmark = (expected - centre).abs().sum(-1) / 2 + weight * (kl(p) + kl(q)) / 2
    valid = ~torch.isnan(truth).any(-1)
    reference = per_landmark[valid].mean().item()
    codec = registry.create("codecs", "integral", {"sigma": sigma, "heatmap_weight": weight})
    prediction = logits.float().requires_grad_()
    loss = codec.loss(prediction, truth.float(), (40, 24))
    assert loss.item() == pytest.approx(reference, rel=1e-5)
    loss.backward()
    assert torch.isfinite(prediction.grad).all() and prediction.grad[1, 1].abs().max() == 0  # missing: no pull
