"""A disk cache of decoded, converted and letterboxed images.

Decoding a 20-megapixel TIFF for a 64-pixel network input costs far more
than the training step that uses it, and every cell of a grid (and every
fold) needs the same inputs again. A dataset that offers
``image_key(sample_id)`` — a digest of the file's content — gets its inputs
cached here, keyed by that digest, the input size, the channels and this
module's format version: a changed file gets a new key, never a stale
array. Files live under ``$BENCHSUITE_CACHE`` (or ``~/.cache/benchsuite``),
in ``images/``; deleting the folder is always safe. ``BENCHSUITE_CACHE=off``
disables the cache.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchsuite.files import write_atomic
from benchsuite.train.geometry import extent

VERSION = 1  # bump when the conversion or the letterbox changes what is stored


def cache_root() -> Path | None:
    setting = os.environ.get("BENCHSUITE_CACHE", "")
    if setting.lower() in ("off", "0", "none", "false"):
        return None
    return Path(setting) if setting else Path.home() / ".cache" / "benchsuite"


class ImageCache:
    """Letterboxed uint8 arrays (size × size × channels) by content key."""

    def __init__(self, root: Path):
        self.folder = root / "images"

    @classmethod
    def for_dataset(cls, dataset) -> "ImageCache | None":
        """A cache when the dataset can key its images by content and caching is on."""
        root = cache_root()
        if root is None:
            return None
        return cls(root)

    def _path(self, key: str, size, channels: int) -> Path:
        width, height = extent(size)
        return self.folder / key[:2] / f"{key}-v{VERSION}-{width}x{height}px-{channels}c.npy"

    def get(self, key: str, size: int, channels: int) -> np.ndarray | None:
        path = self._path(key, size, channels)
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # absent, or unreadable (a crashed writer, a full disk): recompute
        width, height = extent(size)
        return array if array.shape == (height, width, channels) and array.dtype == np.uint8 else None

    def put(self, key: str, size: int, channels: int, array: np.ndarray) -> None:
        """Write atomically: concurrent cells may store the same image at once."""
        path = self._path(key, size, channels)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, lambda handle: np.save(handle, np.ascontiguousarray(array, dtype=np.uint8),
                                                      allow_pickle=False))
        except OSError:
            pass  # a cache that cannot write only costs time
