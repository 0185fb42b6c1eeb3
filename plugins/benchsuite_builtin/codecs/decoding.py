"""From heatmaps to coordinates: the maximum, optionally refined below a pixel, or the expectation.

Pixel centres sit at integer coordinates, so the argmax index *is* the
coordinate; its error is up to half a pixel. ``dark`` (distribution-aware,
after Zhang et al., CVPR 2020) refines it by fitting the target's own shape
to the log-heatmap at the maximum and its two neighbours along each axis:
both targets are separable, so their logarithm is an x-profile plus a
y-profile and each axis is refined on its own. For a Gaussian the profile is
a parabola (DARK's second-order Taylor step); for the Exponential it is a
symmetric linear peak. On a target heatmap both are exact. ``soft_argmax``
(integral regression, Sun et al., ECCV 2018) is the expected position under
the softmax of the map: differentiable, so a loss can be put on it.

Every decoder takes an optional ``region``: (B, 4) first and last pixel
(x0, y0, x1, y1) of the part of each input that shows the image. Pixels
outside it (the letterbox padding) are never chosen, a refinement never
reads across its edge, and an expectation is taken over it only.
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


def whole(heatmaps: torch.Tensor) -> torch.Tensor:
    """The region of inputs that are image everywhere: (B, 4) first and last pixel of each axis."""
    height, width = heatmaps.shape[-2:]
    return torch.tensor([0, 0, width - 1, height - 1], device=heatmaps.device).expand(heatmaps.shape[0], 4)


def outside(heatmaps: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) mask of the pixels outside each input's region."""
    height, width = heatmaps.shape[-2:]
    region = region.to(heatmaps.device).long()
    xs = torch.arange(width, device=heatmaps.device)
    ys = torch.arange(height, device=heatmaps.device)
    out_x = (xs < region[:, 0:1]) | (xs > region[:, 2:3])  # (B, W)
    out_y = (ys < region[:, 1:2]) | (ys > region[:, 3:4])  # (B, H)
    return (out_y.unsqueeze(-1) | out_x.unsqueeze(-2)).unsqueeze(1)


def argmax(heatmaps: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """(B, N, H, W) → (B, N, 2) integer (x, y) of each map's maximum inside the region, as a long tensor."""
    width = heatmaps.shape[-1]
    if region is not None:
        heatmaps = heatmaps.masked_fill(outside(heatmaps, region), -torch.inf)
    index = heatmaps.flatten(-2).argmax(dim=-1)
    return torch.stack((index % width, torch.div(index, width, rounding_mode="floor")), dim=-1)


def refine(heatmaps: torch.Tensor, peak: torch.Tensor, fit: PeakFit, region: torch.Tensor | None = None) -> torch.Tensor:
    """Sub-pixel (x, y) from the integer maxima ``peak``; an axis at the region's edge keeps its integer value."""
    height, width = heatmaps.shape[-2:]
    region = (whole(heatmaps) if region is None else region.to(heatmaps.device).long()).unsqueeze(1)  # (B, 1, 4)
    logs = heatmaps.float().clamp(min=_FLOOR).log().flatten(-2)
    x, y = peak[..., 0], peak[..., 1]

    def at(xs, ys):
        return logs.gather(-1, (ys.clamp(0, height - 1) * width + xs.clamp(0, width - 1)).unsqueeze(-1)).squeeze(-1)

    centre = at(x, y)
    dx = fit(at(x - 1, y), centre, at(x + 1, y))
    dy = fit(at(x, y - 1), centre, at(x, y + 1))
    inside_x = (x > region[..., 0]) & (x < region[..., 2])
    inside_y = (y > region[..., 1]) & (y < region[..., 3])
    # the true maximum of a symmetric peak lies within half a pixel of the highest sample
    dx = torch.where(inside_x, dx.clamp(-0.5, 0.5), torch.zeros_like(dx))
    dy = torch.where(inside_y, dy.clamp(-0.5, 0.5), torch.zeros_like(dy))
    return peak.float() + torch.stack((dx, dy), dim=-1)


def decode(heatmaps: torch.Tensor, method: str, fit: PeakFit, region: torch.Tensor | None = None) -> torch.Tensor:
    """(B, N, H, W) heatmaps → (B, N, 2) float (x, y) in input pixels."""
    peak = argmax(heatmaps, region)
    if method == "argmax":
        return peak.float()
    if method == "dark":
        return refine(heatmaps, peak, fit, region)
    raise ValueError(f"unknown decoding {method!r}")


def soft_argmax(logits: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """(B, N, H, W) logits → (B, N, 2) expected (x, y) under their spatial softmax, inside the region."""
    height, width = logits.shape[-2:]
    logits = logits.float()
    if region is not None:
        logits = logits.masked_fill(outside(logits, region), -torch.inf)
    return expectation(torch.softmax(logits.flatten(-2), dim=-1).unflatten(-1, (height, width)))


def expectation(probability: torch.Tensor) -> torch.Tensor:
    """(B, N, H, W) probability maps → (B, N, 2) expected (x, y), from the maps' two marginals."""
    height, width = probability.shape[-2:]
    xs = torch.arange(width, device=probability.device, dtype=probability.dtype)
    ys = torch.arange(height, device=probability.device, dtype=probability.dtype)
    return torch.stack(((probability.sum(-2) * xs).sum(-1), (probability.sum(-1) * ys).sum(-1)), dim=-1)
