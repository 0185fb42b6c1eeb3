"""``benchsuite predict MODEL IMAGES... --to FORMAT``: landmarks for new images, in the lab's own tool's format.

IMAGES are image files or folders of them. When they are one folder the
suite can read as an annotated dataset, the predictions are also compared
with those annotations (so a lab can check a model on a new batch). The
landmarks are written by the dataset plugin that declares the format in
its ``writes`` (TPS for tpsDig, a DeepLabCut CollectedData CSV, LabelMe
JSON, COCO keypoints, CSV), ready for proofreading.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchsuite.api import Images, PluginError, Sample
from benchsuite.distance import mean_radial_error, per_image_errors, radial_errors
from benchsuite.files import sha256
from benchsuite.train import models


@dataclass
class Predicted:
    samples: list[Sample]  # landmarks = the predictions, original pixels
    images: dict[str, Path]  # sample id -> image file
    landmark_names: list[str]
    truth: dict[str, np.ndarray] = field(default_factory=dict)  # annotated images only, those scored
    files: list[Path] = field(default_factory=list)  # what was written
    unscored: dict[str, list[str]] = field(default_factory=dict)  # why annotated images were not scored -> ids

    def errors(self) -> dict[str, np.ndarray]:
        """Per annotated image, each landmark's radial error in original pixels (NaN where not annotated)."""
        return {s.id: radial_errors(s.landmarks, self.truth[s.id]) for s in self.samples if s.id in self.truth}


def folder_reader(registry):
    return registry.the_one("datasets", lambda cls: cls.opens_folders, "able to open a folder (opens_folders)")


def _annotated(paths: list[Path], registry, landmark_names: list[str]):
    """The dataset one folder of annotated images makes, or None (with the reason) when it is just images."""
    if len(paths) != 1 or not paths[0].is_dir():
        return None, None
    try:
        dataset = registry.create("datasets", folder_reader(registry).name, {"path": str(paths[0]),
                                                                              "unannotated": "ignore"})
        samples = dataset.samples()
    except PluginError as exc:
        return None, str(exc)
    if len(dataset.landmark_names) != len(landmark_names):
        raise PluginError(f"{paths[0]}: annotated with {len(dataset.landmark_names)} landmarks, the model predicts "
                          f"{len(landmark_names)}")
    return (dataset, samples), None


