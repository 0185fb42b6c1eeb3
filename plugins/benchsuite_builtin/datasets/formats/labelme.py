"""LabelMe JSON: one file per image, each landmark a ``point`` shape with a label.

The file's stem is the image's identifier (LabelMe saves ``a.json`` beside
``a.png``); ``imagePath`` is only a fallback, because copies of a dataset
often rename images without editing it. The landmark set is every label
used in at least half of the files, in natural order (l1, l2, …, l10) unless
names are given. A label that appears twice in one file is an annotation
defect: that landmark becomes missing for that image, with a warning —
which copy is right is not guessed. A label in fewer than half the files
(a typo, a stray point) is an error in each file that uses it.

:func:`write` makes one ``<image stem>.json`` per image, as LabelMe saves
them: a ``point`` shape per landmark (missing ones omitted), ``imagePath``
relative to the JSON, ``imageData`` null (LabelMe loads the image file),
the image's size, the 5.0 layout, and the image flag
``predicted by benchsuite (untick once proofread)``. Coordinates are written as this reader
reads them. LabelMe turns images by their EXIF orientation, the suite does
not: such an image is refused rather than shown with misplaced points.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from benchsuite.api import PluginError

from .annotations import PREDICTED, Annotations, NestedTooDeeply, Record, natural_key, number, read_json
from .imagefiles import exif_orientation
from .writing import Item, relative, unique

FORMAT = "labelme"


def sniff(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    try:
        data = read_json(path)
    except NestedTooDeeply:
        return True  # no format can tell it is its own: LabelMe, the per-image JSON, reads it and says why not
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("shapes"), list)


def read(files: list[Path], landmark_names: list[str] | None = None) -> Annotations:
    annotations = Annotations(FORMAT, list(landmark_names or []))
    parsed = []
    for path in files:
        points = _points(path, annotations)
        if points is not None:
            parsed.append((path, points))
    names = annotations.landmark_names or _common_labels(parsed)
    annotations.landmark_names = names
    for path, (points, size, image, predicted) in parsed:
        _record(path, points, size, image, names, len(parsed), annotations)
        if predicted and annotations.records and annotations.records[-1].where == str(path):
            annotations.records[-1].predicted = True
    return annotations


def _points(path: Path, annotations: Annotations):
    """(label -> list of (x, y)), claimed size, imagePath; None when the file is unusable."""
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        annotations.error(str(path), f"not valid JSON ({exc})")
        annotations.rejected.add(path.stem)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        annotations.error(str(path), "not a LabelMe file: no 'shapes' list")
        annotations.rejected.add(path.stem)
        return None
    points: dict[str, list[tuple[float, float]]] = {}
    for index, shape in enumerate(data["shapes"]):
        label = str(shape.get("label", "")).strip() if isinstance(shape, dict) else ""
        kind = shape.get("shape_type", "point") if isinstance(shape, dict) else None
        if kind != "point":
            annotations.warn(f"{path} shape {index}", f"{kind} shape {label!r} ignored (only points are landmarks)")
            continue
        try:
            (x, y), = shape["points"]
            points.setdefault(label, []).append((number(x), number(y)))
        except (KeyError, TypeError, ValueError):
            annotations.error(f"{path} shape {index}", f"point {label!r} has no single readable [x, y]")
            annotations.rejected.add(path.stem)
            return None
    width, height = data.get("imageWidth"), data.get("imageHeight")
    size = (int(width), int(height)) if isinstance(width, int) and isinstance(height, int) else None
    flags = data.get("flags")
    return points, size, data.get("imagePath"), isinstance(flags, dict) and flags.get(MARK) is True


def _common_labels(parsed) -> list[str]:
    counts = Counter(label for _, (points, *_) in parsed for label in points)
    return sorted((label for label, n in counts.items() if 2 * n >= len(parsed)), key=natural_key)


def _record(path, points, size, image, names, n_files, annotations: Annotations) -> None:
    known = set(names)
    stray = sorted(set(points) - known, key=natural_key)
    if stray:
        annotations.error(str(path), f"unexpected label(s) {', '.join(map(repr, stray))} "
                                     f"(expected {names[0]} … {names[-1]}; rare across the {n_files} files)")
        annotations.rejected.add(path.stem)
        return
    array = np.full((len(names), 2), np.nan)
    for i, name in enumerate(names):
        found = points.get(name, [])
        if len(found) == 1:
            array[i] = found[0]
        elif len(found) > 1:
            annotations.warn(str(path), f"label {name!r} appears {len(found)} times: landmark treated as missing")
    annotations.records.append(Record(key=path.stem, points=array, where=str(path), image=image, size=size))


VERSION = "5.0.1"  # the file layout written: LabelMe 5 reads it as its own, later versions too
MARK = f"{PREDICTED} (untick once proofread)"  # an image flag: LabelMe shows it as a box to untick


def write(items: list[Item], landmark_names: list[str], folder: Path, annotator: str | None = None) -> dict[str, str]:
    unique(items, lambda item: item.image.stem, "the LabelMe file")
    files = {}
    for item in items:
        orientation = exif_orientation(item.image)
        if orientation != 1:
            raise PluginError(f"{item.image}: EXIF orientation {orientation}: LabelMe would show it turned and the "
                              "landmarks misplaced; save the image without the orientation tag first")
        shapes = [{"label": name, "points": [list(point)], "group_id": None, "shape_type": "point", "flags": {}}
                  for name, point in zip(landmark_names, item.points()) if point is not None]
        data = {"version": VERSION, "flags": {MARK: True}, "shapes": shapes, "imagePath": relative(item.image, folder),
                "imageData": None, "imageHeight": item.height, "imageWidth": item.width}
        files[f"{item.image.stem}.json"] = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return files
