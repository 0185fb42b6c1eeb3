"""What a dry run says about each cell before anything trains: its input, epochs, weights, and a time estimate.

The estimate times a few bare training steps of each distinct network on this machine (random inputs of the
cell's shape) and scales them by the fold's training images and the epochs, capped by the time budget. It is
an upper bound: early stopping usually ends training sooner. Where earlier folds of the same configuration
have completed (in this run or another under the same results folder), their learning curves say instead
when it converged and how long it trained, and whether the budget stopped it while it was still improving.
A method without a network estimates its own fit (``fit_seconds``, a small probe of its own on this
machine), where it can.
"""
from __future__ import annotations

import dataclasses
import json
import math
import statistics
from pathlib import Path

import torch

from benchsuite.api import counted, duration, extent, spread, trains_networks
from benchsuite.run.curves import converged, starved
from benchsuite.run.environment import usable_cpus
from benchsuite.run.store import RunStore
from benchsuite.splits import training_images, training_part
from benchsuite.train import speed
from benchsuite.train.networks import build_network

MAX_NETWORKS = 12  # beyond this many distinct networks, a dry run does not time them (it would take too long)


def describe_cells(cells, registry, earlier: dict[str, list[dict]] | None = None
                   ) -> dict[str, tuple[str, float | None]]:
    """cell id -> ("input 160×128, ≤300 epochs, budget 10 min, from scratch, ≈ 8 min here", seconds or None);
    ``earlier``: configuration id -> records of its completed folds (:func:`earlier_trainings`)."""
    earlier = earlier or {}
    speeds: dict[str, float | None] = {}
    networks = {_network_key(c) for c in cells if _is_network(registry, c)}
    timed = len(networks) <= MAX_NETWORKS
    sizes: dict[str, tuple[int, int]] = {}
    fits: dict[str, float | None] = {}
    texts = {}
    for cell in cells:
        arch_cls = registry.method_class(cell.architecture.name)
        protocol = cell.protocol
        measured = _measured(earlier[cell.configuration_id]) if earlier.get(cell.configuration_id) else None
        width, height = extent(protocol.input_size)
        if not trains_networks(arch_cls):
            key = json.dumps([cell.architecture.as_dict(), cell.dataset.as_dict(), protocol.folds], default=str)
            if key not in fits:
                fits[key] = _fit_seconds(cell, registry, sizes)
            texts[cell.id] = ("no network: fits on the original images, no epochs" + (
                "" if fits[key] is None else f", {_minutes(fits[key] / 60)}"), fits[key])
            continue
        if not _is_network(registry, cell):  # it trains its own networks: no bare network of the cell's to time
            budget = f", budget {protocol.max_minutes:g} min in all" if protocol.max_minutes else ""
            text = f"trains its own networks: input {width}×{height}, ≤{protocol.epochs} epochs{budget}"
            seconds = 60 * protocol.max_minutes if protocol.max_minutes else None
            if measured:
                text, seconds = f"{text}, {measured[0]}", measured[1]
            texts[cell.id] = (text, seconds)
            continue
        parts = [f"input {width}×{height}", f"≤{protocol.epochs} epochs"]
        if protocol.max_minutes:
            parts.append(f"budget {protocol.max_minutes:g} min")
        parts.append(_pretrained(cell))
        key, seconds = _network_key(cell), None
        if measured:  # measured beats timed: it knows when the curve flattened
            texts[cell.id] = (", ".join(parts + [measured[0]]), measured[1])
            continue
        if timed and key not in speeds:
            speeds[key] = _images_per_s(cell, registry)
        if speeds.get(key):
            n_train = training_images(_dataset_shape(cell, registry, sizes)[0], protocol.folds,
                                      protocol.val_fraction)
            minutes = protocol.epochs * max(1, n_train) / speeds[key] / 60
            if protocol.max_minutes and minutes > protocol.max_minutes:  # the budget, not the epochs, ends it
                fit = int(protocol.max_minutes * 60 * speeds[key] / max(1, n_train))
                parts[2] += f": ≤{fit} epochs here"  # the report marks ‖ a network it stops still improving
                minutes = protocol.max_minutes
            parts.append(_minutes(minutes))
            seconds = 60 * minutes
        texts[cell.id] = (", ".join(parts), seconds)
    return texts


def earlier_trainings(results: Path | None) -> dict[str, list[dict]]:
    """configuration id -> the records of its network cells completed with a learning curve in any run under
    ``results`` (each cell once): how that configuration trained on its earlier folds."""
    found: dict[str, dict[str, dict]] = {}
    runs = sorted(p for p in results.iterdir() if (p / "cells").is_dir()) if results and results.is_dir() else []
    for run in runs:
        for record in RunStore(run).records():
            if record.get("status") == "ok" and isinstance(record.get("learning_curve"), list) \
                    and record["learning_curve"] and isinstance(record.get("configuration_id"), str):
                found.setdefault(record["configuration_id"], {})[record.get("id")] = record
    return {configuration: list(records.values()) for configuration, records in found.items()}


