"""From heatmaps to coordinates: the maximum, optionally refined below a pixel.

Pixel centres sit at integer coordinates, so the argmax index *is* the
coordinate; its error is up to half a pixel. ``dark`` (distribution-aware,
after Zhang et al., CVPR 2020) refines it by fitting the target's own shape
to the log-heatmap at the maximum and its two neighbours along each axis:
both targets are separable, so their logarithm is an x-profile plus a
y-profile and each axis is refined on its own. For a Gaussian the profile is
a parabola (DARK's second-order Taylor step); for the Exponential it is a
symmetric linear peak. On a target heatmap both are exact.
"""
from __future__ import annotations

from typing import Callable

from benchsuite.lazy import lazy_import

torch = lazy_import("torch")

DECODERS = ("argmax", "dark")
_FLOOR = 1e-10  # heatmap values below this are treated as this before taking the log

# (left, centre, right) log-values -> offset of the peak from the centre sample
PeakFit = Callable[["torch.Tensor", "torch.Tensor", "torch.Tensor"], "torch.Tensor"]


def parabola_peak(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Vertex of the parabola through three log-values (exact for a Gaussian)."""
    curvature = 2 * centre - left - right
    return torch.where(curvature > 0, (right - left) / (2 * curvature).clamp(min=1e-12), torch.zeros_like(centre))


def linear_peak(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Apex of a symmetric |x|-shaped peak through three log-values (exact for an Exponential).

    The steeper side lies wholly on one side of the apex, so its drop is the slope.
    """
    slope = torch.maximum(centre - left, centre - right)
    return torch.where(slope > 0, (right - left) / (2 * slope).clamp(min=1e-12), torch.zeros_like(centre))


def argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, N, H, W) → (B, N, 2) integer (x, y) of each map's maximum, as a long tensor."""
    width = heatmaps.shape[-1]
    index = heatmaps.flatten(-2).argmax(dim=-1)
    return torch.stack((index % width, torch.div(index, width, rounding_mode="floor")), dim=-1)


def refine(heatmaps: torch.Tensor, peak: torch.Tensor, fit: PeakFit) -> torch.Tensor:
    """Sub-pixel (x, y) from the integer maxima ``peak``; an axis at the border keeps its integer value."""
    height, width = heatmaps.shape[-2:]
    logs = heatmaps.float().clamp(min=_FLOOR).log().flatten(-2)
    x, y = peak[..., 0], peak[..., 1]

    def at(xs, ys):
        return logs.gather(-1, (ys.clamp(0, height - 1) * width + xs.clamp(0, width - 1)).unsqueeze(-1)).squeeze(-1)

    centre = at(x, y)
    dx = fit(at(x - 1, y), centre, at(x + 1, y))
    dy = fit(at(x, y - 1), centre, at(x, y + 1))
    inside_x = (x > 0) & (x < width - 1)
    inside_y = (y > 0) & (y < height - 1)
    # the true maximum of a symmetric peak lies within half a pixel of the highest sample
    dx = torch.where(inside_x, dx.clamp(-0.5, 0.5), torch.zeros_like(dx))
    dy = torch.where(inside_y, dy.clamp(-0.5, 0.5), torch.zeros_like(dy))
    return peak.float() + torch.stack((dx, dy), dim=-1)


def decode(heatmaps: torch.Tensor, method: str, fit: PeakFit) -> torch.Tensor:
    """(B, N, H, W) heatmaps → (B, N, 2) float (x, y) in input pixels."""
    peak = argmax(heatmaps)
    if method == "argmax":
        return peak.float()
    if method == "dark":
        return refine(heatmaps, peak, fit)
    raise ValueError(f"unknown decoding {method!r}")
