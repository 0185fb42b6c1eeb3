"""Run grid cells and store each one's result, resuming where a run stopped."""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchsuite import api
from benchsuite.api import PluginError, Sample
from benchsuite.train import models
from benchsuite.plugins import Registry
from benchsuite.plugins import registry as plugin_registry
from benchsuite.run import environment
from benchsuite.run.cells import Cell
from benchsuite.run.grid import dataset_params, split_table
from benchsuite.run.store import RunStore
from benchsuite.splits import split_samples
from benchsuite.train import inputs, loop, pretraining, speed
from benchsuite.train.augment import flip_permutation, for_dataset
from benchsuite.train.networks import build_network


@dataclass
class Outcome:
    """What happened to one cell in this run."""

    cell: Cell
    status: str  # done | failed | busy (another process holds it) | skipped (already complete)
    error: str | None = None
    warning: str | None = None  # done, but the result is suspect (e.g. the network collapsed)


@dataclass
class RunSummary:
    done: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)  # already complete
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    busy: list[Cell] = field(default_factory=list)  # being computed by another process or job
    pending: list[Cell] = field(default_factory=list)  # submitted, not finished yet

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "failed":
            self.failed.append((outcome.cell, outcome.error))
        else:
            getattr(self, outcome.status).append(outcome.cell)


def predictions_table(names: list[str], samples: list[Sample], predicted: np.ndarray) -> pd.DataFrame:
    """One row per image × landmark, in original pixels, with the image's size (hit rates at δ need it)."""
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
            "width": np.repeat([s.size[0] for s in samples], n),
            "height": np.repeat([s.size[1] for s in samples], n),
        }
    )


def compute_cell(cell: Cell, registry: Registry, on_epoch=None, workdir: Path | None = None,
                 runtime: loop.Runtime | None = None, model_folder: Path | None = None,
                 on_phase=None) -> tuple[dict, pd.DataFrame]:
    """Train on the fold's training part, select on its validation part, predict its test part.

    The record holds the validation error (mean radial error in original pixels): the only error a nested
    selection may choose on. With ``model_folder`` the trained method is kept there (see
    :mod:`benchsuite.train.models`) so that it can predict new images later.
    """
    protocol = cell.protocol
    dataset = registry.create("datasets", cell.dataset.name, dataset_params(cell.dataset))
    table = split_table(registry, cell.dataset, dataset)
    train, val, test = split_samples(dataset, protocol, cell.fold, table)
    arch_params = dict(cell.architecture.params)
    pretrain_spec = arch_params.pop("pretrain", None)
    arch = registry.create("architectures", cell.architecture.name, arch_params)
    record = {"split": {"train": len(train), "val": len(val), "test": len(test)},
              "folds": len(table.folds) if table else protocol.folds, "pixel_size_mm": dataset.pixel_size_mm,
              "human_error": dataset.human_error()}
    if cell.selection():
        group, label, chosen = cell.selection()
        record["selection"] = {"group": group, "label": label, "values": chosen}
    say = on_phase or (lambda text: None)
    torch.manual_seed(protocol.seed)
    if not arch.outputs:
        inputs.check_images(dataset, train + val + test, protocol)  # a corrupt image fails every method alike
        learns_from_val = not arch.takes_training and not cell.selection()
        given = val if learns_from_val or arch.takes_training else []
        say(f"fitting on {len(train) + len(given)} images")
        predict = fit_codec_free(arch, dataset, train, given, record, protocol, on_epoch)
        if learns_from_val:
            val = []  # they were training images: their error is no validation error
        if model_folder is not None:
            models.save_codec_free(model_folder, models.describe(cell, dataset.landmark_names), arch)
    else:
        say(f"training on {len(train)} images, validating on {len(val)}")
        predict, model = fit_network(cell, registry, arch, dataset, train, val, test, pretrain_spec, record,
                                      on_epoch, workdir, runtime, say)
        if model_folder is not None:
            models.save_network(model_folder, models.describe(cell, dataset.landmark_names), model)
    say(f"predicting {len(val)} validation and {len(test)} test images" if val and not arch.outputs else
        f"predicting {len(test)} test images")  # a network's validation points come from its best epoch
    if val:
        record["val_mre"] = mean_radial_error(val, predict(val))
    predicted = predict(test)
    if not np.all(np.isfinite(predicted)):
        raise FloatingPointError("the model predicted non-finite coordinates")
    return record, predictions_table(dataset.landmark_names, test, predicted)


