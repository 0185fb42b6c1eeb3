"""Pre-training on several datasets' shared landmarks, then fine-tuning
(the beetle paper, section 7).

A grid's architecture entry may carry a ``pretrain`` table::

    { name = "beetle-cnn", pretrain = { datasets = ["beetle-pronotum", "beetle-head", "beetle-elytra"],
                                        landmarks = 8, epochs = 10000 } }

Before a cell trains on its own dataset, the network is trained on the union
of the listed datasets' training parts *of the same fold* — so no test image
of any of them is ever seen — restricted to the shared landmarks (the first
``landmarks`` ones, or a list of names; a dataset entry may carry its own
``landmarks`` list, as the beetle paper drops different landmarks of each
part). Then every weight whose shape fits is
copied into the cell's network (an output layer sized for another landmark
count starts afresh) and training continues on the cell's own data.
Pre-trained weights are cached in the run folder under a hash of everything
that determines them, so the nine rounds × five datasets of the paper
pre-train nine times, not forty-five.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from benchsuite.api import PluginError, Sample
from benchsuite.files import write_atomic
from benchsuite.splits import split_samples
from benchsuite.train import inputs, loop
from benchsuite.train.augment import for_dataset
from benchsuite.train.networks import build_network

_KEYS = {"datasets", "landmarks", "epochs"}


def _datasets(spec: dict[str, Any], registry) -> list[tuple[Any, Any]]:
    """(dataset, its shared landmarks) pairs; an entry's own ``landmarks`` overrides the spec's."""
    entries = spec.get("datasets")
    if not isinstance(entries, list) or not entries:
        raise PluginError("pretrain needs a non-empty 'datasets' list")
    datasets = []
    for entry in entries:
        params = dict(entry) if isinstance(entry, dict) else {"name": entry}
        params.pop("label", None)
        name = params.pop("name")
        landmarks = params.pop("landmarks", spec.get("landmarks"))
        dataset = registry.create("datasets", name, params)
        datasets.append((dataset, len(dataset.landmark_names) if landmarks is None else landmarks))
    return datasets


def _subset(dataset, landmarks) -> list[int]:
    """Indices of the shared landmarks in this dataset."""
    names = list(dataset.landmark_names)
    if isinstance(landmarks, int):
        if landmarks > len(names):
            raise PluginError(f"pretrain: dataset {dataset.name!r} has only {len(names)} landmarks, not {landmarks}")
        return list(range(landmarks))
    missing = [n for n in landmarks if n not in names]
    if missing:
        raise PluginError(f"pretrain: dataset {dataset.name!r} lacks landmarks {missing}")
    return [names.index(n) for n in landmarks]


def _restricted(samples: list[Sample], indices: list[int]) -> list[Sample]:
    return [dataclasses.replace(s, landmarks=s.landmarks[indices]) for s in samples]


def _cache_key(spec: dict[str, Any], cell, exclude_groups: set[str]) -> str:
    identity = cell.identity()
    identity.pop("dataset")  # the target dataset does not change what pre-training learns
    identity["architecture"]["params"] = cell.architecture.plugin_params
    text = json.dumps({"pretrain": spec, **identity, **({"exclude_groups": sorted(exclude_groups)}
                                                         if exclude_groups else {})}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _train(spec, cell, registry, arch, encoder, codec, exclude_groups: set[str]) -> dict[str, torch.Tensor]:
    protocol = cell.protocol
    if spec.get("epochs"):
        protocol = dataclasses.replace(protocol, epochs=int(spec["epochs"]))
    train_parts, val_parts, n_shared = [], [], None
    for dataset, landmarks in _datasets(spec, registry):
        indices = _subset(dataset, landmarks)
        n_shared = len(indices)
        train, val, _test = split_samples(dataset, protocol, cell.fold)
        train, val = ([s for s in part if s.group not in exclude_groups] for part in (train, val))
        train_parts.append(inputs.training_set(dataset, _restricted(train, indices), protocol))
        val_parts.append(inputs.prepare(dataset, _restricted(val, indices), protocol))
    if len({p.landmarks.shape[1] for p in train_parts}) != 1:
        raise PluginError("pretrain: the datasets' shared landmark subsets differ in size")
    model = build_network(arch, codec, encoder, n_shared, protocol.channels)
    no_flips = dataclasses.replace(protocol, hflip=0.0)  # the shared subset declares no left/right pairs
    loop.train(model, codec, inputs.concat(train_parts), inputs.concat(val_parts), protocol,
                   augmentation=for_dataset(no_flips, None))
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def transfer(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> tuple[int, list[str]]:
    """Copy every tensor whose name and shape match; return (copied, skipped names)."""
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
    return len(fitting), sorted(set(own) - set(fitting))


def pretrain_into(model, spec: dict[str, Any], cell, registry, arch, encoder, codec, workdir: Path | None,
                  exclude_groups: set[str] = frozenset()) -> dict:
    """Pre-train (or reuse cached pre-trained weights) and load them into ``model``.

    Images of ``exclude_groups`` (the groups of the target's test fold: the same individual imaged for
    another body part) never enter pre-training.
    """
    if not isinstance(spec, dict) or set(spec) - _KEYS:
        raise PluginError(f"pretrain must be a table with keys {sorted(_KEYS)}, got {spec!r}")
    key = _cache_key(spec, cell, set(exclude_groups))
    path = Path(workdir) / "pretrained" / f"{key}.pt" if workdir else None
    cached = path is not None and path.is_file()
    if cached:
        state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        state = _train(spec, cell, registry, arch, encoder, codec, set(exclude_groups))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, lambda handle: torch.save(state, handle))
    copied, skipped = transfer(model, state)
    return {"key": key, "cached": cached, "tensors_copied": copied, "tensors_reinitialised": skipped}
