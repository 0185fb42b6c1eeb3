"""dlib's shape predictor, an ensemble of regression trees (Kazemi & Sullivan, CVPR 2014), the
classical method morphometrics labs use through ml-morph (Porto & Voje 2020).

It is codec-free: it learns from the original images and their landmarks, with no resizing and no
network. The search box is always the whole image, in training and in prediction, so nothing about
a test image's annotation reaches its prediction. dlib's Python trainer works on 8-bit grayscale:
colour images are converted as dlib converts them (the integer mean of R, G and B) and deeper images
are scaled to 8 bits by their own range. Training uses the threads the core gives; dlib sums in
per-thread blocks, so another number of threads can change a prediction by a pixel. dlib is optional
(``pip install 'benchsuite[classical]'``) and imported only when the method is used.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from benchsuite import api
from benchsuite.hookspecs import hookimpl
from benchsuite.toolkit import to_uint8

INSTALL_HINT = "dlib is not installed: pip install 'benchsuite[classical]'"
MODEL_FILE = "dlib-ert.dat"

# dlib's own defaults (shape_predictor_training_options() of dlib 20); a test checks them against dlib.
DLIB_DEFAULTS = {
    "cascade_depth": 10, "tree_depth": 4, "num_trees_per_cascade_level": 500, "nu": 0.1,
    "oversampling_amount": 20, "oversampling_translation_jitter": 0.0, "feature_pool_size": 400,
    "lambda_param": 0.1, "num_test_splits": 20, "feature_pool_region_padding": 0.0, "random_seed": "",
    "landmark_relative_padding_mode": True,
}
PRESETS = {
    "dlib": {},
    # ml-morph's options for its fly-wing example, from the README of https://github.com/agporto/ml-morph
    # (commit 802997fc28fae10444ade844f63b9f83e9f28e58, "Training and testing shape predictors"):
    # shape_trainer.py -dp 3 -c 20 -nu 0.08 -os 200 -f 700; its other options (500 trees, 20 split tests)
    # are dlib's defaults.
    "ml-morph": {"tree_depth": 3, "cascade_depth": 20, "nu": 0.08, "oversampling_amount": 200,
                 "feature_pool_size": 700},
    # what ml-morph's shape_trainer.py uses when given no options (its argparse defaults, same commit):
    # https://github.com/agporto/ml-morph/blob/802997fc28fae10444ade844f63b9f83e9f28e58/shape_trainer.py
    "ml-morph-defaults": {"cascade_depth": 15, "oversampling_amount": 10, "feature_pool_size": 500},
}
_PROBE_IMAGES, _PROBE_TREES = 128, (10, 30)  # fit_seconds' probes: 2–4 s for ml-morph's options on 50–100 images
# A missing landmark, as dlib 20 spells it (OBJECT_PART_NOT_PRESENT in dlib/image_processing/full_object_detection.h).
_NOT_PRESENT = 0x7FFFFFFFFFFFF


def _dlib():
    import dlib

    return dlib


class DlibErt(api.Method):
    """Parameters are dlib's ``shape_predictor_training_options`` fields; None takes the preset's value,
    or dlib's default. (None rather than the value itself, so that an explicit value equal to dlib's
    default still overrides the preset.)"""

    name = "dlib-ert"
    description = "Classical: dlib's ensemble of regression trees shape predictor (ml-morph), whole image as box"
    reads = frozenset()  # its own options and the images only: the protocol's training settings change nothing

    def __init__(self, preset: str = "dlib", cascade_depth: int | None = None, tree_depth: int | None = None,
                 num_trees_per_cascade_level: int | None = None, nu: float | None = None,
                 oversampling_amount: int | None = None, oversampling_translation_jitter: float | None = None,
                 feature_pool_size: int | None = None, lambda_param: float | None = None,
                 num_test_splits: int | None = None, feature_pool_region_padding: float | None = None,
                 random_seed: str | None = None, landmark_relative_padding_mode: bool | None = None,
                 downscale: float = 1.0):
        if preset not in PRESETS:
            raise api.PluginError(f"dlib-ert: unknown preset {preset!r} (presets: {', '.join(PRESETS)})")
        if isinstance(downscale, bool) or not isinstance(downscale, (int, float)) or not 0 < downscale <= 1:
            raise api.PluginError(f"dlib-ert: downscale must be in (0, 1], got {downscale!r}")
        self.downscale = float(downscale)
        given = {key: value for key, value in locals().items() if key in DLIB_DEFAULTS and value is not None}
        self.options = DLIB_DEFAULTS | PRESETS[preset] | given
        _check(self.options)
        self.predictor = None

    @classmethod
    def unavailable(cls) -> str | None:
        try:
            _dlib()
        except ImportError:
            return INSTALL_HINT
        return None

    def training_options(self, threads: int = 1):
        """The dlib options object these parameters stand for."""
        options = _dlib().shape_predictor_training_options()
        for key, value in self.options.items():
            setattr(options, key, value)
        options.num_threads = max(1, int(threads))
        return options

    def fit(self, samples, images, training):
        dlib = _dlib()
        pictures, objects = [], []
        for sample in samples:
            image, scale = self._image(images.load_image(sample.id))
            points = (np.asarray(sample.landmarks, dtype=np.float64) + 0.5) * scale - 0.5  # pixel centres kept
            parts = [dlib.point(_NOT_PRESENT, _NOT_PRESENT) if np.isnan(p).any() else dlib.point(*_nearest(p))
                     for p in points]
            pictures.append(image)
            objects.append([dlib.full_object_detection(_whole(dlib, image), parts)])
        self.predictor = dlib.train_shape_predictor(pictures, objects, self.training_options(training.threads))

    def fit_seconds(self, n_images, n_landmarks, threads=1):
        """Times one cascade level of 10 and of 30 trees with these options on as many random images as the
        fold has (up to 128, then scaled by images), and scales to the fold's trees and levels (every level
        costs the same). Measured on the real wings: 65.8 s estimated for a fit that took 50.8 s."""
        dlib = _dlib()
        rng = np.random.default_rng(0)
        n = max(1, min(n_images, _PROBE_IMAGES))
        images = [rng.integers(0, 256, (96, 96), dtype=np.uint8) for _ in range(n)]
        objects = [[dlib.full_object_detection(_whole(dlib, image), [dlib.point(int(x), int(y)) for x, y in
                                                                     rng.integers(8, 88, (n_landmarks, 2))])]
                   for image in images]
        options = self.training_options(threads)
        options.cascade_depth, options.num_trees_per_cascade_level = 1, 1
        dlib.train_shape_predictor(images[:1], objects[:1], options)  # dlib's first call starts its threads
        seconds = []
        for trees in _PROBE_TREES:
            options.num_trees_per_cascade_level = trees
            started = time.perf_counter()
            dlib.train_shape_predictor(images, objects, options)
            seconds.append(time.perf_counter() - started)
        (few, many), (short, long) = _PROBE_TREES, seconds
        per_tree = max(long - short, 0.0) / (many - few)
        per_level = max(short - few * per_tree, 0.0)
        level = per_level + self.options["num_trees_per_cascade_level"] * per_tree
        return self.options["cascade_depth"] * level * n_images / n

    def predict(self, sample_ids, images):
        if self.predictor is None:
            raise api.PluginError("dlib-ert: predict() before fit()")
        dlib = _dlib()
        predicted = []
        for sample_id in sample_ids:
            image, scale = self._image(images.load_image(sample_id))
            shape = self.predictor(image, _whole(dlib, image))
            points = np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float64)
            predicted.append((points + 0.5) / scale - 0.5)  # back to original pixels, exactly
        return np.asarray(predicted, dtype=np.float64)

    def _image(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The grayscale image dlib sees and its (x, y) scale against the original: large images (X-rays of
        2000 px) are downscaled by ``downscale`` with an antialiasing filter, which dlib learns from as well
        at a fraction of the time; predictions are then whole pixels of the smaller image."""
        gray = grayscale(image)
        if self.downscale == 1:
            return gray, np.ones(2)
        from PIL import Image

        height, width = gray.shape
        size = (max(1, round(width * self.downscale)), max(1, round(height * self.downscale)))
        small = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BOX))
        return np.ascontiguousarray(small), np.array([size[0] / width, size[1] / height])

    def save(self, folder: Path) -> None:
        """dlib's own serialisation (no pickle), written atomically."""
        if self.predictor is None:
            raise api.PluginError("dlib-ert: save() before fit()")
        target = Path(folder) / MODEL_FILE
        temporary = target.with_name(f".{MODEL_FILE}.{os.getpid()}.tmp")
        try:
            self.predictor.save(str(temporary))
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, params, training):
        method = cls(**params)
        path = Path(folder) / MODEL_FILE
        if not path.is_file():
            raise api.PluginError(f"{path}: no fitted dlib-ert model here")
        try:
            method.predictor = _dlib().shape_predictor(str(path))
        except RuntimeError as exc:
            raise api.PluginError(f"{path}: not a dlib shape predictor ({str(exc).strip().splitlines()[0]})") from None
        return method


