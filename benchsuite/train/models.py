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
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchsuite import __version__, api
from benchsuite.api import PluginError, Sample, one_line
from benchsuite.components import Component
from benchsuite.files import write_text_atomic
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
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, default=str))


# what model.json must hold, and of which kind: a damaged or hand-edited one is refused before anything loads
_ENTRIES = (("architecture", dict), ("encoder", (dict, type(None))), ("codec", (dict, type(None))),
            ("protocol", dict), ("landmark_names", list), ("members", list))


def read_info(folder: Path) -> ModelInfo:
    """``model.json``, checked as a whole: its entries, and members that are folders inside the model folder."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PluginError(f"{folder}: not a model folder (no {MANIFEST}; make one with benchsuite fit)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PluginError(f"{path}: unreadable ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") not in READS:
        found = data.get("format") if isinstance(data, dict) else None
        raise PluginError(f"{path}: not a model folder this version reads (format {found!r}; it reads "
                          f"{', '.join(READS)})")
    for key, kind in _ENTRIES:
        if key not in data:
            raise PluginError(f"{path}: no {key!r} entry (damaged or edited by hand; fit the model again)")
        if not isinstance(data[key], kind):
            raise PluginError(f"{path}: {key!r} is {type(data[key]).__name__}, not what benchsuite fit writes")
    names = data["landmark_names"]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise PluginError(f"{path}: 'landmark_names' must be a non-empty list of names, got {names!r}")
    if not data["members"]:
        raise PluginError(f"{path}: lists no members, so there is no trained model to predict with")
    info = ModelInfo(Path(folder), data)
    for member in info.members:
        member_place(info, member)
    return info


def member_place(info: ModelInfo, member) -> Path:
    """A member's folder (or a first-format network's weights file): a name in the model folder, never a path."""
    manifest = info.folder / MANIFEST
    if not isinstance(member, str) or not member.strip():
        raise PluginError(f"{manifest}: member {member!r} is not the name of a folder in the model folder")
    if Path(member).is_absolute() or ".." in re.split(r"[\\/]", member):
        raise PluginError(f"{manifest}: member {member!r} leads outside the model folder; a model folder holds its "
                          "own members")
    if member != Path(member).name or "\\" in member:
        raise PluginError(f"{manifest}: member {member!r} is not the name of a folder in the model folder")
    for place in (info.folder / member, info.folder / f"{member}.safetensors"):
        if place.exists():
            inside(info, place)
            return place
    raise PluginError(f"{info.folder / member}: missing, though {MANIFEST} lists it as a member")


def inside(info: ModelInfo, path: Path) -> Path:
    """``path`` when it lies in the model folder once links are followed."""
    if not path.resolve().is_relative_to(info.folder.resolve()):
        raise PluginError(f"{path}: leads outside the model folder (to {path.resolve()}); refused")
    return path


def ensemble(folders: list[Path], out: Path, trained_on: dict | None = None) -> ModelInfo:
    """The k fold models of one configuration packaged as one model: their predictions are averaged."""
    infos = [read_info(f) for f in folders]
    first = dict(infos[0].data)
    same = ("architecture", "encoder", "codec", "landmark_names")
    for info in infos[1:]:
        if any(info.data[k] != first[k] for k in same):
            raise PluginError(f"{info.folder}: not the same configuration as {infos[0].folder}")
    out.mkdir(parents=True, exist_ok=False)
    first["members"], first["format"] = [], FORMAT
    if trained_on is not None:
        first["trained_on"] = trained_on
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
    write_text_atomic(out / MANIFEST, json.dumps(first, indent=1, default=str))
    return read_info(out)


def load(info: ModelInfo, registry, member: str) -> api.Method:
    """One fitted member of a model folder, made by the registry with the parameters model.json records; any
    member file that is not what fit writes (a pickle, a truncated file, weights of another shape) is one line."""
    data = info.data
    place = member_place(info, member)
    try:
        protocol = protocol_from_identity(data["protocol"])
        architecture = Component.from_dict(data["architecture"])
        method = methods.make(registry, architecture, Component.from_dict(data["encoder"]),
                              Component.from_dict(data["codec"]))
    except (PluginError, KeyError, TypeError, ValueError) as exc:
        raise PluginError(f"{info.folder / MANIFEST}: {one_line(str(exc))}") from None
    n_landmarks = len(info.landmark_names)
    if isinstance(method, methods.NetworkMethod):
        weights = inside(info, place / methods.WEIGHTS if place.is_dir() else place)
        _check_landmark_count(info, place, n_landmarks)
        return method.restore(weights, n_landmarks, protocol, state=read_weights(weights))
    try:
        return type(method).load(place, architecture.plugin_params, methods.training(protocol))
    except PluginError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise PluginError(f"{place}: not a member {architecture.name} can load ({type(exc).__name__}: "
                          f"{one_line(str(exc))}); fit the model again") from None


def read_weights(path: Path) -> dict:
    """A network member's tensors from safetensors; a pickle in its place is refused unread, never unpickled."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise PluginError(f"{path}: missing (a network member keeps its weights there)") from None
    if not head:
        raise PluginError(f"{path}: empty file, not network weights; fit the model again")
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        raise PluginError(f"{path}: a pickle (torch.save) in place of safetensors weights: refused, never unpickled")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise PluginError(f"{path}: not readable safetensors weights ({one_line(str(exc))}); truncated? fit the "
                          "model again") from None


def _check_landmark_count(info: ModelInfo, place: Path, n_landmarks: int) -> None:
    """The landmark count the member was trained for (its network.json) against the names in model.json."""
    shape = place / methods.SHAPE
    if not place.is_dir() or not shape.is_file():
        return  # a first-format member: its weights' shapes are checked against the configuration instead
    try:
        trained = json.loads(inside(info, shape).read_text())["landmarks"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PluginError(f"{shape}: unreadable ({type(exc).__name__})") from None
    if trained != n_landmarks:
        raise PluginError(f"{shape}: the member was trained for {trained} landmarks, {MANIFEST} names {n_landmarks}")


def load_members(info: ModelInfo, registry) -> list[api.Method]:
    """Every member, loaded and checked before any image is read."""
    return [load(info, registry, member) for member in info.members]


def predict(info: ModelInfo, members: list[api.Method], samples: list[Sample], images: api.Images,
            progress: Callable[[int], None] | None = None, batch: int = 16) -> np.ndarray:
    """(len(samples), n_landmarks, 2) predictions in original pixels, averaged over the model's members."""
    n_landmarks, outputs = len(info.landmark_names), []
    for start in range(0, len(samples), batch):
        part = samples[start:start + batch]
        outputs.append(np.mean([methods.predict(m, part, images, n_landmarks) for m in members], axis=0))
        if progress:
            progress(len(part))
    return np.concatenate(outputs) if outputs else np.zeros((0, n_landmarks, 2))
