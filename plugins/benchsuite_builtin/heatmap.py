"""Heatmap codecs: each landmark becomes a peak-1 map at input resolution.

Targets are computed on the training device from the (unrounded) landmark
coordinates, separably: a row profile times a column profile, no per-pixel
loop and no full-size target kept in host memory. Pixel centres sit at
integer coordinates, so the argmax index *is* the coordinate.
"""
from __future__ import annotations

import torch

from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl

DECODERS = ("argmax",)


def _valid(landmarks: torch.Tensor) -> torch.Tensor:
    """(B, N) mask of landmarks that are present (not NaN)."""
    return ~torch.isnan(landmarks).any(dim=-1)


class Gaussian:
    name = "gaussian"
    description = "Gaussian heatmap exp(-d²/2σ²), MSE loss, argmax decoding"
    output = "heatmap"

    def __init__(self, sigma: float = 5.0, decode: str = "argmax"):
        if sigma <= 0:
            raise PluginError(f"codec gaussian: sigma must be positive, got {sigma}")
        if decode not in DECODERS:
            raise PluginError(f"codec gaussian: unknown decoding {decode!r} (known: {', '.join(DECODERS)})")
        self.sigma = float(sigma)
        self.decoding = decode

    def out_channels(self, n_landmarks: int) -> int:
        return n_landmarks

    def encode(self, landmarks: torch.Tensor, size: int) -> torch.Tensor:
        """(B, N, 2) input-pixel coordinates to (B, N, size, size) heatmaps (0 where missing)."""
        axis = torch.arange(size, device=landmarks.device, dtype=torch.float32)
        centre = torch.nan_to_num(landmarks.float(), nan=-1e6)
        gx = torch.exp(-((axis - centre[..., 0:1]) ** 2) / (2 * self.sigma**2))  # (B, N, S)
        gy = torch.exp(-((axis - centre[..., 1:2]) ** 2) / (2 * self.sigma**2))
        return gy.unsqueeze(-1) * gx.unsqueeze(-2)

    def loss(self, prediction: torch.Tensor, landmarks: torch.Tensor, size: int) -> torch.Tensor:
        """MSE over the maps of present landmarks only."""
        valid = _valid(landmarks)
        per_map = ((prediction - self.encode(landmarks, size)) ** 2).mean(dim=(-2, -1))
        return (per_map * valid).sum() / valid.sum().clamp(min=1)

    def decode(self, prediction: torch.Tensor, size: int) -> torch.Tensor:
        """(B, N, H, W) heatmaps to (B, N, 2) coordinates of each map's maximum."""
        batch, n, height, width = prediction.shape
        index = prediction.reshape(batch, n, -1).argmax(dim=-1)
        return torch.stack(((index % width).float(), torch.div(index, width, rounding_mode="floor").float()), dim=-1)


@hookimpl
def register_codecs(register):
    register(Gaussian)
