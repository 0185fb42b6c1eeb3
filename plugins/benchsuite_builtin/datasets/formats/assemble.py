"""From annotation files and image files to validated samples, for every format.

Pairing is by identifier, never by the order of two directory listings: a
record names its image (a path the format defines, else the image's stem),
and that image must exist exactly once. Then, per image: its real size
(header only), the y flip for bottom-origin formats, and the checks —
landmark count, duplicate identifiers, points outside the image, images
without annotation. Everything found is a ``Problem`` naming the file; the
records that are fine still become samples, so one bad file never hides
the others.

Images are read only from the dataset's folder: a reference a format uses
as a path (CSV, COCO, DeepLabCut) that is absolute, climbs out with ``..``
or lands outside is an error naming the entry, unless ``allow_outside``.
TPS and LabelMe references are matched by file name; a folder in a TPS
``IMAGE=`` only picks one of several images of that name, and when no image
has the name, says that it leads outside rather than that there is none. Two references that reach one file — names differing only in
case, or links — are an error too: one image must never be two samples.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from benchsuite.api import ERROR, WARNING, PluginError, Problem, Sample

from . import READERS
from .annotations import Annotations, Record, image_key, natural_key, numbered_names
from .discover import Found, discover
from .imagefiles import image_size

OUTSIDE = ("keep", "missing", "error")  # points outside the image: warned and kept / made missing / rejected
UNANNOTATED = ("error", "ignore")
Y_ORIGINS = ("top", "bottom")


@dataclass
class Options:
    format: str | None = None
    annotator: str | None = None
    landmark_names: list[str] | None = None
    y_origin: str | None = None  # None: the format's own convention (TPS bottom, others top)
    outside: str = "keep"
    unannotated: str = "error"
    images: Path | None = None  # where the images are, when not under the annotations' folder
    allow_outside: bool = False  # read images that links or references place outside the dataset's folders

    def validate(self) -> None:
        for name, value, allowed in (("outside", self.outside, OUTSIDE), ("unannotated", self.unannotated, UNANNOTATED),
                                     ("y_origin", self.y_origin, (None, *Y_ORIGINS))):
            if value not in allowed:
                raise PluginError(f"{name} must be one of {', '.join(str(a) for a in allowed if a)}, got {value!r}")


@dataclass
class Loaded:
    path: Path
    format: str
    landmark_names: list[str]
    samples: list[Sample]
    images: dict[str, Path]  # sample id -> image file
    problems: list[Problem] = field(default_factory=list)
    pixel_size_mm: float | None = None
    annotator: str | None = None
    others: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # other annotators' landmarks by id
    predicted: set[str] = field(default_factory=set)  # samples whose landmarks the file marks as predictions

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]


def load(path: Path, options: Options) -> Loaded:
    options.validate()
    found = discover(path, options.format, options.images, options.allow_outside)
    groups = {name: READERS[found.format].read(files, options.landmark_names) for name, files in found.groups.items()}
    chosen, others = _annotators(groups, options.annotator)
    main = groups[chosen]
    loaded = Loaded(path, found.format, [], [], {}, list(found.problems), annotator=chosen if others else None)
    _settle_landmarks(main)
    loaded.landmark_names = main.landmark_names
    _reject_duplicates(main)
    index = _ImageIndex(found, options.allow_outside)
    paired: dict[str, tuple[Record, Path]] = {}
    for record in main.records:
        image = index.resolve(record, main)
        if image is not None:
            paired[record.key] = (record, image)
    _reject_shared_files(paired, main)
    for key in sorted(paired, key=natural_key):
        record, image = paired[key]
        sample = _sample(record, image, options, main)
        if sample is not None:
            loaded.samples.append(sample)
            loaded.images[key] = image
            if record.predicted:
                loaded.predicted.add(key)
    _unannotated(found, index, {img for _, img in paired.values()}, main, options)
    _never_annotated(loaded, main, path)
    loaded.problems += main.problems
    loaded.pixel_size_mm = _pixel_size(main.records)
    for name in others:
        loaded.others[name] = _other_annotator(groups[name], loaded, options)
        loaded.problems += [Problem(p.where, f"(annotator {name}) {p.message}", WARNING) for p in groups[name].problems]
    return loaded


def _annotators(groups: dict[str, Annotations], wanted: str | None) -> tuple[str, list[str]]:
    """The ground-truth group and the other annotators; merges groups that annotate different images."""
    names = sorted(groups, key=natural_key)
    seen: Counter = Counter(key for g in groups.values() for key in {r.key for r in g.records})
    overlapping = len(names) > 1 and any(n > 1 for n in seen.values())
    if not overlapping:
        if wanted:
            raise PluginError(f"annotator {wanted!r} given but the annotation files do not come from several annotators")
        if len(names) > 1:
            merged = groups[names[0]]
            for name in names[1:]:
                theirs = groups[name].landmark_names
                if merged.landmark_names and theirs and theirs != merged.landmark_names:
                    raise PluginError(f"{name}: landmarks {theirs} differ from {names[0]}'s {merged.landmark_names}")
                merged.records += groups[name].records
                merged.problems += groups[name].problems
                merged.rejected |= groups[name].rejected
                if not merged.landmark_names:
                    merged.landmark_names = groups[name].landmark_names
            groups.clear()
            groups[names[0]] = merged
        return names[0], []
    if wanted is None:
        chosen = names[0]
    else:
        matches = [n for n in names if n == wanted] or [n for n in names if wanted.lower() in n.lower()]
        if len(matches) != 1:
            raise PluginError(f"annotator {wanted!r} {'is ambiguous' if matches else 'not found'} "
                              f"(annotators: {', '.join(names)})")
        chosen = matches[0]
    return chosen, [n for n in names if n != chosen]


def _settle_landmarks(annotations: Annotations) -> None:
    """Fix the landmark count (the names', else the most common) and reject records that differ."""
    counts = Counter(len(r.points) for r in annotations.records)
    expected = len(annotations.landmark_names) if annotations.landmark_names else (
        counts.most_common(1)[0][0] if counts else 0)
    if not annotations.landmark_names:
        annotations.landmark_names = numbered_names(expected)
    kept = []
    for record in annotations.records:
        if len(record.points) == expected:
            kept.append(record)
            continue
        others = counts.get(expected, 0)
        annotations.error(record.where, f"wrong number of landmarks: {len(record.points)}, expected {expected}"
                                        + (f" (as in {others} other images)" if others else ""))
        annotations.rejected.add(record.key)
    annotations.records = kept


def _reject_duplicates(annotations: Annotations) -> None:
    """An identifier annotated twice is an error for every copy: which one is right is not guessed."""
    by_key: dict[str, list[Record]] = {}
    for record in annotations.records:
        by_key.setdefault(record.key, []).append(record)
    kept = []
    for key, records in by_key.items():
        if len(records) == 1:
            kept.append(records[0])
            continue
        for record in records:
            elsewhere = "; ".join(r.where for r in records if r is not record)
            annotations.error(record.where, f"duplicate identifier {key!r}: also annotated at {elsewhere}")
        annotations.rejected.add(key)
    annotations.records = kept


class _ImageIndex:
    def __init__(self, found: Found, allow_outside: bool = False):
        self.found = found
        self.allow_outside = allow_outside
        self.images = found.images
        self.by_stem: dict[str, list[Path]] = {}
        self.by_lower: dict[str, list[Path]] = {}
        for path in self.images:
            self.by_stem.setdefault(path.stem, []).append(path)
            self.by_lower.setdefault(path.stem.lower(), []).append(path)

    def resolve(self, record: Record, annotations: Annotations) -> Path | None:
        if record.image_path is not None:
            outside = None if self.allow_outside else self._outside(record.image or "", record.image_path)
            if outside:
                annotations.error(record.where, f"{outside}; pass allow_outside=true to read images from there")
                annotations.rejected.add(record.key)
                return None
            if record.image_path.is_file():
                return record.image_path
        stems = [record.key] + ([image_key(record.image)] if record.image else [])
        candidates: list[Path] = []
        for stem in dict.fromkeys(stems):
            candidates = self.by_stem.get(stem) or self.by_lower.get(stem.lower(), [])
            if candidates:
                break
        hinted = [c for c in candidates if record.image_hint is not None and _same_file(c, record.image_hint)]
        if len(candidates) == 1 or len(hinted) == 1:
            return (hinted or candidates)[0]
        if len(candidates) > 1:
            names = ", ".join(str(c) for c in candidates)
            annotations.error(record.where, f"ambiguous image for {record.key!r}: {names}")
        elif record.image_hint is not None and self.allow_outside and record.image_hint.is_file():
            return record.image_hint
        elif record.image_hint is not None and (outside := self._outside(record.image or "", record.image_hint)):
            annotations.error(record.where, f"{outside}; pass allow_outside=true to read images from there")
        else:
            wanted = record.image_path or record.image or record.key
            annotations.error(record.where, f"annotation without image: no image file for {str(wanted)!r}")
        annotations.rejected.add(record.key)
        return None

    def _outside(self, reference: str, target: Path) -> str | None:
        """Why a path-like image reference must not be followed, or None.

        An absolute or ``..`` reference is followed only when it lands in one of
        the folders the user named (the annotations' folder or ``images``).
        """
        reference = reference.strip()
        if target.exists() and self.found.inside(target):
            return None
        if PurePosixPath(reference).is_absolute() or PureWindowsPath(reference).is_absolute() or re.match(
                r"^([A-Za-z]:|[\\/])", reference):
            return f"image reference {reference!r} is an absolute path, outside the dataset folder"
        if ".." in re.split(r"[\\/]+", reference):
            return f"image reference {reference!r} leads outside the dataset folder ('..')"
        if target.exists() and not self.found.inside(target):
            return f"image {target} resolves to {target.resolve()}, outside the dataset folder"
        return None


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.samefile(other)
    except OSError:
        return False


def _reject_shared_files(paired: dict[str, tuple[Record, Path]], annotations: Annotations) -> None:
    """References that reach one file (names differing only in case, links) are an error for each of them."""
    by_file: dict[tuple[int, int], list[str]] = {}
    for key, (_, image) in paired.items():
        stat = image.stat()
        by_file.setdefault((stat.st_dev, stat.st_ino), []).append(key)
    for keys in by_file.values():
        if len(keys) < 2:
            continue
        for key in keys:
            record, image = paired[key]
            others = "; ".join(paired[k][0].where for k in keys if k != key)
            annotations.error(record.where, f"names the same image file ({image}) as {others}: each image must be "
                                            "annotated once")
            annotations.rejected.add(key)
        for key in keys:
            del paired[key]


def _never_annotated(loaded: Loaded, annotations: Annotations, path: Path) -> None:
    """A landmark missing in every image cannot be learnt or tested: an error, as a run would fail on it."""
    if not loaded.samples:
        return
    missing = np.isnan(np.stack([s.landmarks for s in loaded.samples])).any(axis=-1).all(axis=0)
    for name in (n for n, gone in zip(loaded.landmark_names, missing) if gone):
        annotations.error(str(path), f"landmark {name!r} is missing in every image: nothing to learn or test it on "
                                     "(remove it from the files, or annotate it)")


def _sample(record: Record, image: Path, options: Options, annotations: Annotations) -> Sample | None:
    try:
        width, height = image_size(image)
    except PluginError as exc:
        annotations.error(str(image), str(exc).removeprefix(f"{image}: "))
        return None
    if record.size is not None and tuple(record.size) != (width, height):
        annotations.error(record.where, f"says its image is {record.size[0]}×{record.size[1]} but {image} is {width}×{height}")
        return None
    points = record.points.copy()
    flip = options.y_origin == "bottom" or (options.y_origin is None and record.y_up)
    if flip:
        points[:, 1] = height - points[:, 1]
    outside = ~np.isnan(points).any(axis=1) & (
        (points[:, 0] < -0.5) | (points[:, 0] > width - 0.5) | (points[:, 1] < -0.5) | (points[:, 1] > height - 0.5))
    if outside.any():
        where = f"{record.where}"
        which = ", ".join(f"{annotations.landmark_names[i]} ({points[i, 0]:g}, {points[i, 1]:g})" for i in np.flatnonzero(outside))
        message = f"outside the {width}×{height} image: {which}"
        if options.outside == "error":
            annotations.error(where, message)
            return None
        if options.outside == "missing":
            points[outside] = np.nan
            annotations.warn(where, message + " (made missing)")
        else:
            annotations.warn(where, message + " (kept)")
    return Sample(id=record.key, landmarks=points, size=(width, height))


def _unannotated(found: Found, index: _ImageIndex, paired: set[Path], annotations: Annotations, options: Options) -> None:
    """Images among the annotated ones (same folders) that nothing annotates."""
    if options.unannotated == "ignore":
        return
    if not paired and any(p.severity == ERROR for p in annotations.problems):
        return  # no annotation could be read at all: that error says it, one line per image would bury it
    folders = {p.parent for p in paired} or {p.parent for p in found.images}
    claimed = {Path(key).name for key in annotations.rejected}  # their annotation exists: already an error
    for image in index.images:
        if image in paired or image.parent not in folders or image.stem in claimed:
            continue
        annotations.error(str(image), "image without annotation (pass unannotated=ignore to skip such images)")


def _pixel_size(records: list[Record]) -> float | None:
    scales = {r.scale for r in records}
    return scales.pop() if len(scales) == 1 and None not in scales else None


def _other_annotator(annotations: Annotations, loaded: Loaded, options: Options) -> dict[str, np.ndarray]:
    """Another annotator's landmarks for the ground truth's images, in the same order and pixel frame."""
    _settle_landmarks(annotations)
    _reject_duplicates(annotations)
    names, theirs = loaded.landmark_names, annotations.landmark_names
    if not set(names) <= set(theirs):
        annotations.warn(str(loaded.path), f"landmarks {theirs} differ from the ground truth's: not compared")
        return {}
    order = [theirs.index(n) for n in names]
    sizes = {s.id: s.size for s in loaded.samples}
    result = {}
    for record in annotations.records:
        if record.key in sizes:
            points = record.points[order].copy()
            if options.y_origin == "bottom" or (options.y_origin is None and record.y_up):
                points[:, 1] = sizes[record.key][1] - points[:, 1]
            result[record.key] = points
    return result
