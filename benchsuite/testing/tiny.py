"""Tiny inputs the checks run plugins on: a dataset, a training protocol, a predictions table."""
from __future__ import annotations

import numpy as np

from benchsuite import api
from benchsuite.api import Sample
from benchsuite.protocol import load_protocol

INPUT = (64, 32)  # the network input (width, height): rectangular, as le2018; a stride-32 network still fits
N_LANDMARKS = 3


class TinyDataset(api.Dataset):
    """Eight small RGB images with three landmarks drawn as bright dots; one landmark missing. Never registered:
    the checks train and fit on it."""

    name = "kit-tiny"
    description = "benchsuite.testing's tiny dataset"
    SIZES = ((48, 40), (40, 52), (56, 36), (44, 44), (50, 38), (36, 48), (60, 42), (42, 46))

    def __init__(self):
        self.landmark_names = ["tip", "eye", "fin"][:N_LANDMARKS]
        rng = np.random.default_rng(0)
        self._samples = []
        for i, (width, height) in enumerate(self.SIZES):
            points = rng.uniform((2, 2), (width - 3, height - 3), size=(N_LANDMARKS, 2))
            if i == 0:
                points[-1] = np.nan  # missing landmarks are normal input
            self._samples.append(Sample(f"tiny{i}", points, (width, height)))

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def load_image(self, sample_id: str) -> np.ndarray:
        sample = next(s for s in self._samples if s.id == sample_id)
        width, height = sample.size
        image = np.random.default_rng(len(sample_id) + width).integers(0, 60, (height, width, 3), dtype=np.uint8)
        for x, y in np.round(sample.landmarks[~np.isnan(sample.landmarks).any(axis=1)]).astype(int):
            image[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 255
        return image


def training_protocol():
    """One epoch of one batch of two images at :data:`INPUT`, grayscale (the smoke protocol's channels)."""
    return load_protocol("smoke", {"input_size": list(INPUT), "epochs": 1, "batch_size": 2, "patience": 1})


def predictions(perfect: bool):
    """The predictions table the core hands a metric (see :class:`benchsuite.api.Metric`): 4 images × 3
    landmarks, one truth missing, with the context columns."""
    import pandas as pd

    rng = np.random.default_rng(1)
    images, names = [f"img{i}" for i in range(4)], ["tip", "eye", "fin"]
    truth = rng.uniform(10, 90, size=(len(images) * len(names), 2))
    truth[4] = np.nan
    error = rng.normal(0, 4, size=truth.shape) * np.linspace(0.5, 3, len(truth))[:, None]
    predicted = np.nan_to_num(truth, nan=50.0) + (0 if perfect else error)
    return pd.DataFrame({
        "image_id": np.repeat(images, len(names)), "landmark": np.tile(names, len(images)),
        "x": truth[:, 0], "y": truth[:, 1], "pred_x": predicted[:, 0], "pred_y": predicted[:, 1],
        "width": 100, "height": 100, "delta": 100 / 64, "pixel_size_mm": 0.1})
