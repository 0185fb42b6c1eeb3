"""What every landmark writer shares: checking its input, naming images, writing files safely.

A format module's ``write(items, landmark_names, folder, annotator)`` returns the files to write
as ``{path relative to the folder: text}``, in the exact inverse of its own reader's conventions;
a ``Path`` in place of the text is a file to copy there (the frames a DeepLabCut project holds).
:func:`write` checks the input before (one bad record is a one-line :class:`PluginError` and
nothing is written) and :func:`commit` writes after: inside the folder only, never over an
existing file unless asked, each file through a temporary file beside it renamed into place,
so that no tool ever sees half a file.
"""
from __future__ import annotations

import math
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchsuite.api import PluginError, Sample

from .imagefiles import image_size


@dataclass(frozen=True)
class Item:
    """One image to write: landmarks in original pixels (pixel-centre convention, NaN = missing), its file."""

    id: str
    landmarks: np.ndarray  # (n, 2); a landmark is missing when either coordinate is NaN
    image: Path  # absolute
    width: int
    height: int

    def points(self):
        """(x, y) per landmark, None where missing."""
        return [None if math.isnan(x) else (float(x), float(y)) for x, y in self.landmarks]


def write(module, records: list[Sample], landmark_names: list[str], folder: Path, images: dict[str, Path],
          overwrite: bool = False, annotator: str | None = None) -> list[Path]:
    folder = Path(os.path.abspath(Path(folder).expanduser()))
    items = prepare(records, landmark_names, images)
    return commit(folder, module.write(items, list(landmark_names), folder, annotator), overwrite)


def prepare(records: list[Sample], landmark_names: list[str], images: dict[str, Path]) -> list[Item]:
    """The records, checked: known landmark count, finite or NaN coordinates, an existing image of the stated size."""
    names = list(landmark_names)
    if not names or any(not isinstance(n, str) or not n.strip() for n in names):
        raise PluginError(f"landmark names must be non-empty text, got {names!r}")
    if len(set(names)) != len(names):
        raise PluginError(f"landmark names must differ, got {names!r}")
    if not records:
        raise PluginError("no landmarks to write")
    items, seen = [], set()
    for record in records:
        if record.id in seen:
            raise PluginError(f"sample {record.id!r} given twice")
        seen.add(record.id)
        points = np.array(record.landmarks, dtype=np.float64)
        if points.shape != (len(names), 2):
            raise PluginError(f"sample {record.id!r}: landmarks of shape {points.shape}, expected ({len(names)}, 2)")
        if np.isinf(points).any():
            raise PluginError(f"sample {record.id!r}: infinite coordinate")
        points[np.isnan(points).any(axis=1)] = np.nan
        if record.id not in images:
            raise PluginError(f"sample {record.id!r}: no image file given (the written files must name it)")
        image = Path(os.path.abspath(Path(images[record.id]).expanduser()))
        if not image.is_file():
            raise PluginError(f"{image}: no such image (sample {record.id!r})")
        width, height = image_size(image)
        if tuple(record.size) != (width, height):
            raise PluginError(f"{image}: is {width}×{height} but sample {record.id!r} says "
                              f"{record.size[0]}×{record.size[1]}")
        items.append(Item(record.id, points, image, width, height))
    return items


def relative(image: Path, folder: Path) -> str:
    """The image as the written file names it: relative to the file's folder, with forward slashes."""
    try:
        return Path(os.path.relpath(image, folder)).as_posix()
    except ValueError:  # another drive (Windows): only an absolute path reaches it
        return image.as_posix()


def unique(items: list[Item], key, what: str) -> None:
    """Refuse two images the format (or its reader) could not tell apart."""
    seen: dict[object, Item] = {}
    for item in items:
        other = seen.setdefault(key(item), item)
        if other is not item:
            raise PluginError(f"{other.image} and {item.image} would both be {what} {key(item)!r}: "
                              "write them to separate folders")


def commit(folder: Path, files: dict[str, str | Path], overwrite: bool) -> list[Path]:
    """Write every file or none: all targets are checked first, then written through temporary files."""
    if folder.exists() and not folder.is_dir():
        raise PluginError(f"{folder}: not a folder")
    root = folder.resolve()
    targets = []
    for name, text in files.items():
        target = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts or not target.resolve().is_relative_to(root):
            raise PluginError(f"{target}: outside the folder {folder}; nothing written")
        if target.is_dir():
            raise PluginError(f"{target}: is a folder; nothing written")
        if (target.exists() or target.is_symlink()) and not overwrite:
            raise PluginError(f"{target}: already exists; nothing written (replace it with --overwrite, or write "
                              "elsewhere with --out)")
        targets.append((target, text))
    temporaries = []
    try:
        for target, text in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"  # hidden: no reader picks it up
            temporaries.append(temporary)
            if isinstance(text, Path):
                with text.open("rb") as source, temporary.open("xb") as stream:
                    shutil.copyfileobj(source, stream)
            else:
                with temporary.open("x", encoding="utf-8", newline="") as stream:
                    stream.write(text)
        for (target, _), temporary in zip(targets, temporaries):
            os.replace(temporary, target)
    except OSError as exc:
        raise PluginError(f"{folder}: cannot write ({exc.strerror or exc})") from None
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    return [target for target, _ in targets]
