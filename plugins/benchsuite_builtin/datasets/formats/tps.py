"""tpsDig TPS files, the geometric-morphometrics standard.

A file is a sequence of blocks::

    LM=12          number of landmarks, then one "x y" line each
    290. 108.
    ...
    IMAGE=63001.jpg
    ID=0
    SCALE=0.0023   size of one pixel in the user's unit (mm here)

``CURVES=``/``POINTS=`` (semilandmark outlines) are skipped, ``VARIABLES=``
ignored, and ``COMMENT=`` too unless it marks the suite's own predictions. Missing landmarks are written as tpsDig writes them,
as negative coordinates (``-1.00000 -1.00000``, what geomorph reads with
``negNA = TRUE``): a point whose x and y are both negative is missing (in
tpsDig's frame it would lie below the image); NA and NaN are missing too.

**y convention.** tpsDig measures y upwards from the image's *bottom* edge
(x from the left edge, as usual), so records are marked ``y_up`` and
``folder.py`` flips them once the image height is known:
``y_image = height - y`` — the flip tpsDig's companion programs and ml-morph
apply. Files written with y from the top (some tools do) are read with
``y_origin="top"``.

:func:`write` is the exact inverse: ``y = height - y_image``, five decimals
as tpsDig writes them, CRLF line ends, one block per image with ``IMAGE=``
relative to the file, ``ID=`` counting from 0, and
``COMMENT=predicted by benchsuite: delete this line once proofread``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .annotations import PREDICTED, Annotations, Record, image_key, is_prediction_mark, number
from .writing import Item, relative, unique

FORMAT = "tps"
_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)\s*=(.*)$")
_IGNORED = {"COMMENT", "VARIABLES", "CURVES"}


def sniff(path: Path) -> bool:
    if path.suffix.lower() == ".tps":
        return True
    if path.suffix.lower() not in (".txt", ".dat"):
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = next((line for line in handle if line.strip()), "")
    except OSError:
        return False
    return bool(re.match(r"^\s*LM3?\s*=", first, re.IGNORECASE))


def read(files: list[Path], landmark_names: list[str] | None = None) -> Annotations:
    annotations = Annotations(FORMAT, list(landmark_names or []))
    for path in files:
        _read_file(path, annotations)
    return annotations


class _Block:
    def __init__(self, line: int):
        self.line = line
        self.points: list[tuple[float, float]] = []
        self.image: str | None = None
        self.id: str | None = None
        self.scale: float | None = None
        self.predicted = False  # a COMMENT= says benchsuite predict wrote the block
        self.bad = False
        self.problems: list[tuple[int, str]] = []  # reported once IMAGE= is known

    def fail(self, line: int, message: str) -> None:
        self.problems.append((line, message))
        self.bad = True


def _read_file(path: Path, annotations: Annotations) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("latin-1")
    except OSError as exc:
        annotations.error(str(path), f"cannot read file ({exc.strerror or exc})")
        return
    lines = text.splitlines()
    blocks: list[_Block] = []
    index = 0
    while index < len(lines):
        line_no, line = index + 1, lines[index].strip()
        index += 1
        if not line:
            continue
        match = _KEY.match(line)
        if match is None:
            if not blocks:
                annotations.error(f"{path} line {line_no}", "expected LM= (is this a TPS file?)")
                return
            if not blocks[-1].bad:  # after an unreadable LM= its coordinate lines are skipped quietly
                blocks[-1].fail(line_no, f"unreadable TPS block: more coordinate lines than LM={len(blocks[-1].points)} announces")
            continue
        key, value = match.group(1).upper(), match.group(2).strip()
        if key in ("LM", "LM3"):
            block = _Block(line_no)
            blocks.append(block)
            index = _read_points(path, lines, index, key, value, block, annotations)
        elif not blocks:
            annotations.error(f"{path} line {line_no}", f"{key}= before any LM= line (not a TPS file?)")
            return
        elif key == "POINTS":  # the points of one curve: skipped
            index = _skip_points(lines, index, value)
        elif key == "IMAGE":
            blocks[-1].image = value
        elif key == "ID":
            blocks[-1].id = value
        elif key == "SCALE":
            try:
                blocks[-1].scale = float(value)
            except ValueError:
                blocks[-1].fail(line_no, f"SCALE= expects a number, got {value!r}")
        elif key == "COMMENT":
            blocks[-1].predicted |= is_prediction_mark(value)
        elif key not in _IGNORED:
            annotations.warn(f"{path} line {line_no}", f"unknown TPS key {key}= ignored")
    for block in blocks:
        _finish(path, block, annotations)


def _read_points(path, lines, index, key, value, block: _Block, annotations: Annotations) -> int:
    """Parse the coordinate lines announced by LM=; return the index after them."""
    if key == "LM3":
        block.fail(block.line, "LM3= (3D landmarks) is not supported: only 2D images can be benchmarked")
        return index
    try:
        count = int(value)
        if count < 0:
            raise ValueError
    except ValueError:
        block.fail(block.line, f"unreadable TPS block: LM= expects a number of landmarks, got {value!r}")
        return index
    while len(block.points) < count and index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        if _KEY.match(line):
            break
        tokens = line.split()
        try:
            if len(tokens) != 2:
                raise ValueError(f"{len(tokens)} values")
            x, y = number(tokens[0]), number(tokens[1])
            block.points.append((math.nan, math.nan) if x < 0 and y < 0 else (x, y))  # tpsDig's "missing"
        except ValueError:
            block.fail(index + 1, f"unreadable TPS block: expected 'x y', got {line[:40]!r}")
            block.points.append((math.nan, math.nan))
        index += 1
    if len(block.points) < count:
        block.fail(block.line, f"unreadable TPS block: LM={count} but only {len(block.points)} coordinate lines follow")
    return index


def _skip_points(lines, index, value) -> int:
    try:
        remaining = int(value)
    except ValueError:
        return index
    while remaining > 0 and index < len(lines):
        if lines[index].strip():
            remaining -= 1
        index += 1
    return index


def _finish(path: Path, block: _Block, annotations: Annotations) -> None:
    label = f"IMAGE={block.image}" if block.image else (f"ID={block.id}" if block.id else "no IMAGE=")
    where = f"{path} line {block.line} ({label})"
    reference = block.image or block.id
    for line, message in block.problems:
        annotations.error(f"{path} line {line} ({label})", message)
    if block.bad:
        if reference:
            annotations.rejected.add(image_key(reference))
        return
    if not reference:
        annotations.error(where, "block has neither IMAGE= nor ID=: cannot pair it with an image")
        return
    annotations.records.append(Record(
        key=image_key(reference), points=np.array(block.points, dtype=np.float64).reshape(-1, 2), where=where,
        image=block.image, y_up=True, scale=block.scale, image_hint=_hint(path, block.image),
        predicted=block.predicted,
    ))


def _hint(path: Path, image: str | None) -> Path | None:
    """Where an ``IMAGE=`` holding a folder points, relative to the TPS file as tpsDig resolves it."""
    if not image or not re.search(r"[\\/]", image):
        return None
    return path.parent / image.replace("\\", "/")


FILE_NAME = "landmarks.tps"
MISSING = "-1.00000 -1.00000"
MARK = f"{PREDICTED}: delete this line once proofread"


def write(items: list[Item], landmark_names: list[str], folder: Path, annotator: str | None = None) -> dict[str, str]:
    unique(items, lambda item: item.image.stem, "the TPS identifier")
    lines = []
    for index, item in enumerate(items):
        lines.append(f"LM={len(landmark_names)}")
        lines += [MISSING if p is None else f"{p[0]:.5f} {item.height - p[1]:.5f}" for p in item.points()]
        lines += [f"IMAGE={relative(item.image, folder)}", f"ID={index}", f"COMMENT={MARK}"]
    return {FILE_NAME: "\r\n".join(lines) + "\r\n"}
