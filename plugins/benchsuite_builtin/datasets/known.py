"""Named datasets, one plugin class per manifest in ``datasets/*.toml``.

Each is a ``folder`` dataset whose path, format, layout and landmark names
come from its manifest, plus its licence and citation. Where the files are
absent (the seed papers' datasets are not public here) instantiating still
works — grids and ``benchsuite list`` can name them — and ``samples()``
says in one line where to put the files and how to obtain them.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchsuite.api import CheckReport, DatasetMissing, PluginError, Sample
from benchsuite.hookspecs import hookimpl

from . import fetch as fetching
from .folder import FolderDataset
from .formats.assemble import Loaded
from .manifest import default_root, load_manifests, verify, where_to_put


class ManifestDataset(FolderDataset):
    """A dataset described by a manifest; ``root`` overrides where its folder lives."""

    manifest: ClassVar[dict]
    opens_folders = False  # named datasets take a root, not a path

    def __init__(self, root: str | None = None, annotator: str | None = None, outside: str = "keep",
                 groups: str | None = None):
        manifest = self.manifest
        annotators = list(manifest.get("annotators", []))
        if annotator is not None and annotator not in annotators:
            choice = f"one of {', '.join(annotators)}" if annotators else "none (one annotator only)"
            raise PluginError(f"{self.name}: unknown annotator {annotator!r} (annotators: {choice})")
        self.root = Path(root).expanduser() if root else default_root(manifest["kind"])
        self.folder = self.root / manifest["folder"]
        images = manifest.get("images")
        super().__init__(
            path=str(self.folder / manifest.get("annotations", "")), format=manifest.get("format"),
            annotator=annotator or (annotators[0] if annotators else None), outside=outside,
            images=str(self.folder / images) if images else None, landmark_names=manifest["landmark_names"],
            groups=groups or manifest.get("groups"),
        )

    @property
    def landmark_names(self) -> list[str]:
        return list(self.manifest["landmark_names"])  # known without reading any file

    @property
    def pixel_size_mm(self) -> float | None:
        return self.manifest.get("pixel_size_mm") or (super().pixel_size_mm if self.folder.is_dir() else None)

    def loaded(self) -> Loaded:
        if not self.folder.is_dir():
            raise DatasetMissing(where_to_put(self.manifest, self.folder))
        return super().loaded()

    def samples(self) -> list[Sample]:
        samples = super().samples()
        expected = self.manifest.get("expected", {}).get("images")
        if expected is not None and len(samples) != expected:
            raise PluginError(f"{self.folder}: {len(samples)} annotated images, the manifest of {self.name} expects "
                              f"{expected}; run `benchsuite datasets check {self.name}`")
        return samples

    def check(self) -> CheckReport:
        report = super().check()
        report.dataset = f"{self.name} ({self.folder})"
        report.problems += verify(self.manifest, self.folder)
        expected = self.manifest.get("expected", {}).get("images")
        if expected is not None and len(report.samples) != expected:
            report.notes["expected images"] = f"{expected} (manifest) — {len(report.samples)} usable here"
        report.notes["licence"] = self.manifest["licence"]
        report.notes["citation"] = self.manifest["citation"]
        return report

    def fetch(self, progress=print) -> str:
        """Download and unpack the files where the manifest gives a URL; otherwise say where to put them."""
        return fetching.fetch(self.manifest, self.folder, progress)


def _dataset_class(manifest: dict) -> type[ManifestDataset]:
    words = manifest["name"].replace("-", " ").title().replace(" ", "")
    return type(f"{words}Dataset", (ManifestDataset,), {
        "name": manifest["name"], "description": manifest["title"], "manifest": manifest,
        "__module__": __name__, "__doc__": manifest["title"],
    })


DATASETS = [_dataset_class(m) for m in load_manifests()]


@hookimpl
def register_datasets(register):
    for cls in DATASETS:
        register(cls)
