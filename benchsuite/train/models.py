"""Model folders: a trained method kept so a lab can landmark new images with it.

A model folder holds ``model.json`` (what the method is: its architecture or
method, encoder and codec with their parameters, the protocol, the landmark
names, the versions) and one *member* folder per trained copy, in the
method's own format (:meth:`benchsuite.api.Method.save`: a network's
safetensors weights, dlib's ``.dat``, the mean shape's JSON). Several members
form an ensemble (the k fold models of a cross-validation): their
coordinates are averaged. Nothing here is ever unpickled: safetensors and
JSON cannot carry code. Folders of the first format (a network member as
``<member>.safetensors`` beside ``model.json``) still load.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchsuite import __version__, api
from benchsuite.api import PluginError, Sample
from benchsuite.components import Component
from benchsuite.protocol import protocol_from_identity
from benchsuite.train import methods

FORMAT, READS = "benchsuite-model/2", ("benchsuite-model/1", "benchsuite-model/2")
MANIFEST = "model.json"


@dataclass
class ModelInfo:
    """What ``model.json`` says."""

    folder: Path
    data: dict[str, Any]

    @property
    def members(self) -> list[str]:
        return list(self.data["members"])

    @property
    def landmark_names(self) -> list[str]:
        return list(self.data["landmark_names"])


def describe(cell, landmark_names: list[str], method: str | None = None) -> dict[str, Any]:
    """The manifest of a cell's model: everything needed to rebuild and use it, nothing about its fold's images."""
    return {
        "format": FORMAT, "benchsuite": __version__, "dataset": cell.dataset.label, "method": method or cell.method,
        "architecture": cell.architecture.as_dict(), "encoder": cell.encoder.as_dict() if cell.encoder else None,
        "codec": cell.codec.as_dict() if cell.codec else None, "protocol": cell.protocol.identity(),
        "landmark_names": list(landmark_names), "versions": dict(cell.versions), "members": [],
    }


def save(folder: Path, manifest: dict, method: api.Method, member: str = "model") -> None:
    """A fitted method in its own format, in the member folder ``member``, and the manifest naming it."""
    (folder / member).mkdir(parents=True, exist_ok=True)
    method.save(folder / member)
    _add_member(folder, manifest, member)


def _add_member(folder: Path, manifest: dict, member: str) -> None:
    manifest["members"] = sorted(set(manifest.get("members", [])) | {member})
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))


def read_info(folder: Path) -> ModelInfo:
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PluginError(f"{folder}: not a model folder (no {MANIFEST}; make one with benchsuite fit)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PluginError(f"{path}: unreadable ({exc.__class__.__name__})") from None
    if data.get("format") not in READS:
        raise PluginError(f"{path}: not a model folder this version reads (format {data.get('format')!r}; it reads "
                          f"{', '.join(READS)})")
    return ModelInfo(Path(folder), data)


def ensemble(folders: list[Path], out: Path) -> ModelInfo:
    """The k fold models of one configuration packaged as one model: their predictions are averaged."""
    infos = [read_info(f) for f in folders]
    first = dict(infos[0].data)
    same = ("architecture", "encoder", "codec", "landmark_names")
    for info in infos[1:]:
        if any(info.data[k] != first[k] for k in same):
            raise PluginError(f"{info.folder}: not the same configuration as {infos[0].folder}")
    out.mkdir(parents=True, exist_ok=False)
    first["members"], first["format"] = [], FORMAT
    for index, info in enumerate(infos):
        for member in info.members:
            name = f"fold{index}-{member}"
            source = info.folder / member
            if source.is_dir():
                shutil.copytree(source, out / name)
            else:  # a network member of the first format: its weights become a member folder
                (out / name).mkdir()
                shutil.copyfile(info.folder / f"{member}.safetensors", out / name / methods.WEIGHTS)
            first["members"].append(name)
    (out / MANIFEST).write_text(json.dumps(first, indent=1, default=str))
    return read_info(out)


def load(info: ModelInfo, registry, member: str) -> api.Method:
    """One fitted member of a model folder, made by the registry with the parameters model.json records."""
    data = info.data
    protocol = protocol_from_identity(data["protocol"])
    architecture = Component.from_dict(data["architecture"])
    folder = info.folder / member
    method = methods.make(registry, architecture, Component.from_dict(data["encoder"]),
                          Component.from_dict(data["codec"]))
    if isinstance(method, methods.NetworkMethod):
        weights = folder / methods.WEIGHTS if folder.is_dir() else info.folder / f"{member}.safetensors"
        return method.restore(weights, len(info.landmark_names), protocol)
    return type(method).load(folder, architecture.plugin_params, methods.training(protocol))


def predict(info: ModelInfo, registry, samples: list[Sample], images: api.Images,
            progress: Callable[[int], None] | None = None, batch: int = 16) -> np.ndarray:
    """(len(samples), n_landmarks, 2) predictions in original pixels, averaged over the model's members."""
    members = [load(info, registry, member) for member in info.members]
    n_landmarks, outputs = len(info.landmark_names), []
    for start in range(0, len(samples), batch):
        part = samples[start:start + batch]
        outputs.append(np.mean([methods.predict(m, part, images, n_landmarks) for m in members], axis=0))
        if progress:
            progress(len(part))
    return np.concatenate(outputs) if outputs else np.zeros((0, n_landmarks, 2))
