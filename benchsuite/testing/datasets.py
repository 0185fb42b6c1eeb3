"""``check_dataset``: samples, images and the declared capabilities of a dataset class."""
from __future__ import annotations

import math
import numbers
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchsuite import api
from benchsuite.api import Sample
from benchsuite.testing.subject import Subject, check_cell_id, params_text, start


def check_dataset(cls: type, *, fresh_process: bool = True, **params: Any) -> list[str]:
    """Landmark names, samples (shapes, NaN only as missing, sizes), images of the size the samples say,
    determinism, optional members and declared capabilities, the cell id."""
    subject, _, dataset = start("datasets", cls, params)
    if dataset is None:
        return subject.notes
    names = _landmark_names(subject, dataset)
    with subject.calling("samples()"):
        samples = dataset.samples()
    subject.expect(isinstance(samples, list) and samples, "samples()", f"must return a non-empty list, got "
                                                                       f"{type(samples).__name__}")
    for sample in samples:
        _check_sample(subject, sample, len(names))
    ids = [s.id for s in samples]
    subject.expect(len(set(ids)) == len(ids), "samples()", "sample ids are not unique (folds are drawn by id)")
    with subject.calling("samples()"):
        again = dataset.samples()
    subject.expect(_same_samples(samples, again), "samples()", "a second call gave other samples: folds must "
                                                               "depend only on the data")
    for sample in samples[:3]:
        _check_image(subject, dataset, sample)
    _check_optional_dataset_members(subject, dataset, names)
    _check_dataset_capabilities(subject, dataset, names, samples[:3])
    check_cell_id(subject, params, fresh_process)
    return subject.notes


def _landmark_names(subject: Subject, dataset) -> list[str]:
    with subject.calling("landmark_names"):
        names = dataset.landmark_names
    subject.expect(isinstance(names, (list, tuple)) and names and all(isinstance(n, str) and n for n in names),
                   "landmark_names", f"must be a non-empty list of names, got {names!r}")
    subject.expect(len(set(names)) == len(names), "landmark_names", f"names repeat: {names}")
    return list(names)


def _check_sample(subject: Subject, sample: Any, n_landmarks: int) -> None:
    where = f"samples() {getattr(sample, 'id', sample)!r}"
    subject.expect(isinstance(sample, Sample), where, f"must be a benchsuite.api.Sample, got {type(sample).__name__}")
    subject.expect(isinstance(sample.id, str) and sample.id, where, "id must be a non-empty str")
    points = sample.landmarks
    subject.expect(isinstance(points, np.ndarray) and points.shape == (n_landmarks, 2)
                   and np.issubdtype(points.dtype, np.floating), where,
                   f"landmarks must be a float array of shape ({n_landmarks}, 2), got "
                   f"{getattr(points, 'dtype', type(points).__name__)} {getattr(points, 'shape', '')}")
    nan = np.isnan(points)
    subject.expect((nan[:, 0] == nan[:, 1]).all(), where, "a landmark has one coordinate NaN and not the other "
                                                          "(NaN means missing: both or neither)")
    subject.expect(np.isfinite(points[~nan]).all(), where, "landmarks must be finite or NaN (missing)")
    size = sample.size
    subject.expect(isinstance(size, tuple) and len(size) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in size), where,
        f"size must be (width, height) in positive ints, got {size!r}")
    subject.expect(sample.group is None or isinstance(sample.group, str), where,
                   f"group must be None or a str, got {sample.group!r}")


def _same_samples(first: list[Sample], second: list[Sample]) -> bool:
    if [s.id for s in first] != [s.id for s in second]:
        return False
    return all(np.array_equal(a.landmarks, b.landmarks, equal_nan=True) and a.size == b.size
               for a, b in zip(first, second))


