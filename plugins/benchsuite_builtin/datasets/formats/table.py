"""Plain CSV tables, as spreadsheets export them.

*Wide*: one row per image — the image file name, then x1, y1, x2, y2, …
An optional header names the landmarks (``X1,Y1``, ``snout_x,snout_y`` or
``x_snout,y_snout``); otherwise they are numbered L1, L2, …
*Long*: a header with an image column (image/file/filename), a landmark
column (landmark/label/name/bodypart/point) and ``x``, ``y``; one row per
image × landmark, landmark order as first seen.
Comma, semicolon or tab separated; empty, NA or NaN cells are missing.
Coordinates count y from the top unless the dataset says ``y_origin="bottom"``.

:func:`write` makes the wide table, ``landmarks.csv``: a header ``image``,
``<name>_x``, ``<name>_y`` …, then the image path relative to the table, and
x, y per landmark (empty when missing), y from the top as read.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from .annotations import Annotations, Record, image_key, number
from .writing import Item, relative, unique

FORMAT = "csv"
_IMAGE_COLUMNS = {"image", "file", "filename", "file_name", "image_id", "img", "id", "name"}
_LANDMARK_COLUMNS = {"landmark", "label", "bodypart", "point", "keypoint", "lm"}


def sniff(path: Path) -> bool:
    return path.suffix.lower() in (".csv", ".tsv")


def read(files: list[Path], landmark_names: list[str] | None = None) -> Annotations:
    annotations = Annotations(FORMAT, list(landmark_names or []))
    for path in files:
        rows = _rows(path, annotations)
        if not rows:
            continue
        header = [c.strip().lower() for c in rows[0]]
        if "x" in header and "y" in header and _column(header, _LANDMARK_COLUMNS) is not None:
            _read_long(path, rows, header, annotations)
        else:
            _read_wide(path, rows, annotations)
    return annotations


def _rows(path: Path, annotations: Annotations) -> list[list[str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        annotations.error(str(path), f"cannot read file ({exc})")
        return []
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(("\t", ";", ","), key=first.count) if first else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in row)]
    if not rows:
        annotations.error(str(path), "empty table")
    return rows


def _column(header: list[str], names: set[str]) -> int | None:
    return next((i for i, h in enumerate(header) if h in names), None)


def _is_header(row: list[str]) -> bool:
    try:
        [number(c) for c in row[1:]]
    except ValueError:
        return True
    return False


def _wide_names(header: list[str]) -> list[str] | None:
    """Landmark names from column pairs X1,Y1 / snout_x,snout_y / x_snout,y_snout."""
    names = []
    for x, y in zip(header[0::2], header[1::2]):
        for pattern in (r"^[xX][_ ]?(.+)$", r"^(.+?)[_ ]?[xX]$"):
            mx, my = re.match(pattern, x.strip()), re.match(pattern.replace("[xX]", "[yY]"), y.strip())
            if mx and my and mx.group(1) == my.group(1):
                names.append(f"L{mx.group(1)}" if mx.group(1).isdigit() else mx.group(1))  # X1,Y1: L1
                break
        else:
            return None
    return names


def _read_wide(path: Path, rows: list[list[str]], annotations: Annotations) -> None:
    start = 0
    if _is_header(rows[0]):
        names = _wide_names(rows[0][1:])
        if names and not annotations.landmark_names:
            annotations.landmark_names = names
        start = 1
    for row_no, row in enumerate(rows[start:], start=start + 1):
        reference = row[0].strip()
        where = f"{path} row {row_no} ({reference})"
        values = row[1:]
        while values and not values[-1].strip() and len(values) % 2:
            values = values[:-1]  # a trailing separator
        if len(values) % 2:
            annotations.error(where, f"{len(values)} coordinate values: x, y pairs expected")
            annotations.rejected.add(image_key(reference))
            continue
        try:
            points = np.array([number(v) for v in values], dtype=np.float64).reshape(-1, 2)
        except ValueError as exc:
            annotations.error(where, f"not a coordinate: {exc}")
            annotations.rejected.add(image_key(reference))
            continue
        annotations.records.append(Record(key=image_key(reference), points=points, where=where, image=reference,
                                          image_path=path.parent / reference))


def _read_long(path: Path, rows: list[list[str]], header: list[str], annotations: Annotations) -> None:
    image_col = _column(header, _IMAGE_COLUMNS)
    label_col = _column(header, _LANDMARK_COLUMNS)
    x_col, y_col = header.index("x"), header.index("y")
    if image_col is None:
        annotations.error(str(path), f"long table without an image column (one of {', '.join(sorted(_IMAGE_COLUMNS))})")
        return
    order = list(annotations.landmark_names)
    by_image: dict[str, dict[str, list]] = {}
    bad: set[str] = set()
    for row_no, row in enumerate(rows[1:], start=2):
        cells = row + [""] * (len(header) - len(row))
        reference, label = cells[image_col].strip(), cells[label_col].strip()
        try:
            point = (number(cells[x_col]), number(cells[y_col]))
        except ValueError as exc:
            annotations.error(f"{path} row {row_no} ({reference}, {label})", f"not a coordinate: {exc}")
            bad.add(reference)
            continue
        if label not in order:
            order.append(label)
        by_image.setdefault(reference, {}).setdefault(label, []).append((row_no, point))
    annotations.landmark_names = order
    for reference, labelled in by_image.items():
        _long_record(path, reference, labelled, order, reference in bad, annotations)


def _long_record(path, reference, labelled, order, bad, annotations: Annotations) -> None:
    where = f"{path} rows of {reference}"
    twice = [label for label, found in labelled.items() if len(found) > 1]
    if twice or bad:
        if twice:
            annotations.error(where, f"landmark {twice[0]!r} given {len(labelled[twice[0]])} times "
                                     f"(rows {', '.join(str(r) for r, _ in labelled[twice[0]])})")
        annotations.rejected.add(image_key(reference))
        return
    points = np.full((len(order), 2), np.nan)
    for i, label in enumerate(order):
        if label in labelled:
            points[i] = labelled[label][0][1]
    annotations.records.append(Record(key=image_key(reference), points=points, where=where, image=reference,
                                      image_path=path.parent / reference))


FILE_NAME = "landmarks.csv"


def write(items: list[Item], landmark_names: list[str], folder: Path, annotator: str | None = None) -> dict[str, str]:
    unique(items, lambda item: item.image.stem, "the table's image")
    text = io.StringIO()
    table = csv.writer(text, lineterminator="\n")
    table.writerow(["image"] + [f"{name}_{axis}" for name in landmark_names for axis in "xy"])
    for item in items:
        table.writerow([relative(item.image, folder)]
                       + [v for p in item.points() for v in (("", "") if p is None else (repr(p[0]), repr(p[1])))])
    return {FILE_NAME: text.getvalue()}
