"""Model folders: a trained method kept so a lab can landmark new images with it.

A model folder holds ``model.json`` (what the method is: its architecture,
encoder and codec with their parameters, the protocol, the landmark names,
the network input, the versions) and one *member* per trained copy: a
``<member>.safetensors`` state dict for a network, or a ``<member>/`` folder
in the method's own format for a codec-free method (dlib's ``.dat``, the mean
shape's JSON). Several members form an ensemble (the k fold models of a
cross-validation): their decoded coordinates are averaged. Nothing here is
ever unpickled: safetensors and JSON cannot carry code.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchsuite import __version__
from benchsuite.api import PluginError, Sample

FORMAT = "benchsuite-model/1"
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

    @property
    def codec_free(self) -> bool:
        return self.data["codec"] is None


def describe(cell, landmark_names: list[str], method: str | None = None) -> dict[str, Any]:
    """The manifest of a cell's model: everything needed to rebuild and use it, nothing about its fold's images."""
    return {
        "format": FORMAT, "benchsuite": __version__, "dataset": cell.dataset.label, "method": method or cell.method,
        "architecture": cell.architecture.as_dict(), "encoder": cell.encoder.as_dict() if cell.encoder else None,
        "codec": cell.codec.as_dict() if cell.codec else None, "protocol": cell.protocol.identity(),
        "landmark_names": list(landmark_names), "versions": dict(cell.versions), "members": [],
    }


def save_network(folder: Path, manifest: dict, model, member: str = "model") -> None:
    """A trained network's weights (safetensors) and its manifest."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / f"{member}.safetensors"))
    _add_member(folder, manifest, member)


def save_codec_free(folder: Path, manifest: dict, method, member: str = "model") -> None:
    """A fitted codec-free method in its own format, and its manifest."""
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
    if data.get("format") != FORMAT:
        raise PluginError(f"{path}: not a {FORMAT} model (format {data.get('format')!r})")
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
    first["members"] = []
    for index, info in enumerate(infos):
        for member in info.members:
            name = f"fold{index}-{member}"
            source = info.folder / member
            if source.is_dir():
                shutil.copytree(source, out / name)
            else:
                shutil.copyfile(info.folder / f"{member}.safetensors", out / f"{name}.safetensors")
            first["members"].append(name)
    (out / MANIFEST).write_text(json.dumps(first, indent=1, default=str))
    return read_info(out)


class _Images:
    """New images as the core's input pipeline reads them: by id, no annotation, no cache."""

    name = "images"
    pixel_size_mm = None
    flip_pairs = None

    def __init__(self, landmark_names: list[str], load: Callable[[str], np.ndarray]):
        self.landmark_names = landmark_names
        self.load_image = load

    def image_key(self, sample_id: str) -> None:
        return None


def predict(info: ModelInfo, registry, samples: list[Sample], load_image: Callable[[str], np.ndarray],
            progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(len(samples), n_landmarks, 2) predictions in original pixels, averaged over the model's members."""
    data = info.data
    arch_params = {k: v for k, v in data["architecture"]["params"].items() if k != "pretrain"}
    outputs = []
    if info.codec_free:
        cls = registry.get("architectures", data["architecture"]["name"]).cls
        for member in info.members:
            method = cls.load(info.folder / member, arch_params)
            outputs.append(np.asarray(method.predict([s.id for s in samples], load_image), dtype=float))
        if progress:
            progress(len(samples))
        return np.mean(outputs, axis=0)
    import dataclasses

    from safetensors.torch import load_file

    from benchsuite.protocol import Protocol
    from benchsuite.train import inputs, loop
    from benchsuite.train.networks import build_network

    protocol_data = dict(data["protocol"])
    if isinstance(protocol_data.get("input_size"), list):
        protocol_data["input_size"] = tuple(protocol_data["input_size"])
    protocol = Protocol(name=protocol_data.pop("name", "model"), **{k: v for k, v in protocol_data.items()
                                                                       if k in Protocol.__dataclass_fields__})
    arch = registry.create("architectures", data["architecture"]["name"], arch_params)
    encoder = (registry.create("encoders", data["encoder"]["name"], data["encoder"]["params"])
               if data["encoder"] else None)
    codec = registry.create("codecs", data["codec"]["name"], data["codec"]["params"])
    images = _Images(info.landmark_names, load_image)
    unannotated = [dataclasses.replace(s, landmarks=np.full((len(info.landmark_names), 2), np.nan)) for s in samples]
    models = []
    for member in info.members:
        model = build_network(arch, codec, encoder, len(info.landmark_names), protocol.channels)
        model.load_state_dict(load_file(str(info.folder / f"{member}.safetensors")))
        models.append(model)
    batch = max(1, protocol.batch_size)
    for start in range(0, len(unannotated), batch):
        part = unannotated[start:start + batch]
        prepared = inputs.prepare(images, part, protocol)
        outputs.append(np.mean([loop.predict(m, codec, prepared, protocol) for m in models], axis=0))
        if progress:
            progress(len(part))
    return np.concatenate(outputs) if outputs else np.zeros((0, len(info.landmark_names), 2))
