"""On the synthetic data at the smoke size, sub-pixel (dark) decoding of one trained
model's heatmaps beats the paper's argmax decoding.

Each case trains a smoke-grid cell (minutes on a CPU), so it runs only when
asked for: BENCHSUITE_EXPERIMENTS=1 pytest tests/test_subpixel.py -s
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from benchsuite.run import runner
from benchsuite.run.cells import Component
from benchsuite.run.grid import expand, load_spec
from benchsuite.train import loop

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.environ.get("BENCHSUITE_EXPERIMENTS"),
                                                   reason="trains a model for minutes; set BENCHSUITE_EXPERIMENTS=1")]


def _radial_error(predicted: np.ndarray, samples) -> float:
    truth = np.stack([s.landmarks for s in samples])
    return float(np.hypot(*(predicted - truth).transpose(2, 0, 1)).mean())


@pytest.mark.parametrize("codec", [None, Component("exponential", {"sigma": 3.0})], ids=["smoke-gaussian", "exponential"])
def test_dark_decoding_beats_argmax_on_the_same_trained_model(registry, monkeypatch, codec):
    grid = expand(load_spec("smoke"), registry, {"architectures": "smp-*", "codecs": "gaussian*"})
    cell = next(c for c in grid.cells if c.fold == 0)
    cell = dataclasses.replace(cell, codec=codec or cell.codec)
    errors = {}
    predict = loop.predict

    def both_ways(model, codec, data, protocol):
        for decode in ("argmax", "dark"):
            decoder = type(codec)(sigma=codec.sigma, decode=decode)
            errors[decode] = _radial_error(predict(model, decoder, data, protocol), data.samples)
        return predict(model, codec, data, protocol)

    monkeypatch.setattr(loop, "predict", both_ways)
    runner.compute_cell(cell, registry)
    print(f"\n{cell.describe()}: mean radial error in original pixels, "
          f"argmax {errors['argmax']:.3f}, dark {errors['dark']:.3f}")
    assert errors["dark"] < errors["argmax"], errors
