"""Find a folder's images and annotation files, and decide the format.

Files are recognised by content where the name is not enough (a JSON is
COCO or LabelMe by its keys). When several formats are present, the most
specific one is used and the others are named in a warning. Annotation
files are grouped — per file for table-like formats, per folder for
one-file-per-image formats — and groups that annotate the same images are
annotators (``annotated_by_X/``, ``CollectedData_A.csv`` + ``_B.csv``).

Only files inside the folder the user named are read: a link leading out
of it is an error unless ``allow_outside`` is set, and so is a file whose
name is not UTF-8 (it could not be stored with the predictions).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from benchsuite.api import ERROR, WARNING, PluginError, Problem, one_line

from . import READERS
from .imagefiles import is_image

_PER_IMAGE = {"labelme", "points"}  # one annotation file per image: grouped by folder


@dataclass
class Found:
    format: str
    groups: dict[str, list[Path]]  # group (annotator) name -> its annotation files
    images: list[Path]
    problems: list[Problem] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)  # the folders files may be read from

    def inside(self, path: Path) -> bool:
        """Whether ``path`` (links followed) lies in one of the dataset's folders."""
        real = path.resolve()
        return any(real.is_relative_to(root.resolve()) for root in self.roots)


def files_under(root: Path) -> list[Path]:
    """Every regular file below root, sorted, skipping hidden files and folders."""
    found = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p == "__pycache__" for p in parts) or not path.is_file():
            continue
        found.append(path)
    return found


def _usable(files: list[Path], roots: list[Path], allow_outside: bool, problems: list[Problem]) -> list[Path]:
    """The files that may be read; the others are reported (a link out of the folder, a non-UTF-8 name)."""
    kept = []
    probe = Found("", {}, [], roots=roots)
    for path in files:
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:
            problems.append(Problem(one_line(str(path)), "file name is not valid UTF-8: rename the file", ERROR))
            continue
        if not allow_outside and not probe.inside(path):
            problems.append(Problem(str(path), f"links outside the dataset folder (to {path.resolve()}); pass "
                                               "allow_outside=true to read files from there", ERROR))
            continue
        kept.append(path)
    return kept


def discover(path: Path, format: str | None = None, images_root: Path | None = None,
             allow_outside: bool = False) -> Found:
    if format is not None and format not in READERS:
        raise PluginError(f"unknown format {format!r} (known: {', '.join(READERS)})")
    problems: list[Problem] = []
    if path.is_file():
        detected = format or _sniff(path, set())
        if detected is None:
            raise PluginError(f"{path}: not a landmark file this suite reads (formats: {', '.join(READERS)})")
        roots = [images_root or _beside(path), path.parent]
        images = _usable([p for p in files_under(roots[0]) if is_image(p)], roots, allow_outside, problems)
        return Found(detected, {path.stem: [path]}, images, problems, roots)
    if not path.is_dir():
        raise PluginError(f"{path}: no such file or folder")
    roots = [path] + ([images_root] if images_root else [])
    files = _usable(files_under(path), roots, allow_outside, problems)
    images = ([p for p in _usable(files_under(images_root), roots, allow_outside, problems) if is_image(p)]
              if images_root else [p for p in files if is_image(p)])
    if not files and not problems:
        raise PluginError(f"{path}: empty folder (no images, no annotation files)")
    stems = {p.stem for p in images}
    by_format: dict[str, list[Path]] = {}
    for candidate in files:
        if is_image(candidate):
            continue
        detected = _sniff(candidate, stems, only=format) or _damaged_json(candidate, stems, format, problems)
        if detected:
            by_format.setdefault(detected, []).append(candidate)
    if not by_format:
        if problems:
            raise PluginError(problems[0].line())
        wanted = f"{format} files" if format else "annotation files (.tps, CollectedData_*.csv, COCO or LabelMe .json, .csv, per-image .txt)"
        raise PluginError(f"{path}: {len(images)} images but no {wanted}")
    chosen = next(name for name in READERS if name in by_format)
    found = Found(chosen, _groups(path, chosen, by_format[chosen]), images, problems, roots)
    for other, paths in by_format.items():
        if other != chosen:
            found.problems.append(Problem(
                str(paths[0]), f"{len(paths)} {other} file(s) found but not used: the folder is read as {chosen} "
                               f"(pass --format {other} to read those instead)", WARNING))
    return found


def _beside(annotation: Path) -> Path:
    """Where a lone annotation file's images are: its folder, or the one above when its own has none
    (``landmark-examples/x.tps`` beside ``image-examples/``)."""
    if any(is_image(p) for p in annotation.parent.iterdir()):
        return annotation.parent
    return annotation.parent.parent


def _sniff(path: Path, image_stems: set[str], only: str | None = None) -> str | None:
    for name, reader in READERS.items():
        if only is not None and name != only:
            continue
        if name == "points" and path.stem not in image_stems:
            continue  # a text file is landmarks only when an image has its name
        if reader.sniff(path):
            return name
    return None


def _damaged_json(path: Path, image_stems: set[str], format: str | None, problems: list[Problem]) -> str | None:
    """A ``.json`` no reader recognised because it does not parse (truncated, damaged): named as such, never
    taken for missing. Beside an image of its name it is that image's LabelMe file, whose reader reports it."""
    if path.suffix.lower() != ".json" or format not in (None, "labelme"):
        return None
    try:
        json.loads(path.read_bytes())
        return None
    except (OSError, ValueError) as exc:
        if path.stem in image_stems:
            return "labelme"
        problems.append(Problem(str(path), f"not valid JSON ({one_line(str(exc))}): a damaged annotation file?",
                                ERROR))
        return None


def _groups(root: Path, format: str, files: list[Path]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for path in files:
        owner = path.parent if format in _PER_IMAGE else path.with_suffix("")
        name = owner.relative_to(root).as_posix() if owner != root else root.name
        groups.setdefault(name, []).append(path)
    return groups
