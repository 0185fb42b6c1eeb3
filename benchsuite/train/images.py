"""Explicit conversion of any loaded image to the network's channels, as uint8."""
from __future__ import annotations

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, what PIL's "L" mode uses


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale deeper images to 0–255 by their own range (never clip)."""
    if image.dtype == np.uint8:
        return image
    data = image.astype(np.float64)
    low, high = np.nanmin(data), np.nanmax(data)
    if high <= low:
        return np.zeros(image.shape, dtype=np.uint8)
    return np.round((data - low) * (255.0 / (high - low))).astype(np.uint8)


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """H×W, H×W×1, H×W×3 or H×W×4 (alpha dropped) to H×W×channels uint8."""
    image = to_uint8(np.asarray(image))
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"unsupported image shape {image.shape}")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if image.shape[2] == channels:
        return image
    if channels == 3:
        return np.repeat(image, 3, axis=2)
    if channels == 1:
        return np.round(image.astype(np.float64) @ _LUMA).astype(np.uint8)[:, :, None]
    raise ValueError(f"cannot convert to {channels} channels")
