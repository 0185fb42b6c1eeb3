"""Per-image text files, as the fish datasets ship them: ``<image stem>.txt``
beside (or apart from) the image, one ``x y`` (or ``x;y``, ``x,y``, tab) line
per landmark, in landmark order. Lines starting with ``#`` are comments; NA
or NaN is a missing landmark. Landmarks are numbered L1, L2, …
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .annotations import Annotations, Record, number

FORMAT = "points"
_SPLIT = re.compile(r"[\s;,]+")


def sniff(path: Path) -> bool:
    """A .txt whose first data line is two numbers."""
    if path.suffix.lower() != ".txt":
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = next((line for line in handle if line.strip() and not line.lstrip().startswith("#")), "")
        values = _SPLIT.split(first.strip())
        return len(values) == 2 and all(v.lower() not in ("na", "nan") for v in values) and bool([number(v) for v in values])
    except (OSError, ValueError):
        return False


def read(files: list[Path], landmark_names: list[str] | None = None) -> Annotations:
    annotations = Annotations(FORMAT, list(landmark_names or []))
    for path in files:
        _read_file(path, annotations)
    return annotations


def _read_file(path: Path, annotations: Annotations) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        annotations.error(str(path), f"cannot read file ({exc})")
        annotations.rejected.add(path.stem)
        return
    points = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        values = _SPLIT.split(line)
        try:
            if len(values) != 2:
                raise ValueError(f"{len(values)} values")
            points.append((number(values[0]), number(values[1])))
        except ValueError:
            annotations.error(f"{path} line {line_no}", f"expected 'x y', got {line[:40]!r}")
            annotations.rejected.add(path.stem)
            return
    if not points:
        annotations.error(str(path), "no landmark lines")
        annotations.rejected.add(path.stem)
        return
    annotations.records.append(Record(key=path.stem, points=np.array(points, dtype=np.float64), where=str(path)))
