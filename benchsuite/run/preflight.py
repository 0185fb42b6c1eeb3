"""What a run refuses, found before it writes anything; a dry run reports the very same list.

One place checks the run name and folder, the executor and its options, the checkpoint interval, every
method's, encoder's and codec's parameters, the settings against this machine's memory, and each dataset
(readable, enough images for the folds, no damaged image file, no landmark far outside its image, no
prediction of this suite's that nobody proofread). ``benchsuite run`` refuses on the first problem;
``benchsuite run --dry-run`` prints them all, so a dry run that passes is a run that starts. Datasets whose
files are simply not there yet are listed apart: a dry run of a paper's design still shows its cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchsuite.api import DatasetMissing, Executor, PluginError, extent, trains_networks
from benchsuite.plugins import Registry
from benchsuite.run.environment import memory_bytes
from benchsuite.splits import training_images

FAR_OUTSIDE = 1.0  # a landmark more than one image size beyond the image's edges is not a point of it
TAIL_BYTES = 4096  # how much of an image file's end is read to see that the file is whole


@dataclass
class Preflight:
    """What a launch would do and everything that stops it."""

    folder: Path | None = None  # the run folder it writes (None: the name or the results folder is refused)
    executor: Executor | None = None
    problems: list[str] = field(default_factory=list)  # each one refuses the run
    missing: dict[str, str] = field(default_factory=dict)  # dataset label -> where to put its files
    notes: list[str] = field(default_factory=list)  # said, not refused

    def refusal(self) -> str | None:
        """The run's one-line refusal, or None when it may start."""
        reasons = self.problems + list(self.missing.values())
        if not reasons:
            return None
        return reasons[0] + (f" (and {len(reasons) - 1} more; benchsuite run --dry-run lists them)"
                             if len(reasons) > 1 else "")


def attempt(problems: list[str], check, *args, **kwargs):
    """``check(*args)``'s value, or None with its one-line refusal added to ``problems``."""
    try:
        return check(*args, **kwargs)
    except PluginError as exc:
        problems.append(str(exc))
        return None


def component_problems(cells, registry: Registry) -> list[str]:
    """Each distinct method, encoder and codec of the cells built from its parameters once (cheap: nothing
    is trained or loaded), so that a parameter out of range (``tree_depth = -3``) is refused before the run."""
    problems: list[str] = []
    seen = set()
    for cell in cells:
        kind = registry.method_kind(cell.architecture.name)
        for kind, component in ((kind, cell.architecture), ("encoders", cell.encoder), ("codecs", cell.codec)):
            if component is None or (kind, repr(component.as_dict())) in seen:
                continue
            seen.add((kind, repr(component.as_dict())))
            attempt(problems, registry.create, kind, component.name, component.plugin_params)
    return list(dict.fromkeys(problems))


def settings_problems(cells, registry: Registry, sizes: dict[str, int], memory: int | None = None) -> tuple[
        list[str], list[str]]:
    """(problems, notes) of the protocol settings against this machine: an input so large that the images
    letterboxed to it and one batch alone (a lower bound: no activation, no weight) exceed its memory is
    refused (every method's cells decode their images at the input size, the codec-free ones to check them);
    a network's batch larger than a fold's training images is said (each epoch is then one step)."""
    memory = memory_bytes() if memory is None else memory
    problems, notes = [], []
    for cell in (c for c in cells if c.dataset.label in sizes):  # a dataset not read (not there) is said apart
        protocol, images = cell.protocol, sizes[cell.dataset.label]
        width, height = extent(protocol.input_size)
        train = training_images(images, protocol.folds, protocol.val_fraction)
        pixels = width * height * protocol.channels
        needed = images * pixels + 2 * 4 * min(protocol.batch_size, train) * pixels  # uint8 set; fp32 batch + grad
        if memory and needed > memory:
            problems.append(f"input_size {width}×{height}: {images} images of {cell.dataset.label} at that size and "
                            f"one batch need at least {needed / 2**30:.1f} GiB, more than this machine's "
                            f"{memory / 2**30:.1f} GiB; choose a smaller input_size")
        if protocol.batch_size > train and trains_networks(registry.method_class(cell.architecture.name)):
            notes.append(f"batch_size {protocol.batch_size} is more than the {train} training images of a fold of "
                         f"{cell.dataset.label}: each epoch is one step of {train} images")
    return list(dict.fromkeys(problems)), list(dict.fromkeys(notes))


