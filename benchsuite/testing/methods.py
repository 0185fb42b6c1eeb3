"""``check_method``: a method fitted, asked and kept the way a cell and a model folder do it."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchsuite import api
from benchsuite.testing.subject import Subject, check_cell_id, start
from benchsuite.testing.tiny import N_LANDMARKS, TinyDataset, training_protocol


def check_method(cls: type, *, fresh_process: bool = True, **params: Any) -> list[str]:
    """The contract (``reads`` names protocol settings only), fit on six tiny images through the core's own
    fitting (two named as validation for a method with ``uses_validation``), the facts it returns, finite
    (n, K, 2) predictions in original pixels, ``validation_points``, the fit estimate, a save/load round trip
    predicting the same points, and a stable cell id on the grid's architectures axis."""
    from benchsuite.train import methods

    subject, _, method = start("methods", cls, params)
    if method is None:
        return subject.notes
    data = TinyDataset()
    samples = data.samples()
    train, val, test = samples[:4], samples[4:6], samples[6:]
    images = api.Images.of(data, samples)
    protocol = training_protocol()
    with subject.calling("fit()"):
        facts = method.fit(train + val, images, methods.training(protocol, val if cls.uses_validation else []))
    subject.expect(facts is None or isinstance(facts, dict), "fit()",
                   f"must return None or a dict of facts for the cell's record, got {type(facts).__name__}")
    ids = [s.id for s in test]
    with subject.calling("predict()"):
        predicted = np.asarray(method.predict(ids, images), dtype=np.float64)
    subject.expect(predicted.shape == (len(ids), N_LANDMARKS, 2) and np.isfinite(predicted).all(), "predict()",
                   f"expected finite points of shape ({len(ids)}, {N_LANDMARKS}, 2) in original pixels, got "
                   f"{predicted.shape}")
    with subject.calling("validation_points()"):
        kept = method.validation_points()
    subject.expect(kept is None or np.shape(kept) == (len(val), N_LANDMARKS, 2), "validation_points()",
                   f"expected None or the validation part's ({len(val)}, {N_LANDMARKS}, 2) points, got "
                   f"{np.shape(kept)}")
    with subject.calling("fit_seconds()"):
        seconds = method.fit_seconds(6, N_LANDMARKS, threads=1)
    subject.expect(seconds is None or (isinstance(seconds, (int, float)) and 0 <= seconds < float("inf")),
                   "fit_seconds()", f"expected None or a finite number of seconds ≥ 0, got {seconds!r}")
    _check_kept(subject, cls, method, params, ids, images, predicted, protocol)
    check_cell_id(subject, params, fresh_process)
    return subject.notes


def _check_kept(subject: Subject, cls: type, method, params, ids, images, predicted, protocol) -> None:
    """save() into an empty folder, load() with the same parameters: the same predictions."""
    from benchsuite.train import methods

    if cls.save is api.Method.save:
        subject.notes.append("save()/load() not implemented (optional): a fitted method cannot be kept")
        return
    subject.expect(cls.load.__func__ is not api.Method.load.__func__, "load()", "save() is implemented but load() "
                                                                              "is not")
    with tempfile.TemporaryDirectory() as folder, subject.calling("save()/load()"):
        method.save(Path(folder))
        loaded = cls.load(Path(folder), params, methods.training(protocol))
        again = np.asarray(loaded.predict(ids, images), dtype=np.float64)
    subject.expect(np.allclose(again, predicted), "load()", "the loaded method predicts other points than the saved")
