"""COCO keypoints JSON: ``images``, ``annotations`` and ``categories``.

Each annotation's ``keypoints`` is a flat list x1, y1, v1, x2, ... with the
names in its category's ``keypoints``. Visibility 0 means "not labelled"
(missing); 1 (labelled, occluded) and 2 (visible) are both landmarks. A
landmark benchmark has one instance per image: an image with several
keypoint annotations is an error, not a guess.

:func:`write` makes ``keypoints.json``: one category whose ``keypoints`` are
the landmark names, one annotation per image with visibility 2 for every
landmark and ``0, 0, 0`` for missing ones, ``num_keypoints``, and the box of
the landmarks as ``bbox``/``area``; ``file_name`` is relative to the JSON.
Coordinates are written as this reader reads them (COCO's are pixel
indices: the centre of the top-left pixel is 0, 0).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .annotations import (PREDICTED, Annotations, Record, image_key, is_prediction_mark, mark_predicted, number,
                          read_json)
from .writing import Item, relative, unique

FORMAT = "coco"


def sniff(path: Path) -> bool:
    data = _load(path)
    return isinstance(data, dict) and {"images", "annotations"} <= set(data)


def _load(path: Path):
    if path.suffix.lower() != ".json":
        return None
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def read(files: list[Path], landmark_names: list[str] | None = None) -> Annotations:
    annotations = Annotations(FORMAT, list(landmark_names or []))
    for path in files:
        try:
            data = read_json(path)
        except (OSError, ValueError) as exc:
            annotations.error(str(path), f"not valid JSON ({exc})")
            continue
        since = len(annotations.records)
        _read_file(path, data, annotations)
        if isinstance(data, dict) and isinstance(data.get("info"), dict) and is_prediction_mark(
                data["info"].get("description")):
            mark_predicted(annotations, since)
    return annotations


def _read_file(path: Path, data, annotations: Annotations) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        annotations.error(str(path), "not a COCO file: expected lists 'images' and 'annotations'")
        return
    keypointed = [a for a in data["annotations"] if isinstance(a, dict) and a.get("keypoints")]
    categories = {c.get("id"): c for c in data.get("categories", []) if isinstance(c, dict)}
    used = sorted({a.get("category_id") for a in keypointed}, key=str)
    if len(used) > 1:
        annotations.error(str(path), f"keypoints of {len(used)} categories ({', '.join(map(str, used))}): "
                                     "one landmark set per dataset expected")
        return
    names = list(categories.get(used[0], {}).get("keypoints") or []) if used else []
    if annotations.landmark_names and names and names != annotations.landmark_names:
        annotations.error(str(path), f"keypoint names {names} differ from the expected {annotations.landmark_names}")
        return
    annotations.landmark_names = annotations.landmark_names or names
    by_image = defaultdict(list)
    for annotation in keypointed:
        by_image[annotation.get("image_id")].append(annotation)
    for image in data["images"]:
        _image(path, image, by_image.get(image.get("id"), []), annotations)


def _image(path: Path, image: dict, found: list[dict], annotations: Annotations) -> None:
    file_name = str(image.get("file_name", ""))
    where = f"{path} image {file_name or image.get('id')!r}"
    if not found:
        return  # an image without keypoints: the pairing reports it
    key = image_key(file_name) if file_name else str(image.get("id"))
    if len(found) > 1:
        annotations.error(where, f"{len(found)} keypoint annotations for one image (ids "
                                 f"{', '.join(str(a.get('id')) for a in found)}); one instance per image expected")
        annotations.rejected.add(key)
        return
    values = found[0]["keypoints"]
    if not isinstance(values, list) or len(values) % 3:
        annotations.error(where, f"keypoints must be x, y, visibility triples, got {len(values)} numbers")
        annotations.rejected.add(key)
        return
    try:
        triples = np.array([number(v) for v in values], dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError) as exc:
        annotations.error(where, f"not a coordinate: {exc}")
        annotations.rejected.add(key)
        return
    points = triples[:, :2].copy()
    points[triples[:, 2] == 0] = np.nan  # visibility 0: not labelled
    size = (int(image["width"]), int(image["height"])) if image.get("width") and image.get("height") else None
    annotations.records.append(Record(key=key, points=points, where=where, image=file_name,
                                      image_path=_image_path(path, file_name), size=size))


def _image_path(path: Path, file_name: str) -> Path | None:
    for folder in (path.parent, path.parent / "images", path.parent.parent / "images"):
        if file_name and (folder / file_name).is_file():
            return folder / file_name
    return None


FILE_NAME = "keypoints.json"


def write(items: list[Item], landmark_names: list[str], folder: Path, annotator: str | None = None) -> dict[str, str]:
    unique(items, lambda item: item.image.stem, "the COCO image")
    images, annotations = [], []
    for index, item in enumerate(items, start=1):
        images.append({"id": index, "file_name": relative(item.image, folder),
                       "width": item.width, "height": item.height})
        annotations.append(_annotation(index, item))
    info = {"description": f"{PREDICTED}: change this description once proofread",
            **({"contributor": annotator} if annotator else {})}
    category = {"id": 1, "name": "landmarks", "supercategory": "landmarks", "keypoints": landmark_names, "skeleton": []}
    data = {"info": info, "images": images, "annotations": annotations, "categories": [category]}
    return {FILE_NAME: json.dumps(data, indent=1, ensure_ascii=False) + "\n"}


def _annotation(index: int, item: Item) -> dict:
    points = item.points()
    keypoints = [v for p in points for v in ((0, 0, 0) if p is None else (p[0], p[1], 2))]
    present = np.array([p for p in points if p is not None]).reshape(-1, 2)
    low, high = (present.min(axis=0), present.max(axis=0)) if len(present) else (np.zeros(2), np.zeros(2))
    box = [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])]
    return {"id": index, "image_id": index, "category_id": 1, "keypoints": keypoints,
            "num_keypoints": len(present), "bbox": box, "area": box[2] * box[3], "iscrowd": 0}
