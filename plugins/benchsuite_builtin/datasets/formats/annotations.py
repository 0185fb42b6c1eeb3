"""The common model every format reader produces, and small parsing helpers.

A reader turns annotation files into ``Record``s: one per annotated image,
its points exactly as the file writes them (NaN where missing), and where
it came from, so that every later message can name the file and the line.
Pairing with images, the y flip and validation happen once, afterwards
(``folder.py``), the same way for every format.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

import numpy as np

from benchsuite.api import ERROR, WARNING, Problem


class NestedTooDeeply(ValueError):
    """A JSON file nested deeper than Python's parser follows: no landmark format is, so it is hostile or broken."""


def read_json(path: Path):
    """A JSON file's content; a ValueError for one that does not parse, including one nested too deeply (which
    Python's parser meets with a RecursionError)."""
    try:
        return json.loads(path.read_bytes())
    except RecursionError:
        raise NestedTooDeeply("nested too deeply: a landmark file is a few levels deep, this one thousands") from None


MISSING_TOKENS = {"", "na", "nan", "n/a", "none", "null", "?"}
# How the landmark writers mark what ``benchsuite predict`` wrote, and the readers recognise it: a TPS
# COMMENT=, a LabelMe flag, a COCO description, the DeepLabCut scorer. Whoever proofreads removes the mark.
PREDICTED = "predicted by benchsuite"
PREDICTED_SCORER = "benchsuite"


def is_prediction_mark(text) -> bool:
    return isinstance(text, str) and text.strip().lower().startswith(PREDICTED)


def mark_predicted(annotations: "Annotations", since: int) -> None:
    """The records read from one marked file (those from ``since`` on) are predictions, not annotations."""
    for record in annotations.records[since:]:
        record.predicted = True


@dataclass
class Record:
    """One image's annotation as read from its file."""

    key: str  # the identifier that pairs it with an image (normally the image's stem)
    points: np.ndarray  # (n, 2) x, y as written; NaN = missing
    where: str  # file and line/row/block, for messages
    image: str | None = None  # the image reference the file gives (IMAGE=, file_name, a relative path)
    image_path: Path | None = None  # where that reference points to, when the format says exactly
    image_hint: Path | None = None  # where a path in a name-matched reference points (TPS IMAGE=): it picks one
    # of several images of that name and explains a miss, but an image is still found by its name first
    y_up: bool = False  # y counts from the image's bottom edge (TPS)
    scale: float | None = None  # physical size of one pixel, when the file gives it
    size: tuple[int, int] | None = None  # (width, height) the file claims for its image
    predicted: bool = False  # the file marks these landmarks as the suite's own predictions, not yet proofread


@dataclass
class Annotations:
    """Everything one reader got from one group of files (one annotator)."""

    format: str
    landmark_names: list[str]
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)  # keys whose annotation exists but is unusable (already an error)

    def error(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message, ERROR))

    def warn(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message, WARNING))


def number(text) -> float:
    """A coordinate: NaN for the usual spellings of 'missing', ValueError if not a number."""
    if text is None:
        return math.nan
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    token = str(text).strip()
    if token.lower() in MISSING_TOKENS:
        return math.nan
    value = float(token)  # raises ValueError with the token in its message
    if math.isinf(value):
        raise ValueError(f"infinite coordinate {token!r}")
    return value


def image_key(reference: str) -> str:
    """The identifier of an image reference: its file name without suffix, whatever the path style."""
    name = PureWindowsPath(reference.strip()).name if "\\" in reference else Path(reference.strip()).name
    return Path(name).stem


def natural_key(text: str):
    """Sort "l2" before "l10"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def numbered_names(count: int) -> list[str]:
    """Names for formats that only number their landmarks: L1, L2, ..."""
    return [f"L{i}" for i in range(1, count + 1)]
