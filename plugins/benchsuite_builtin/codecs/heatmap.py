"""Heatmap codecs: each landmark becomes a peak-1 map at input resolution.

Gaussian F_G = exp(-((x-μx)² + (y-μy)²) / 2σ²) and Exponential
F_E = exp(-ln2/(2σ) · (|x-μx| + |y-μy|)), the fish paper's two targets
(section 4.2; its best σ: 5 and 3). Both are separable, so a target is a row
profile times a column profile, computed on the training device from the
unrounded landmark coordinates: no per-pixel loop, no full-size target in host
memory. ``decode`` picks how maps become coordinates (see decoding.py), so one
trained model can be scored both ways.
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


def _valid(landmarks: torch.Tensor) -> torch.Tensor:
    """(B, N) mask of landmarks that are present (not NaN)."""
    return ~torch.isnan(landmarks).any(dim=-1)


class HeatmapCodec(api.Codec):
    """Shared by both shapes; a subclass gives the 1-D profile and the peak fit."""

    output = "heatmap"
    peak_fit: decoding.PeakFit

    def __init__(self, sigma: float, decode: str = "argmax"):
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not sigma > 0:
            raise PluginError(f"codec {self.name}: sigma must be a positive number, got {sigma!r}")
        if decode not in decoding.DECODERS:
            raise PluginError(f"codec {self.name}: unknown decoding {decode!r} (known: {', '.join(decoding.DECODERS)})")
        self.sigma = float(sigma)
        self.decoding = decode

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
        return down.unsqueeze(-1) * across.unsqueeze(-2)

    def loss(self, prediction: torch.Tensor, landmarks: torch.Tensor, size: int) -> torch.Tensor:
        """MSE over the maps of present landmarks only."""
        valid = _valid(landmarks)
        per_map = ((prediction - self.encode(landmarks, size)) ** 2).mean(dim=(-2, -1))
        return (per_map * valid).sum() / valid.sum().clamp(min=1)

    def decode(self, prediction: torch.Tensor, size: int) -> torch.Tensor:
        """(B, N, H, W) heatmaps to (B, N, 2) input-pixel coordinates."""
        return decoding.decode(prediction, self.decoding, self.peak_fit)


class Gaussian(HeatmapCodec):
    name = "gaussian"
    description = "Gaussian heatmap exp(-d²/2σ²) (σ=5), MSE loss; decode=argmax or dark (sub-pixel)"
    peak_fit = staticmethod(decoding.parabola_peak)

    def __init__(self, sigma: float = 5.0, decode: str = "argmax"):
        super().__init__(sigma, decode)

    def profile(self, distance):
        return torch.exp(-(distance**2) / (2 * self.sigma**2))


class Exponential(HeatmapCodec):
    name = "exponential"
    description = "Exponential heatmap exp(-ln2/2σ·(|dx|+|dy|)) (σ=3), MSE loss; decode=argmax or dark (sub-pixel)"
    peak_fit = staticmethod(decoding.linear_peak)

    def __init__(self, sigma: float = 3.0, decode: str = "argmax"):
        super().__init__(sigma, decode)

    def profile(self, distance):
        return torch.exp(-math.log(2) / (2 * self.sigma) * distance.abs())


@hookimpl
def register_codecs(register):
    register(Gaussian)
    register(Exponential)
