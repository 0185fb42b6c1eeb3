"""The mean-shape baseline (Table 1 of the fish paper): every test image gets
the mean position of each landmark over the training images, in original
pixels. Any method worth reporting must beat it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchsuite import api
from benchsuite.hookspecs import hookimpl


class MeanShape(api.Method):
    name = "mean-shape"
    description = "Baseline: predicts each landmark's mean position over the training images"
    reads = frozenset()  # an average of the training coordinates: no setting of the protocol changes it
    baseline = True

    def __init__(self):
        self.mean: np.ndarray | None = None

    def fit(self, samples, images, training):
        self.mean = np.nanmean(np.stack([s.landmarks for s in samples]), axis=0)

    def fit_seconds(self, n_images, n_landmarks, threads=1):
        return 0.0  # an average of coordinates: no image is read

    def predict(self, sample_ids, images):
        if self.mean is None:
            raise api.PluginError("mean-shape: predict() before fit()")
        return np.broadcast_to(self.mean, (len(sample_ids), *self.mean.shape)).copy()

    def save(self, folder: Path) -> None:
        (Path(folder) / "mean-shape.json").write_text(json.dumps({"mean": self.mean.tolist()}))

    @classmethod
    def load(cls, folder: Path, params, training):
        method = cls(**params)
        method.mean = np.array(json.loads((Path(folder) / "mean-shape.json").read_text())["mean"], dtype=float)
        return method


@hookimpl
def register_methods(register):
    register(MeanShape)