def fit_codec_free(arch, dataset, train: list[Sample], val: list[Sample], record: dict, protocol=None,
                   on_epoch=None):
    """A codec-free method learns from the training and the validation images it is given; one that trains
    networks (``takes_training``) is told which are validation, for its early stopping, and gets the protocol.
    In a nested selection it is given none, so that its validation error is one (see :func:`compute_cell`)."""
    started = time.perf_counter()
    if arch.takes_training:
        pairs = dataset.flip_pairs
        training = api.Training(protocol, frozenset(s.id for s in val), on_epoch,
                                flip_permutation(dataset.landmark_names, pairs) if pairs else None)
        arch.fit(train + val, dataset.load_image, threads=torch.get_num_threads(), training=training)
    else:
        arch.fit(train + val, dataset.load_image, threads=torch.get_num_threads())
    record["train_seconds"] = time.perf_counter() - started

    def predict(samples: list[Sample]) -> np.ndarray:
        predicted = np.asarray(arch.predict([s.id for s in samples], dataset.load_image), dtype=np.float64)
        expected = (len(samples), len(dataset.landmark_names), 2)
        if predicted.shape != expected:
            raise PluginError(f"architecture {arch.name}: predict() returned shape {predicted.shape}, "
                              f"expected {expected}")
        return predicted

    return predict


def fit_network(cell: Cell, registry: Registry, arch, dataset, train, val, test, pretrain_spec, record: dict,
                 on_epoch, workdir, runtime, say=lambda text: None):
    """Train with early stopping on validation; the network keeps its best-validation weights."""
    protocol = cell.protocol
    encoder = registry.create("encoders", cell.encoder.name, cell.encoder.params) if cell.encoder else None
    codec = registry.create("codecs", cell.codec.name, cell.codec.params)
    model = build_network(arch, codec, encoder, len(dataset.landmark_names), protocol.channels)
    if pretrain_spec:
        record["pretrain"] = pretraining.pretrain_into(model, pretrain_spec, cell, registry, arch, encoder, codec,
                                                       workdir, exclude_groups={s.group for s in test if s.group})
        torch.manual_seed(protocol.seed)  # fine-tuning starts alike whether pre-training ran or was cached
    val_data = inputs.prepare(dataset, val, protocol)
    report = loop.train(model, codec, inputs.training_set(dataset, train, protocol), val_data, protocol, on_epoch,
                        for_dataset(protocol, dataset), runtime, predict_validation=True)
    say("measuring the bare network's speed")
    compute = json.dumps([c and c.as_dict() for c in (cell.architecture, cell.encoder, cell.codec)], default=str)
    measuring = time.perf_counter()
    bare = speed.bare_images_per_s(model, codec, len(dataset.landmark_names), protocol, runtime, compute,
                                   max_seconds=max(5.0, 0.05 * report.train_seconds))  # ≤ 5 % of the training
    record["ceiling_seconds"] = time.perf_counter() - measuring  # 0 where an earlier cell measured it
    ceiling, efficiency = speed.pipeline_efficiency(report.train_images_per_s, report.fastest_epoch_images_per_s, bare)
    record |= {
        "epochs_run": report.epochs_run,
        "best_epoch": report.best_epoch,
        "best_val_loss": report.best_val_loss,
        "stopped_by": report.stopped_by,
        "train_images_per_s": report.train_images_per_s,
        "train_seconds": report.train_seconds,
        "validation_seconds": report.elapsed_seconds - report.train_seconds,
        "bare_images_per_s": ceiling,
        "pipeline_efficiency": efficiency,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(loop.device()),
    }
    if report.best_val_flat is not None:
        record["val_loss_over_flat"] = report.best_val_flat
        record["collapsed"] = bool(report.best_val_flat > codec.collapsed_above)
        record["collapsed_above"] = float(codec.collapsed_above)
        remedy = codec.collapse_remedy() if record["collapsed"] else ""
        if remedy:
            record["collapse_remedy"] = remedy

    def predict(samples: list[Sample]) -> np.ndarray:
        if samples is val and report.best_val_points is not None:
            return report.best_val_points  # decoded while validating the best epoch, with these weights
        return loop.predict(model, codec, inputs.prepare(dataset, samples, protocol), protocol)

    return predict, model


def collapse_warning(record: dict) -> str | None:
    """The warning a collapsed network's cell gets on the progress output, or None."""
    if not record.get("collapsed"):
        return None
    if record.get("stopped_by") == "budget" and record.get("epochs_run", 0) < 10:
        return (f"the network learnt nothing usable: its time budget stopped it after {record['epochs_run']} "
                f"epoch(s), with a validation loss {record['val_loss_over_flat']:.2f} × that of a flat output "
                "(all-zero heatmaps), so its predictions are close to guesses; give it more time (max_minutes, "
                "--budget), a smaller network or input, or a GPU")
    remedy = record.get("collapse_remedy") or "try another codec or codec settings"
    return (f"the network collapsed: its validation loss is {record['val_loss_over_flat']:.2f} × that of a flat "
            f"output (collapsed above {record['collapsed_above']:g}), so its predictions are close to guesses; "
            f"{remedy}")