def grayscale(image: np.ndarray) -> np.ndarray:
    """H×W uint8, C-contiguous: deeper images scaled by their own range, colour averaged as dlib does."""
    image = to_uint8(np.asarray(image))
    if image.ndim == 3 and image.shape[2] in (3, 4):
        image = (image[:, :, :3].astype(np.uint16).sum(axis=2) // 3).astype(np.uint8)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2:
        raise api.PluginError(f"dlib-ert: unsupported image shape {image.shape}")
    return np.ascontiguousarray(image)


def _whole(dlib, image: np.ndarray):
    """The search box: every pixel of the image (dlib's rectangles include their right and bottom edges)."""
    return dlib.rectangle(0, 0, image.shape[1] - 1, image.shape[0] - 1)


def _nearest(point: np.ndarray) -> tuple[int, int]:
    """dlib's Python interface takes whole pixels: the nearest pixel centre (the suite's and dlib's (0, 0) is the
    centre of the top-left pixel)."""
    return int(np.floor(point[0] + 0.5)), int(np.floor(point[1] + 0.5))


def _check(options: dict) -> None:
    """dlib's own requirements, checked before anything is trained."""
    for key in ("cascade_depth", "tree_depth", "num_trees_per_cascade_level", "oversampling_amount",
                "num_test_splits"):
        if options[key] < 1:
            raise api.PluginError(f"dlib-ert: {key} must be at least 1, got {options[key]}")
    if options["feature_pool_size"] < 2:
        raise api.PluginError(f"dlib-ert: feature_pool_size must be at least 2, got {options['feature_pool_size']}")
    if not 0 < options["nu"] <= 1:
        raise api.PluginError(f"dlib-ert: nu must be in (0, 1], got {options['nu']}")
    if options["lambda_param"] <= 0:
        raise api.PluginError(f"dlib-ert: lambda_param must be positive, got {options['lambda_param']}")
    if options["feature_pool_region_padding"] <= -0.5:
        raise api.PluginError(f"dlib-ert: feature_pool_region_padding must be above -0.5, "
                              f"got {options['feature_pool_region_padding']}")
    if options["oversampling_translation_jitter"] < 0:
        raise api.PluginError(f"dlib-ert: oversampling_translation_jitter must be at least 0, "
                              f"got {options['oversampling_translation_jitter']}")


@hookimpl
def register_methods(register):
    register(DlibErt)