def image_files(paths: list[Path], suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Image files named directly or found (not recursively) in folders, by a unique id (the file's stem)."""
    found: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            raise PluginError(f"{path}: no such file or folder")
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith(".")) \
            if path.is_dir() else [path]
        for file in files:
            if file.suffix.lower() not in suffixes:
                raise PluginError(f"{file}: not an image file this suite reads ({', '.join(suffixes)})")
            key = file.stem if file.stem not in found else f"{file.parent.name}/{file.stem}"
            if key in found:
                raise PluginError(f"{file}: two images named {file.stem}; predict them in separate calls")
            found[key] = file
    if not found:
        raise PluginError(f"{', '.join(map(str, paths))}: no image files ({', '.join(suffixes)})")
    return found


def predict(model_folder: Path, paths: list[Path], registry, progress=None, note=None) -> Predicted:
    """Predict every image; compare with the annotations where the images are an annotated folder."""
    info = models.read_info(model_folder)
    members = models.load_members(info, registry)
    reader = folder_reader(registry).cls
    annotated, why_not = _annotated(paths, registry, info.landmark_names)
    if annotated is not None:
        dataset, samples = annotated
        source = Images.of(dataset, samples)
        images = {s.id: dataset.image_path(s.id) for s in samples}
        truth = {s.id: s.landmarks for s in samples}
        unscored = {NOT_PROOFREAD: sorted(dataset.predicted_ids() & set(truth))}
    else:
        if why_not and note:
            note(f"{paths[0]}: read as images only, without annotations ({why_not})")
        files = image_files(paths, reader.image_suffixes)
        arrays: dict[str, np.ndarray] = {}

        def load(sample_id: str) -> np.ndarray:
            if sample_id not in arrays:
                arrays.clear()  # one image at a time in memory
                arrays[sample_id] = reader.read_image_file(files[sample_id])
            return arrays[sample_id]

        samples = []
        for key, file in files.items():
            image = load(key)
            samples.append(Sample(key, np.full((len(info.landmark_names), 2), np.nan), (image.shape[1], image.shape[0])))
        images, truth, unscored = files, {}, {}
        source = Images("images", load, sizes={s.id: s.size for s in samples})
    learnt = training_images(info, images)
    if learnt and not truth and note:
        note(f"{len(learnt)} of the {len(images)} images were training images of this model (recognised by content)")
    if truth:
        unscored[TRAINING] = sorted(learnt & set(truth) - set(unscored[NOT_PROOFREAD]))
    predicted = models.predict(info, members, samples, source, progress)
    out = [dataclasses.replace(s, landmarks=p) for s, p in zip(samples, predicted)]
    for ids in unscored.values():
        for sample_id in ids:
            truth.pop(sample_id, None)
    echoed = sorted(s.id for s in out if s.id in truth and _same_points(s.landmarks, truth[s.id]))
    if echoed and len(echoed) == len(truth):
        unscored[OWN_OUTPUT] = echoed  # the annotations are this very model's output, whatever marks them
        truth = {}
    result = Predicted(out, images, info.landmark_names, truth, unscored={k: v for k, v in unscored.items() if v})
    if annotated is not None and "images" not in info.data.get("trained_on", {}):
        result.unscored[UNRECORDED] = []
    return result


TRAINING = "were training images of this model (recognised by content): not scored"
NOT_PROOFREAD = "hold benchsuite's own predictions, not proofread annotations: not scored"
OWN_OUTPUT = "hold exactly this model's predictions, so they are its own output, not annotations: not scored"
UNRECORDED = ("this model folder does not record its training images (fit it again to have them recognised): "
              "the error may include images it learnt from")


def training_images(info: models.ModelInfo, images: dict[str, Path]) -> set[str]:
    """The samples whose image file has the content of one the model learnt from, whatever its name now."""
    digests = set(info.data.get("trained_on", {}).get("images", []))
    return {sample_id for sample_id, path in images.items() if digests and sha256(path) in digests}


def _same_points(predicted: np.ndarray, truth: np.ndarray) -> bool:
    """Equal to the precision landmark files keep (five decimals): the written predictions read back."""
    both = np.isfinite(predicted) & np.isfinite(truth)
    return bool(both.any()) and bool(np.all(np.abs(predicted[both] - truth[both]) < 1e-3))


def default_folder(images: dict[str, Path], fmt: str) -> Path:
    """Where the files go without ``--out``: beside the images, where tpsDig and LabelMe look for them and
    ``datasets check`` reads them back; DeepLabCut's layout is a project of its own, with the frames copied in."""
    if fmt == "dlc":
        return Path("predictions")
    folders = sorted({Path(p).parent for p in images.values()})
    if len(folders) > 1:
        shown = ", ".join(map(str, folders[:3])) + (f" and {len(folders) - 3} more" if len(folders) > 3 else "")
        raise PluginError(f"the images lie in {len(folders)} folders ({shown}): choose where the landmark files go "
                          "with --out")
    return folders[0]


def write(result: Predicted, registry, fmt: str, out: Path, overwrite: bool = False) -> list[Path]:
    """The predictions in ``fmt``, through the dataset plugin that writes it."""
    writers = registry.select("datasets", lambda cls: fmt in cls.writes)
    if not writers:
        known = sorted({f for e in registry.entries("datasets") for f in e.cls.writes})
        raise PluginError(f"no installed dataset plugin writes {fmt!r} (formats: {', '.join(known) or 'none'})")
    result.files = list(writers[0].cls.write_landmarks(fmt, result.samples, result.landmark_names, out,
                                                       result.images, overwrite=overwrite))
    return result.files


def proofreading(fmt: str, out: Path) -> str:
    """How to open what was written, where the tool needs more than opening the file (DeepLabCut's project)."""
    if fmt != "dlc":
        return ""
    out = out.resolve()
    project = out.parent.parent if out.parent.name == "labeled-data" else out
    config = project / "config.yaml"
    return (f"to proofread in DeepLabCut: deeplabcut.convertcsv2h5('{config}', userfeedback=False), then "
            f"deeplabcut.label_frames('{config}'); to merge into another project, copy {project / 'labeled-data'}/* "
            "into its labeled-data/, rename the CSV after its scorer and list the videos in its video_sets "
            f"(the comments atop a config.yaml benchsuite wrote say the same)")


def error_report(result: Predicted) -> str:
    """Mean radial error against the annotations: overall (mean of per-image means) and per landmark; first,
    which annotated images were not scored, and why."""
    lines = [f"{len(ids)} annotated images {why}" if ids else why for why, ids in result.unscored.items()]
    errors = result.errors()
    if not errors:
        return "\n".join(lines + (["mean radial error: not measured, no annotated image left to score"]
                                   if any(result.unscored.values()) else []))
    annotated = [s for s in result.samples if s.id in result.truth]
    predicted, truth = np.stack([s.landmarks for s in annotated]), np.stack([result.truth[s.id] for s in annotated])
    counted = int(np.isfinite(per_image_errors(predicted, truth)).sum())
    stacked = np.stack(list(errors.values()))
    lines.append(f"mean radial error against the annotations: {mean_radial_error(predicted, truth):.2f} px over "
                 f"{counted} images")
    for name, column in zip(result.landmark_names, stacked.T):
        if np.isfinite(column).any():
            lines.append(f"  {name}: {np.nanmean(column):.2f} px")
    return "\n".join(lines)


def progress_bar(what: str = "predicting"):
    """A callback advancing a bar over the images (rich on a terminal, nothing in a pipe), and its stop."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(what, total=None)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop
