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
