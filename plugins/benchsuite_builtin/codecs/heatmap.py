"""Heatmap codecs: each landmark becomes a peak-1 map at input resolution.

Gaussian F_G = exp(-((x-μx)² + (y-μy)²) / 2σ²) and Exponential
F_E = exp(-ln2/(2σ) · (|x-μx| + |y-μy|)), the fish paper's two targets
(section 4.2; its best σ: 5 and 3). Both are separable, so a target is a row
profile times a column profile, computed on the training device from the
unrounded landmark coordinates: no per-pixel loop, no full-size target in host
memory. ``decode`` picks how maps become coordinates (see decoding.py), so one
trained model can be scored both ways.

With few training images and a small σ, the peaks cover a thousandth of a map
and plain MSE has a wide plateau at the all-zero output: the network learns
to predict nothing, and the maxima of its flat maps land anywhere. The
remedies offered here (``loss``, ``amplitude``) change what is learned, and
:meth:`HeatmapCodec.flat_output` lets the core tell when a network collapsed.

* ``loss = "weighted-mse"``: MSE with the weight map of Wang et al. (ICCV 2019,
  section 4.2): pixels where the dilated target reaches a fifth of its peak
  count ``1 + 10`` times.
* ``loss = "adaptive-wing"``: the same weight map times the adaptive wing loss
  of that paper (α = 2.1, ω = 14, ε = 1, θ = 0.5 on maps scaled to a peak of
  1): nearly L1 on the background, steep near the peak.
* ``amplitude``: the target's peak value (1 by default); a larger one makes
  the peak outweigh the background in the MSE losses.
"""
from __future__ import annotations

import math
import numbers

from benchsuite import api
from benchsuite.api import PluginError, extent
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from . import decoding

torch = lazy_import("torch")
F = lazy_import("torch.nn.functional")


LOSSES = ("mse", "weighted-mse", "adaptive-wing")
FOREGROUND, FOREGROUND_WEIGHT = 0.2, 10.0  # Wang et al.'s weight map: threshold (of the peak) and extra weight
ALPHA, OMEGA, EPSILON, THETA = 2.1, 14.0, 1.0, 0.5  # Wang et al.'s adaptive wing parameters


def _valid(landmarks: torch.Tensor) -> torch.Tensor:
    """(B, N) mask of landmarks that are present (not NaN)."""
    return ~torch.isnan(landmarks).any(dim=-1)


def weight_map(target: torch.Tensor) -> torch.Tensor:
    """1 on the background, 1 + 10 where the target (peak 1), dilated by a 3×3 square, reaches 0.2."""
    foreground = F.max_pool2d((target >= FOREGROUND).float().flatten(0, 1).unsqueeze(1), 3, stride=1, padding=1)
    return 1 + FOREGROUND_WEIGHT * foreground.view_as(target)