def mean_radial_error(samples: list[Sample], predicted: np.ndarray) -> float:
    """Mean over images of each image's mean radial error (original pixels), landmarks without truth left out."""
    truth = np.stack([s.landmarks for s in samples])
    distances = np.hypot(*(np.asarray(predicted) - truth).transpose(2, 0, 1))
    per_image = [np.nanmean(d) for d in distances if np.isfinite(d).any()]
    return float(np.mean(per_image)) if per_image else float("nan")


def run_cells(cells: list[Cell], registry: Registry, store: RunStore, executor, force: bool = False,
              progress=None, runtime: loop.Runtime | None = None) -> RunSummary:
    """Run every cell not yet complete; a failing cell is recorded and the grid goes on."""
    summary = RunSummary()
    store.remove_stale_temporaries()
    todo = []
    for cell in cells:
        if not force and store.status(cell.id) == "ok":
            summary.skipped.append(cell)
        else:
            todo.append(cell)
    in_process = getattr(executor, "in_process", False)
    if progress:  # cells run one at a time here: each one's own time adds up (elsewhere only the overall pace)
        progress.start(len(cells), len(summary.skipped), todo if in_process else (),
                       _budgets(todo, registry) if in_process else None)
    work = functools.partial(execute_cell, store_root=store.root, force=force, runtime=runtime,
                             registry=registry if in_process else None, progress=progress if in_process else None)
    for outcome in executor.map(work, todo, store.root):
        summary.add(outcome)
        if progress and not in_process and outcome.status in ("done", "failed"):
            progress.cell_finished(outcome.cell, outcome.error, outcome.warning)
    settled = {*summary.done, *summary.busy, *summary.skipped, *[f for f, _ in summary.failed]}
    summary.pending = [c for c in todo if c not in settled]  # a cell another launcher finished meanwhile is settled
    if progress:
        progress.finish()
    return summary


def _budgets(cells: list[Cell], registry: Registry) -> dict[str, float]:
    """Cell id -> its training time budget in seconds, for cells that train networks under one."""
    return {c.id: 60 * c.protocol.max_minutes for c in cells if c.protocol.max_minutes
            and api.trains_networks(registry.get("architectures", c.architecture.name).cls)}


def execute_cell(cell: Cell, store_root: Path, force: bool = False, runtime: loop.Runtime | None = None,
                 registry: Registry | None = None, progress=None) -> Outcome:
    """Claim, compute and store one cell; safe to call from any process, job or node."""
    store = RunStore(store_root)
    with store.claim(cell.id) as claimed:
        if not claimed:
            return Outcome(cell, "busy")
        if not force and store.status(cell.id) == "ok":  # finished by another process meanwhile
            return Outcome(cell, "skipped")
        if progress:
            progress.cell_started(cell)
        checkpoint = store.checkpoint_path(cell.id)
        runtime = dataclasses.replace(runtime or loop.Runtime(), checkpoint=checkpoint)
        staging = store.staging(cell.id)
        model_folder = staging / "model" if runtime.keep_weights else None
        record, predictions, error = _compute_record(cell, registry or plugin_registry(), progress, store, runtime,
                                                     model_folder)
        if error is not None and model_folder is not None:
            shutil.rmtree(model_folder, ignore_errors=True)
        store.write(cell.id, record, predictions, staging=staging)
        checkpoint.unlink(missing_ok=True)
    warning = collapse_warning(record)
    if progress:
        progress.cell_finished(cell, error, warning)
    return Outcome(cell, "done" if error is None else "failed", error, warning)


def _compute_record(cell: Cell, registry: Registry, progress, store: RunStore, runtime: loop.Runtime,
                    model_folder: Path | None = None):
    started = time.time()
    record = {"id": cell.id, "run": store.root.name, "configuration_id": cell.configuration_id,
              "config": cell.identity(),
              "dataset": cell.dataset.label, "method": cell.method,
              "fold": cell.fold, "started": started, "host": socket.gethostname(), "pid": os.getpid()}
    record |= environment.describe() | environment.use_cpus()  # threads: the CPUs this process was given
    error = predictions = None
    try:
        extra, predictions = compute_cell(cell, registry, progress.epoch if progress else None, store.root, runtime,
                                          model_folder, progress.phase if progress else None)
        record |= extra
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, the grid goes on
        error = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    record |= {"status": "ok" if error is None else "failed", "error": error, "wall_seconds": time.time() - started}
    if "train_seconds" in record:
        record["train_share"] = record["train_seconds"] / record["wall_seconds"]
        # what does not grow with the epochs: reading, preparing, building, predicting, writing
        work = record["train_seconds"] + record.get("validation_seconds", 0.0) + record.get("ceiling_seconds", 0.0)
        record["fixed_seconds"] = max(0.0, record["wall_seconds"] - work)
    return record, predictions, error
