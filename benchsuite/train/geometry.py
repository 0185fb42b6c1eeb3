"""Letterboxing: resize keeping the aspect ratio, pad to a square, and back.

Coordinates use the pixel-centre convention (the centre of the top-left
pixel is (0, 0)). Resampling maps the *edges* of the image onto each other,
so a point x goes to (x + 0.5) * scale - 0.5, plus the padding offset. The
same integer offset pads the image and shifts the landmarks, and the inverse
is the exact algebraic inverse: no rounding anywhere on the way back.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

from benchsuite.api import extent


def _round_half_up(value: float) -> int:
    return int(np.floor(value + 0.5))


@dataclass(frozen=True)
class Letterbox:
    width: int  # original image width
    height: int  # original image height
    size: int | tuple[int, int]  # the network input: a square's side, or (width, height)

    @cached_property
    def target(self) -> tuple[int, int]:
        return extent(self.size)

    @cached_property
    def resized(self) -> tuple[int, int]:
        """The image's size inside the input: as large as fits, aspect ratio kept."""
        scale = min(self.target[0] / self.width, self.target[1] / self.height)
        return (
            max(1, min(self.target[0], _round_half_up(self.width * scale))),
            max(1, min(self.target[1], _round_half_up(self.height * scale))),
        )

    @cached_property
    def scale(self) -> np.ndarray:
        """Per-axis scale actually applied (the rounded size over the original)."""
        return np.array([self.resized[0] / self.width, self.resized[1] / self.height])

    @cached_property
    def offset(self) -> np.ndarray:
        """Padding before the image on each axis, in input pixels."""
        return np.array([(self.target[0] - self.resized[0]) // 2, (self.target[1] - self.resized[1]) // 2])

    @cached_property
    def region(self) -> tuple[int, int, int, int]:
        """The input pixels that show the image: first and last (x, y), inclusive; the rest is padding."""
        x0, y0 = (int(v) for v in self.offset)
        return x0, y0, x0 + self.resized[0] - 1, y0 + self.resized[1] - 1

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Original pixel coordinates (..., 2) to network-input coordinates."""
        return (np.asarray(points, dtype=np.float64) + 0.5) * self.scale - 0.5 + self.offset

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Network-input coordinates (..., 2) back to original pixels."""
        return (np.asarray(points, dtype=np.float64) - self.offset + 0.5) / self.scale - 0.5

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Resize an H×W×C uint8 image and pad it (with zeros) to the input's height×width×C."""
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(f"image is {image.shape[1]}×{image.shape[0]}, expected {self.width}×{self.height}")
        out = np.zeros((self.target[1], self.target[0], image.shape[2]), dtype=np.uint8)
        x0, y0 = (int(v) for v in self.offset)
        w, h = self.resized
        for c in range(image.shape[2]):
            plane = Image.fromarray(image[:, :, c]).resize((w, h), Image.Resampling.BILINEAR)
            out[y0 : y0 + h, x0 : x0 + w, c] = np.asarray(plane)
        return out


@dataclass(frozen=True)
class Crop:
    """A square window of the original image around ``centre``, sampled every ``delta`` original pixels.

    Crop pixel u (pixel-centre convention) shows the original point
    ``centre + (u - (size - 1) / 2) * delta``: the crop's central point is the
    centre exactly, whatever its fraction, and the inverse is algebraic.
    Sampling is bilinear, after a Gaussian anti-aliasing blur of σ = (δ - 1)/2
    when δ > 1 (a blur keeps every centroid where it was); what lies outside
    the image is zero, and :attr:`region` tells which crop pixels are image.
    """

    centre: tuple[float, float]  # (x, y) in original pixels
    delta: float  # original pixels per crop pixel
    size: int  # the crop's side in pixels
    width: int  # original image width
    height: int  # original image height

    @cached_property
    def _half(self) -> float:
        return (self.size - 1) / 2

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Original pixel coordinates (..., 2) to crop coordinates."""
        return (np.asarray(points, dtype=np.float64) - np.asarray(self.centre)) / self.delta + self._half

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Crop coordinates (..., 2) back to original pixels."""
        return (np.asarray(points, dtype=np.float64) - self._half) * self.delta + np.asarray(self.centre)

    @cached_property
    def region(self) -> tuple[int, int, int, int]:
        """The crop pixels whose centres lie on the image: first and last (x, y), inclusive."""
        first = np.ceil(self.to_input(np.array([-0.5, -0.5])) - 1e-9)
        last = np.floor(self.to_input(np.array([self.width - 0.5, self.height - 0.5])) + 1e-9)
        x0, y0 = np.clip(first, 0, self.size - 1).astype(int)
        x1, y1 = np.clip(last, 0, self.size - 1).astype(int)
        return int(x0), int(y0), int(x1), int(y1)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Sample a (prefiltered, see :func:`antialias`) H×W×C image into a size×size×C crop of its dtype."""
        from scipy import ndimage

        if image.shape[:2] != (self.height, self.width):
            raise ValueError(f"image is {image.shape[1]}×{image.shape[0]}, expected {self.width}×{self.height}")
        u = np.arange(self.size, dtype=np.float64)
        xs = (u - self._half) * self.delta + self.centre[0]
        ys = (u - self._half) * self.delta + self.centre[1]
        # only the window the samples need, so a crop of a large image costs what the crop costs
        x0, x1 = (int(np.clip(v, 0, self.width - 1)) for v in (np.floor(xs[0]) - 1, np.ceil(xs[-1]) + 1))
        y0, y1 = (int(np.clip(v, 0, self.height - 1)) for v in (np.floor(ys[0]) - 1, np.ceil(ys[-1]) + 1))
        window = image[y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)
        rows, cols = np.meshgrid(ys - y0, xs - x0, indexing="ij")
        planes = [ndimage.map_coordinates(window[:, :, c], [rows, cols], order=1, mode="nearest")
                  for c in range(image.shape[2])]
        out = np.stack(planes, axis=-1)
        on_image = ((ys >= -0.5) & (ys <= self.height - 0.5))[:, None] & ((xs >= -0.5) & (xs <= self.width - 0.5))[None]
        out[~on_image] = 0
        if np.issubdtype(image.dtype, np.integer):
            info = np.iinfo(image.dtype)
            out = np.clip(np.round(out), info.min, info.max)
        return out.astype(image.dtype)


def antialias(image: np.ndarray, delta: float) -> np.ndarray:
    """The H×W×C image blurred for sampling every ``delta`` pixels (σ = (δ - 1)/2; unchanged at δ <= 1)."""
    from scipy import ndimage

    sigma = (delta - 1) / 2
    if sigma <= 0:
        return image
    blurred = ndimage.gaussian_filter(image.astype(np.float32), sigma=(sigma, sigma, 0))
    return np.clip(np.round(blurred), 0, 255).astype(image.dtype) if image.dtype == np.uint8 else blurred.astype(image.dtype)