def adaptive_wing(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel adaptive wing loss (Wang et al., ICCV 2019, eq. 6) of maps whose target peaks at 1."""
    error = (prediction - target).abs()
    power = ALPHA - target
    ratio = THETA / EPSILON
    slope = OMEGA / (1 + ratio**power) * power * ratio ** (power - 1) / EPSILON
    offset = THETA * slope - OMEGA * torch.log1p(ratio**power)
    return torch.where(error < THETA, OMEGA * torch.log1p((error / EPSILON) ** power), slope * error - offset)


class HeatmapCodec(api.Codec):
    """Shared by both shapes; a subclass gives the 1-D profile and the peak fit."""

    output = "heatmap"
    peak_fit: decoding.PeakFit

    takes_region = True

    def __init__(self, sigma: float, decode: str = "argmax", loss: str = "mse", amplitude: float = 1.0):
        for label, value in (("sigma", sigma), ("amplitude", amplitude)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise PluginError(f"codec {self.name}: {label} must be a positive number, got {value!r}")
        if decode not in decoding.DECODERS:
            raise PluginError(f"codec {self.name}: unknown decoding {decode!r} (known: {', '.join(decoding.DECODERS)})")
        if loss not in LOSSES:
            raise PluginError(f"codec {self.name}: unknown loss {loss!r} (known: {', '.join(LOSSES)})")
        self.sigma = float(sigma)
        self.decoding = decode
        self.loss_name = loss
        self.amplitude = float(amplitude)

    def profile(self, distance: torch.Tensor) -> torch.Tensor:
        """The target along one axis, as a function of the signed distance to the landmark."""
        raise NotImplementedError

    def out_channels(self, n_landmarks: int) -> int:
        return n_landmarks

    def encode(self, landmarks: torch.Tensor, size) -> torch.Tensor:
        """(B, N, 2) input-pixel coordinates to (B, N, height, width) heatmaps (0 where missing)."""
        width, height = extent(size)
        xs = torch.arange(width, device=landmarks.device, dtype=torch.float32)
        ys = torch.arange(height, device=landmarks.device, dtype=torch.float32)
        centre = torch.nan_to_num(landmarks.float(), nan=-1e6)
        across = self.profile(xs - centre[..., 0:1])  # (B, N, W): along x
        down = self.profile(ys - centre[..., 1:2])  # (B, N, H): along y
        return self.amplitude * down.unsqueeze(-1) * across.unsqueeze(-2)

    def loss(self, prediction: torch.Tensor, landmarks: torch.Tensor, size: int) -> torch.Tensor:
        """The chosen loss, averaged over the pixels of each map, over the maps of present landmarks only."""
        valid = _valid(landmarks)
        target = self.encode(landmarks, size)
        if self.loss_name == "mse":
            per_pixel = (prediction - target) ** 2
        elif self.loss_name == "weighted-mse":
            per_pixel = weight_map(target / self.amplitude) * (prediction - target) ** 2
        else:
            unit = target / self.amplitude
            per_pixel = weight_map(unit) * adaptive_wing(prediction / self.amplitude, unit)
        per_map = per_pixel.mean(dim=(-2, -1))
        return (per_map * valid).sum() / valid.sum().clamp(min=1)

    def decode(self, prediction: torch.Tensor, size: int, region: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, H, W) heatmaps to (B, N, 2) input-pixel coordinates, maxima inside ``region`` only."""
        return decoding.decode(prediction, self.decoding, self.peak_fit, region)

    def flat_output(self, prediction: torch.Tensor) -> torch.Tensor:
        """All-zero maps: what a network trained on small peaks collapses to."""
        return torch.zeros_like(prediction)

    def collapse_remedy(self) -> str:
        """The remedies this codec's settings do not use yet, then integral regression."""
        losses = " or ".join(f'loss = "{name}"' for name in ("adaptive-wing", "weighted-mse") if name != self.loss_name)
        wider = f"a wider target (sigma above {self.sigma:g})"
        louder = "" if self.amplitude > 1 else ", a larger amplitude"
        return f"try {losses}, {wider}{louder}, or the integral codec (soft-argmax, no all-zero plateau)"


class Gaussian(HeatmapCodec):
    name = "gaussian"
    description = ("Gaussian heatmap exp(-d²/2σ²) (σ=5), MSE loss; decode=argmax or dark (sub-pixel), "
                   "loss=mse, weighted-mse or adaptive-wing, amplitude")
    peak_fit = staticmethod(decoding.parabola_peak)

    def __init__(self, sigma: float = 5.0, decode: str = "argmax", loss: str = "mse", amplitude: float = 1.0):
        super().__init__(sigma, decode, loss, amplitude)

    def profile(self, distance):
        return torch.exp(-(distance**2) / (2 * self.sigma**2))


class Exponential(HeatmapCodec):
    name = "exponential"
    description = ("Exponential heatmap exp(-ln2/2σ·(|dx|+|dy|)) (σ=3), MSE loss; decode=argmax or dark (sub-pixel), "
                   "loss=mse, weighted-mse or adaptive-wing, amplitude")
    peak_fit = staticmethod(decoding.linear_peak)

    def __init__(self, sigma: float = 3.0, decode: str = "argmax", loss: str = "mse", amplitude: float = 1.0):
        super().__init__(sigma, decode, loss, amplitude)

    def profile(self, distance):
        return torch.exp(-math.log(2) / (2 * self.sigma) * distance.abs())


@hookimpl
def register_codecs(register):
    register(Gaussian)
    register(Exponential)
