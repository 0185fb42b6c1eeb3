"""``folder``: a user's own images and landmark file(s), no code to write.

``{ name = "folder", path = "my/wings", format = "tps" }`` in a grid, or
``benchsuite run -d my/wings``, or ``benchsuite datasets check my/wings``.
The format is detected when not given. Relative paths are relative to the
working directory. Only files inside the folder are read: a link or an
image reference leading out of it is an error unless ``allow_outside =
true``. Reading is lazy (instantiating is free) and done once
per instance; images are decoded only when the trainer asks for them, and
their content hash keys the core's letterbox cache. Landmarks (a method's
predictions) are written back in the formats labs correct them in with
:meth:`FolderDataset.write_landmarks`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

import numpy as np

from benchsuite import api, toolkit
from benchsuite.api import ERROR, WARNING, CheckReport, PluginError, Problem, Sample
from benchsuite.hookspecs import hookimpl

from .formats import FORMAT_NAMES, WRITERS, writing
from .formats.assemble import Loaded, Options, load
from .formats.imagefiles import IMAGE_SUFFIXES, page_count, read_image

_DIGESTS: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256, for the whole process


class FolderDataset(api.Dataset):
    name = "folder"
    description = f"Your own images + landmark files ({', '.join(FORMAT_NAMES)}); params path, format, annotator"
    opens_folders = True
    image_suffixes = IMAGE_SUFFIXES
    writes = tuple(WRITERS)  # tps, labelme, dlc, coco, csv

    def __init__(self, path: str, format: str | None = None, annotator: str | None = None, images: str | None = None,
                 y_origin: str | None = None, outside: str = "keep", unannotated: str = "error",
                 landmark_names: list[str] | None = None, groups: str | None = None,
                 allow_outside: bool = False):
        if format is not None and format not in FORMAT_NAMES:
            raise PluginError(f"folder: unknown format {format!r} (known: {', '.join(FORMAT_NAMES)})")
        self.path = Path(path).expanduser()
        self.options = Options(format=format, annotator=annotator, y_origin=y_origin, outside=outside,
                               unannotated=unannotated, images=Path(images).expanduser() if images else None,
                               landmark_names=list(landmark_names) if landmark_names else None,
                               allow_outside=allow_outside)
        self.options.validate()
        self.groups = groups
        if groups not in (None, "none"):
            try:
                self._group_pattern = re.compile(groups)
            except re.error as exc:
                raise PluginError(f"folder: groups must be 'none' or a regular expression, got {groups!r} ({exc})")
        self._loaded: Loaded | None = None

    # --- the dataset contract ------------------------------------------------

    @property
    def landmark_names(self) -> list[str]:
        return self.loaded().landmark_names

    @property
    def pixel_size_mm(self) -> float | None:
        return self.loaded().pixel_size_mm

    def samples(self) -> list[Sample]:
        loaded = self.loaded()
        errors = loaded.errors
        if errors:
            more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
            raise PluginError(f"{errors[0].line()}{more}; run `benchsuite datasets check {self.path}` for all of them")
        if not loaded.samples:
            raise PluginError(f"{self.path}: no usable annotated image")
        return [dataclasses.replace(s, group=self._group(s.id, loaded.format)) for s in loaded.samples]

    def _group(self, sample_id: str, format: str) -> str | None:
        """Images that must stay in one fold: a DeepLabCut video's frames by default, or what ``groups`` says
        (a regular expression on the sample id: its first group, else the whole match; ``none``: no groups)."""
        if self.groups == "none":
            return None
        if self.groups is None:
            return sample_id.split("/", 1)[0] if format == "dlc" and "/" in sample_id else None
        match = self._group_pattern.search(sample_id)
        if match is None:
            raise PluginError(f"{self.path}: sample {sample_id!r} does not match the groups pattern {self.groups!r}")
        return match.group(1) if match.groups() else match.group(0)

    def load_image(self, sample_id: str) -> np.ndarray:
        return read_image(self._image(sample_id))

    def image_path(self, sample_id: str) -> Path:
        return self._image(sample_id)

    @classmethod
    def read_image_file(cls, path: Path) -> np.ndarray:
        return read_image(Path(path))

    def predicted_ids(self) -> frozenset[str]:
        return frozenset(self.loaded().predicted)

    def image_key(self, sample_id: str) -> str:
        """sha256 of the image file, remembered per path, mtime and size."""
        path = self._image(sample_id)
        stat = path.stat()
        memo = (str(path), stat.st_mtime_ns, stat.st_size)
        if memo not in _DIGESTS:
            _DIGESTS[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
        return _DIGESTS[memo]

    def check(self) -> CheckReport:
        """Everything readable plus every problem; each image decoded once."""
        loaded = self.loaded()
        problems = list(loaded.problems)
        usable = []
        for sample in loaded.samples:
            path = loaded.images[sample.id]
            try:
                read_image(path)
            except PluginError as exc:
                problems.append(Problem(str(path), str(exc).removeprefix(f"{path}: "), ERROR))
                continue
            if path.suffix.lower() in (".tif", ".tiff") and page_count(path) > 1:
                problems.append(Problem(str(path), f"{page_count(path)} pages: the first one is used", WARNING))
            usable.append(sample)
        report = CheckReport(str(self.path), loaded.landmark_names, usable, problems, format=loaded.format)
        self._annotator_notes(report, loaded)
        if loaded.pixel_size_mm:
            report.notes["pixel size"] = f"{loaded.pixel_size_mm:g} mm"
        predicted = len(loaded.predicted & {s.id for s in usable})
        if predicted:
            report.notes["not proofread"] = (f"{predicted} of {len(usable)} images hold benchsuite's predictions "
                                             "(marked 'predicted by benchsuite'); remove the mark once proofread")
        return report

    @classmethod
    def write_landmarks(cls, format: str, records: list[Sample], landmark_names: list[str], path: Path,
                        images: dict[str, Path], *, overwrite: bool = False, annotator: str | None = None) -> list[Path]:
        """The files, each the exact inverse of this dataset's reader for the format (see the format's module)."""
        if format not in WRITERS:
            raise PluginError(f"folder: cannot write format {format!r} (writes: {', '.join(WRITERS)})")
        return writing.write(WRITERS[format], records, landmark_names, Path(path), images,
                             overwrite=overwrite, annotator=annotator)

    # --- helpers ---------------------------------------------------------------

    def loaded(self) -> Loaded:
        if self._loaded is None:
            self._loaded = load(self._resolved_path(), self.options)
        return self._loaded

    def _resolved_path(self) -> Path:
        return Path(os.path.abspath(self.path))

    def _image(self, sample_id: str) -> Path:
        try:
            return self.loaded().images[sample_id]
        except KeyError:
            raise PluginError(f"{self.path}: unknown sample id {sample_id!r}") from None

    def human_error(self) -> float | None:
        """The other annotators' mean radial error against the ground truth (their mean), None with one annotator."""
        loaded = self.loaded()
        errors = [mre for mre, images in _inter_annotator(loaded.samples, loaded).values() if images]
        return float(np.mean(errors)) if errors else None

    def _annotator_notes(self, report: CheckReport, loaded: Loaded) -> None:
        if not loaded.others:
            return
        report.notes["annotators"] = f"{', '.join([loaded.annotator, *loaded.others])} (ground truth: {loaded.annotator})"
        for name, (mre, images) in _inter_annotator(report.samples, loaded).items():
            if images:
                mm = f" = {mre * loaded.pixel_size_mm:.3f} mm" if loaded.pixel_size_mm else ""
                report.notes[f"inter-annotator MRE ({name} vs {loaded.annotator})"] = (
                    f"{mre:.2f} px{mm} over {images} images (human-level reference)")


def _inter_annotator(samples: list[Sample], loaded: Loaded) -> dict[str, tuple[float, int]]:
    """Each other annotator's (MRE against the ground truth, images compared) on these samples."""
    truth = {s.id: s.landmarks for s in samples}
    return {name: inter_annotator_mre(truth, theirs) for name, theirs in loaded.others.items()}


def inter_annotator_mre(truth: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> tuple[float, int]:
    """Mean over shared images of the per-image mean radial error; landmarks missing on either side skipped."""
    shared = sorted(set(truth) & set(other))
    if not shared:
        return float("nan"), 0
    theirs, ours = np.stack([other[k] for k in shared]), np.stack([truth[k] for k in shared])
    return toolkit.mean_radial_error(theirs, ours), int(np.isfinite(toolkit.per_image_errors(theirs, ours)).sum())


@hookimpl
def register_datasets(register):
    register(FolderDataset)