def _check_image(subject: Subject, dataset, sample: Sample) -> None:
    member = f"load_image({sample.id!r})"
    with subject.calling(member):
        image = dataset.load_image(sample.id)
    subject.expect(isinstance(image, np.ndarray) and image.dtype in (np.uint8, np.uint16), member,
                   f"must return a uint8 or uint16 array, got {getattr(image, 'dtype', type(image).__name__)}")
    subject.expect(image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4)), member,
                   f"must be H×W or H×W×C with 1, 3 or 4 channels, got shape {image.shape}")
    width, height = sample.size
    subject.expect(image.shape[:2] == (height, width), member, f"image is {image.shape[1]}×{image.shape[0]} but "
                                                               f"the sample says {width}×{height}")
    with subject.calling(f"image_key({sample.id!r})"):
        keys = [dataset.image_key(sample.id) for _ in range(2)]
    subject.expect(keys[0] is None or (isinstance(keys[0], str) and keys[0] and keys[0] == keys[1]),
                   f"image_key({sample.id!r})", f"must be None or the same non-empty str each time, got {keys}")


def _check_optional_dataset_members(subject: Subject, dataset, names: list[str]) -> None:
    with subject.calling("pixel_size_mm"):
        pixel = dataset.pixel_size_mm
    subject.expect(pixel is None or (isinstance(pixel, numbers.Real) and math.isfinite(pixel) and pixel > 0),
                   "pixel_size_mm", f"must be None or a positive number, got {pixel!r}")
    with subject.calling("flip_pairs"):
        pairs = dataset.flip_pairs
    subject.expect(pairs is None or all(len(p) == 2 and set(p) <= set(names) for p in pairs), "flip_pairs",
                   f"must be None or pairs of landmark names, got {pairs!r}")
    with subject.calling("check()"):
        report = dataset.check()
    subject.expect(isinstance(report, api.CheckReport) and list(report.landmark_names) == names, "check()",
                   "must return a CheckReport with the dataset's landmark names")
    with subject.calling("human_error()"):
        error = dataset.human_error()
    subject.expect(error is None or (isinstance(error, numbers.Real) and math.isfinite(error) and error >= 0),
                   "human_error()", f"must be None or a non-negative number of pixels, got {error!r}")


def _check_dataset_capabilities(subject: Subject, dataset, names: list[str], samples: list[Sample]) -> None:
    cls = subject.cls
    from benchsuite.plugins import signature_defaults

    parameters = signature_defaults(cls)
    if cls.opens_folders:
        subject.expect("path" in parameters, "opens_folders", "is declared but __init__ takes no 'path'")
    if cls.synthetic:
        wanted = {"n_images": 3, "n_landmarks": 2, "min_size": 32, "max_size": 40, "channels": 1}
        subject.expect(set(wanted) <= set(parameters), "synthetic", f"is declared but __init__ does not take "
                                                                    f"{sorted(set(wanted) - set(parameters))}")
        with subject.calling(f"__init__({params_text(wanted)})"):
            small = cls(**wanted)
            made = small.samples()
            image = small.load_image(made[0].id)
        subject.expect(len(made) == 3 and made[0].landmarks.shape == (2, 2), "synthetic",
                       "n_images=3, n_landmarks=2 did not give 3 samples of 2 landmarks")
        subject.expect(all(32 <= side <= 40 for s in made for side in s.size), "synthetic",
                       f"sizes {[s.size for s in made]} are outside min_size=32..max_size=40")
        subject.expect(image.ndim == 2 or image.shape[2] == 1, "synthetic", "channels=1 did not give a gray image")
    if cls.writes:
        _check_writes(subject, dataset, names, samples)


def _check_writes(subject: Subject, dataset, names: list[str], samples: list[Sample]) -> None:
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        images = {}
        for index, sample in enumerate(samples):  # by position: an id may hold '/' or '..', never a path here
            images[sample.id] = folder / "images" / f"{index}.png"
            Image.fromarray(dataset.load_image(sample.id)).save(images[sample.id])
        for format in subject.cls.writes:
            target = folder / f"out-{format}"
            target.mkdir()
            with subject.calling(f"write_landmarks({format!r})"):
                written = subject.cls.write_landmarks(format, samples, names, target, images)
            subject.expect(written and all(Path(p).is_file() and Path(p).resolve().is_relative_to(target.resolve())
                                           for p in written), f"write_landmarks({format!r})",
                           f"must return the files it wrote inside the folder it was given, got {written!r}")
