"""Run grid cells and store each one's result, resuming where a run stopped."""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchsuite import environment, pretraining, training
from benchsuite.api import PluginError, Sample
from benchsuite.augment import for_dataset
from benchsuite.cells import Cell, Component
from benchsuite.plugins import Registry
from benchsuite.splits import split_samples
from benchsuite.store import RunStore


@dataclass
class RunSummary:
    done: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)  # already complete
    failed: list[tuple[Cell, str]] = field(default_factory=list)


def _instantiate(registry: Registry, kind: str, component):
    if component is None:
        return None
    cls = registry.get(kind, component.name).cls
    try:
        return cls(**component.params)
    except TypeError as exc:
        raise PluginError(f"{kind[:-1]} {component.label}: bad parameters: {exc}") from None


def predictions_table(names: list[str], samples: list[Sample], predicted: np.ndarray) -> pd.DataFrame:
    """One row per image × landmark, in original pixels."""
    n = len(names)
    truth = np.stack([s.landmarks for s in samples]).reshape(-1, 2)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame(
        {
            "image_id": np.repeat([s.id for s in samples], n),
            "landmark": np.tile(names, len(samples)),
            "x": truth[:, 0],
            "y": truth[:, 1],
            "pred_x": predicted[:, 0],
            "pred_y": predicted[:, 1],
        }
    )


def compute_cell(cell: Cell, registry: Registry, on_epoch=None, workdir: Path | None = None) -> tuple[dict, pd.DataFrame]:
    """Train, select and predict one cell; return its record and predictions."""
    protocol = cell.protocol
    dataset = _instantiate(registry, "datasets", cell.dataset)
    train, val, test = split_samples(dataset, protocol, cell.fold)
    arch_params = dict(cell.architecture.params)
    pretrain_spec = arch_params.pop("pretrain", None)
    arch = _instantiate(registry, "architectures", Component(cell.architecture.name, arch_params))
    record = {"split": {"train": len(train), "val": len(val), "test": len(test)},
              "pixel_size_mm": getattr(dataset, "pixel_size_mm", None)}
    torch.manual_seed(protocol.seed)
    if not arch.outputs:  # a codec-free baseline sees training and validation landmarks
        predicted = arch.fit_predict(train + val, test)
    else:
        encoder = _instantiate(registry, "encoders", cell.encoder)
        codec = _instantiate(registry, "codecs", cell.codec)
        model = arch.build(in_channels=protocol.channels, out_channels=codec.out_channels(len(dataset.landmark_names)),
                           output=codec.output, encoder=encoder)
        if pretrain_spec:
            record["pretrain"] = pretraining.pretrain_into(model, pretrain_spec, cell, registry, arch, encoder, codec,
                                                           workdir)
        report = training.train(model, codec, training.training_set(dataset, train, protocol),
                                training.prepare(dataset, val, protocol), protocol, on_epoch,
                                for_dataset(protocol, dataset))
        predicted = training.predict(model, codec, training.prepare(dataset, test, protocol), protocol)
        record |= {
            "epochs_run": report.epochs_run,
            "best_epoch": report.best_epoch,
            "best_val_loss": report.best_val_loss,
            "train_images_per_s": report.train_images_per_s,
            "train_seconds": report.train_seconds,
            "parameters": sum(p.numel() for p in model.parameters()),
            "device": str(training.device()),
        }
    if not np.all(np.isfinite(predicted)):
        raise FloatingPointError("the model predicted non-finite coordinates")
    return record, predictions_table(dataset.landmark_names, test, predicted)


def run_cells(cells: list[Cell], registry: Registry, store: RunStore, executor, force: bool = False,
              progress=None) -> RunSummary:
    """Run every cell not yet complete; a failing cell is recorded and the grid goes on."""
    summary = RunSummary()
    store.remove_stale_temporaries()
    todo = []
    for cell in cells:
        if not force and store.status(cell.id) == "ok":
            summary.skipped.append(cell)
        else:
            todo.append(cell)
    if progress:
        progress.start(len(cells), len(summary.skipped))
    for cell, error in executor.map(lambda c: _run_and_store(c, registry, store, progress), todo):
        if error is None:
            summary.done.append(cell)
        else:
            summary.failed.append((cell, error))
    if progress:
        progress.finish()
    return summary


def _run_and_store(cell: Cell, registry: Registry, store: RunStore, progress) -> tuple[Cell, str | None]:
    if progress:
        progress.cell_started(cell)
    started = time.time()
    record = {"id": cell.id, "config": cell.identity(), "dataset": cell.dataset.label, "method": cell.method,
              "fold": cell.fold, "started": started} | environment.describe()
    error = predictions = None
    try:
        extra, predictions = compute_cell(cell, registry, progress.epoch if progress else None, store.root)
        record |= extra
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, the grid goes on
        error = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    record |= {"status": "ok" if error is None else "failed", "error": error, "wall_seconds": time.time() - started}
    store.write(cell.id, record, predictions)
    if progress:
        progress.cell_finished(cell, error)
    return cell, error