def _measured(records: list[dict]) -> tuple[str, float | None]:
    """("5 earlier trainings of this configuration: converged by epoch 150–210 (5–7 min), trained 8–10 min", the
    median training seconds), with how many the budget stopped still improving."""
    points = [c for c in map(converged, records) if c]
    took = [float(r["train_seconds"]) for r in records if _seconds(r.get("train_seconds"))]
    text = f"{counted(len(records), 'earlier training')} of this configuration"
    if points:
        text += f": converged by epoch {spread([e for e, _ in points])}"
        when = [s for _, s in points if s is not None]
        text += f" ({_span(when)})" if when else ""
    hungry = sum(map(starved, records))
    if hungry:
        text += f"{',' if points else ':'} {hungry} stopped by the budget still improving (more time would help)"
    if took:
        text += f", trained {_span(took)}"
    return text, statistics.median(took) if took else None


def _seconds(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _span(seconds: list[float]) -> str:
    """"5–7 min", "20–45 s" or "under 1 s": a range of durations in the unit that suits the longest."""
    if max(seconds) < 0.5:
        return "under 1 s"
    if max(seconds) < 60:
        return f"{spread([round(s) for s in seconds])} s"
    return f"{spread([round(s / 60) for s in seconds])} min"


def total_estimate(details: dict[str, tuple[str, float | None]], executor=None) -> str:
    """"; about 42 min of computing here (about 21 min over 2 workers)": the cells' estimates added up."""
    seconds = [s for _, s in details.values()]
    known = sum(s for s in seconds if s is not None)
    if not seconds or not known:
        return ""
    if any(s is None for s in seconds):
        return f"; at least {duration(known)} of computing here (some cells have no estimate)"
    workers = min(getattr(executor, "parallel", 1) or 1, len(seconds))
    spread = f" (about {duration(known / workers)} over {workers} workers)" if workers > 1 else ""
    return f"; about {duration(known)} of computing here{spread}"


def _network_key(cell) -> str:
    return json.dumps([cell.architecture.as_dict(), cell.encoder.as_dict() if cell.encoder else None,
                       cell.codec.as_dict() if cell.codec else None, cell.protocol.identity()], default=str)


def _is_network(registry, cell) -> bool:
    return registry.method_kind(cell.architecture.name) == "architectures"


def _pretrained(cell) -> str:
    """How the network starts: the grid has checked that its weights file is there and unaltered, and loading
    is strict, so "pretrained" means every tensor of it is loaded (unless the user allowed a partial load)."""
    params = [cell.architecture.plugin_params, cell.encoder.plugin_params if cell.encoder else {}]
    if cell.architecture.core("pretrain"):
        return "pre-trained first"
    if not any(p.get("weights") for p in params):
        return "from scratch"
    return "partly pretrained (partial = true)" if any(p.get("partial") for p in params) else "pretrained"


def _images_per_s(cell, registry) -> float | None:
    """Training images per second of this cell's bare network on this machine (a few steps on random inputs)."""
    try:
        arch = registry.create("architectures", cell.architecture.name, cell.architecture.plugin_params)
        encoder = registry.create("encoders", cell.encoder.name, cell.encoder.plugin_params) if cell.encoder else None
        codec = registry.create("codecs", cell.codec.name, cell.codec.params)
        dataset = registry.create("datasets", cell.dataset.name, cell.dataset.plugin_params)
        torch.manual_seed(0)
        model = build_network(arch, codec, encoder, len(dataset.landmark_names), cell.protocol.channels)
        small = dataclasses.replace(cell.protocol, batch_size=min(2, cell.protocol.batch_size))
        return speed.bare_images_per_s(model, codec, len(dataset.landmark_names), small, steps=1, warmup=1)
    except Exception:  # noqa: BLE001 - an estimate never stops a dry run; the run itself reports the problem
        return None


def _minutes(minutes: float) -> str:
    return f"≈ {minutes:.0f} min here" if minutes >= 1 else "< 1 min here"


def _fit_seconds(cell, registry, sizes) -> float | None:
    """A method's own estimate of its fit on the fold's training and validation images."""
    try:
        method = registry.create("methods", cell.architecture.name, cell.architecture.plugin_params)
        return method.fit_seconds(_fold_images(cell, registry, sizes), _dataset_shape(cell, registry, sizes)[1],
                                  threads=usable_cpus())
    except Exception:  # noqa: BLE001 - an estimate never stops a dry run; the run itself reports the problem
        return None


def _fold_images(cell, registry, sizes) -> int:
    """The images of a fold's training part (training and validation images)."""
    return training_part(_dataset_shape(cell, registry, sizes)[0], cell.protocol.folds)


def _dataset_shape(cell, registry, sizes: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """(images, landmarks) of the cell's dataset, read once per dataset."""
    key = json.dumps(cell.dataset.as_dict(), default=str)
    if key not in sizes:
        dataset = registry.create("datasets", cell.dataset.name, cell.dataset.plugin_params)
        sizes[key] = len(dataset.samples()), len(dataset.landmark_names)
    return sizes[key]
