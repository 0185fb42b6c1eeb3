"""Reading image files into arrays the core can convert, whatever their mode.

Pillow decodes PNG, JPEG, BMP and TIFF. Its modes are mapped explicitly:
palette and bilevel images are expanded, CMYK/YCbCr/LAB become RGB, a grey
image with alpha loses the alpha, and 16- or 32-bit grayscale stays deep, so
that the core (``benchsuite.train.images.to_uint8``) scales it to 0–255 by its own
range instead of clipping it. EXIF orientation is *not* applied: landmark
tools annotate the stored pixel grid.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchsuite.api import PluginError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_TO_RGB = {"CMYK", "YCbCr", "LAB", "HSV", "RGBX"}
_ORIENTATION = 0x0112  # the EXIF tag
_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header only: cheap enough for every sample."""
    try:
        with Image.open(path) as image:
            return image.size
    except _READ_ERRORS as exc:
        raise PluginError(f"{path}: not a readable image ({_reason(exc)})") from None


def exif_orientation(path: Path) -> int:
    """The EXIF orientation tag (1 = as stored), for tools that rotate images by it (LabelMe does)."""
    try:
        with Image.open(path) as image:
            return int(image.getexif().get(_ORIENTATION, 1) or 1)
    except _READ_ERRORS as exc:
        raise PluginError(f"{path}: not a readable image ({_reason(exc)})") from None


def read_image(path: Path) -> np.ndarray:
    """H×W (uint8/uint16/int32/float32), H×W×3 or H×W×4 uint8 pixels of the first page."""
    try:
        with Image.open(path) as image:
            image.load()
            return _pixels(image)
    except _READ_ERRORS as exc:
        raise PluginError(f"{path}: cannot decode image ({_reason(exc)})") from None


def page_count(path: Path) -> int:
    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1)
    except _READ_ERRORS:
        return 1


def _pixels(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode in ("1", "LA", "La"):
        image = image.convert("L")
    elif mode in _TO_RGB:
        image = image.convert("RGB")
    elif mode == "RGBa":
        image = image.convert("RGBA")
    array = np.asarray(image)
    if array.dtype.byteorder not in ("=", "|"):  # big-endian 16-bit TIFF/PNG: make it native
        array = array.astype(array.dtype.newbyteorder("="))
    if array.ndim not in (2, 3):
        raise ValueError(f"image mode {mode} gives an array of shape {array.shape}")
    return array


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