def dataset_problems(datasets, registry: Registry, folds: int) -> tuple[list[str], dict[str, str], dict[str, int]]:
    """(problems, missing, images per dataset label) of the cells' datasets, each read once: unreadable, fewer
    images than folds, a damaged image file, a landmark far outside its image, or annotations that are this
    suite's own predictions nobody proofread (scoring against them would score the suite against itself)."""
    problems, missing, counts = [], {}, {}
    for component in datasets:
        try:
            dataset = registry.create("datasets", component.name, component.plugin_params)
            samples = dataset.samples()
        except DatasetMissing as exc:
            missing[component.label] = str(exc)
            continue
        except PluginError as exc:
            problems.append(f"dataset {component.label}: {exc}")
            continue
        counts[component.label] = len(samples)
        if len(samples) < folds and "splits" not in component.params:  # a split file brings its own folds
            problems.append(f"dataset {component.label}: {len(samples)} usable images, fewer than the {folds} folds")
        problems += [f"dataset {component.label}: {p}" for p in sample_problems(dataset, samples)]
    return problems, missing, counts


def sample_problems(dataset, samples) -> list[str]:
    """The first damaged image file, far-outside landmark and unproofread prediction of a dataset, one line
    each, naming the file and how many more there are."""
    damaged, outside = [], []
    for sample in samples:
        path = dataset.image_path(sample.id)
        why = damaged_image(path) if path is not None else None
        if why:
            damaged.append(f"{path}: {why}")
        point = _far_outside(sample)
        if point:
            outside.append(f"image {sample.id}: {point}")
    predicted = sorted(dataset.predicted_ids() & {s.id for s in samples})
    problems = [_first(damaged, "damaged image"), _first(outside, "landmark far outside its image")]
    if predicted:
        problems.append(f"{_first(predicted, 'image')} carries landmarks predicted by benchsuite that nobody has "
                        "proofread; proofread them (and remove the mark) or move them out before training or "
                        "scoring on them")
    return [p for p in problems if p]


def _first(found: list[str], what: str) -> str | None:
    if not found:
        return None
    return found[0] + (f" (and {len(found) - 1} more {what}s)" if len(found) > 1 else "")


def damaged_image(path: Path) -> str | None:
    """Why an image file is not whole, read from its two ends only (fast on thousands of images): empty, or a
    JPEG or PNG cut short (no end-of-image marker or end chunk), as a copy interrupted or a full disk leaves it."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as file:
            head = file.read(8)
            file.seek(max(0, size - TAIL_BYTES))
            tail = file.read()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return "empty file"
    if head.startswith(b"\xff\xd8") and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker): copy the file again"
    if head.startswith(b"\x89PNG") and b"IEND" not in tail[-64:]:
        return "truncated PNG (no end chunk): copy the file again"
    return None


def _far_outside(sample) -> str | None:
    """The first landmark that is not finite-and-near the image: beyond it by more than the image's size."""
    width, height = sample.size
    points = np.asarray(sample.landmarks, dtype=float)
    for index, (x, y) in enumerate(points):
        if np.isnan(x) and np.isnan(y):
            continue  # missing
        near = (-FAR_OUTSIDE * width <= x <= (1 + FAR_OUTSIDE) * width
                and -FAR_OUTSIDE * height <= y <= (1 + FAR_OUTSIDE) * height)
        if not near:
            return (f"landmark {index + 1} at ({x:.4g}, {y:.4g}) lies far outside the {width}×{height} image; "
                    "fix its annotation (benchsuite datasets check lists every such point)")
    return None


def checkpoint_problem(runtime: Any) -> str | None:
    every = getattr(runtime, "checkpoint_every_s", None)
    if every is not None and not (0 < every < float("inf")):
        return f"--checkpoint-every: the checkpoint interval must be a number of seconds > 0, got {every:g}"
    return None
