"""Run grid cells and store each one's result, resuming where a run stopped."""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchsuite import api
from benchsuite.api import Sample
from benchsuite.distance import mean_radial_error
from benchsuite.plugins import Registry
from benchsuite.plugins import registry as plugin_registry
from benchsuite.run import environment
from benchsuite.run.cells import Cell
from benchsuite.run.grid import split_table
from benchsuite.run.store import RunStore
from benchsuite.splits import split_samples
from benchsuite.train import inputs, loop, methods, models, pretraining
from benchsuite.train.augment import flip_permutation


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
    """Fit the cell's method on the fold's training part, score it on the validation part where that was held
    out, predict its test part.

    The record holds the validation error (mean radial error in original pixels): the only error a nested
    selection may choose on. With ``model_folder`` the trained method is kept there (see
    :mod:`benchsuite.train.models`) so that it can predict new images later.
    """
    protocol = cell.protocol
    dataset = registry.create("datasets", cell.dataset.name, cell.dataset.plugin_params)
    table = split_table(registry, cell.dataset, dataset)
    train, val, test = split_samples(dataset, protocol, cell.fold, table)
    names = dataset.landmark_names
    record = {"split": {"train": len(train), "val": len(val), "test": len(test)},
              "folds": len(table.folds) if table else protocol.folds, "pixel_size_mm": dataset.pixel_size_mm,
              "human_error": dataset.human_error()}
    if cell.selection():
        group, label, chosen = cell.selection()
        record["selection"] = {"group": group, "label": label, "values": chosen}
    say = on_phase or (lambda text: None)
    torch.manual_seed(protocol.seed)
    method = _method(cell, registry, workdir, runtime, {s.group for s in test if s.group})
    images = api.Images.of(dataset, train + val + test)
    if not isinstance(method, methods.NetworkMethod):
        inputs.check_images(dataset, train + val + test, protocol)  # a corrupt image fails every method alike
    say(f"training on {api.counted(len(train), 'image')}, validating on {len(val)}" if method.uses_validation else
        f"fitting on {api.counted(len(train) + (0 if cell.selection() else len(val)), 'image')}")
    pairs = dataset.flip_pairs
    facts, held_out = methods.fit(method, train, val, images, protocol, selecting=bool(cell.selection()),
                                  on_epoch=on_epoch, flips=flip_permutation(names, pairs) if pairs else None,
                                  runtime=runtime)
    record |= facts
    if held_out and val:  # a network's validation points come from its best epoch, others are predicted here
        points = methods.validation_points(method, val, images, len(names))
        record["val_mre"] = mean_radial_error(points, np.stack([s.landmarks for s in val]))
    say(f"predicting {api.counted(len(test), 'test image')}")
    predicted = methods.predict(method, test, images, len(names))
    if not np.all(np.isfinite(predicted)):
        raise FloatingPointError("the model predicted non-finite coordinates")
    if model_folder is not None:
        models.save(model_folder, models.describe(cell, names), method)
    return record, predictions_table(names, test, predicted)


def _method(cell: Cell, registry: Registry, workdir: Path | None, runtime, exclude_groups: set[str]):
    """The cell's method; a network pre-trained first where its entry asks (never on the test fold's groups)."""
    spec = cell.architecture.core("pretrain")

    def pretrain(network: methods.NetworkMethod) -> dict:
        return pretraining.pretrain_into(network.model, spec, cell, registry, network.architecture, network.encoder,
                                         network.codec, workdir, exclude_groups=exclude_groups)

    speed_key = json.dumps([c and c.as_dict() for c in (cell.architecture, cell.encoder, cell.codec)], default=str)
    return methods.make(registry, cell.architecture, cell.encoder, cell.codec, pretrain=pretrain if spec else None,
                        runtime=runtime, speed_key=speed_key)


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


def device_warning(record: dict, trains_networks: bool) -> str | None:
    """The warning a network cell gets when its executor gave it a GPU (``api.GIVEN_GPU`` in its record as
    ``gpu_given``) but its torch saw no CUDA device, so it trained on the CPU; None otherwise."""
    given = record.get("gpu_given")
    if not given or not trains_networks or str(record.get("device", "cpu")).startswith("cuda"):
        return None
    if (record.get("hardware") or {}).get("gpus"):
        return None
    return (f"it was meant for a GPU ({given}) but trained on the CPU: its torch saw no CUDA device (a CPU-only "
            "torch build, a driver that does not match it, or a scheduler that did not pass the GPU through); "
            "its times and speeds are a CPU's")


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
    if progress:
        progress.start(len(cells), len(summary.skipped), todo, _budgets(todo, registry),
                       parallel=getattr(executor, "parallel", 1))
    work = functools.partial(execute_cell, store_root=store.root, force=force, runtime=runtime,
                             registry=registry if in_process else None, progress=progress if in_process else None)
    for outcome in executor.map(work, todo, store.root):
        summary.add(outcome)
        if progress and not in_process and outcome.status in ("done", "failed"):
            progress.cell_finished(outcome.cell, outcome.error, outcome.warning, _wall_seconds(store, outcome.cell))
    settled = {*summary.done, *summary.busy, *summary.skipped, *[f for f, _ in summary.failed]}
    summary.pending = [c for c in todo if c not in settled]  # a cell another launcher finished meanwhile is settled
    if progress:
        progress.finish()
    return summary


def _wall_seconds(store: RunStore, cell: Cell) -> float | None:
    """How long a cell computed elsewhere took, from its record (None when it cannot be read)."""
    record = store.record(cell.id)
    seconds = record.get("wall_seconds") if isinstance(record, dict) else None
    return float(seconds) if isinstance(seconds, (int, float)) else None


def _budgets(cells: list[Cell], registry: Registry) -> dict[str, float]:
    """Cell id -> its training time budget in seconds, for cells that train networks under one."""
    return {c.id: 60 * c.protocol.max_minutes for c in cells if c.protocol.max_minutes
            and api.trains_networks(registry.method_class(c.architecture.name))}


def execute_cell(cell: Cell, store_root: Path, force: bool = False, runtime: loop.Runtime | None = None,
                 registry: Registry | None = None, progress=None) -> Outcome:
    """Claim, compute and store one cell; safe to call from any process, job or node."""
    store = RunStore(store_root)
    with store.claim(cell.id) as claimed:
        if not claimed:
            return Outcome(cell, "busy")
        if not force and store.status(cell.id) == "ok":  # finished by another process meanwhile
            return Outcome(cell, "skipped")
        rejected = store.set_aside_if_corrupt(cell.id)
        if rejected:
            print(f"benchsuite: warning: {store.cell_dir(cell.id)}: corrupt ({rejected[1]}); moved to "
                  f"{rejected[0].name}, the cell is computed again", file=sys.stderr, flush=True)
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
    warning = "; ".join(w for w in (record.get("device_warning"), collapse_warning(record)) if w) or None
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
    if os.environ.get(api.GIVEN_GPU):
        record["gpu_given"] = os.environ[api.GIVEN_GPU]
    if torch.cuda.is_initialized():  # an earlier cell of this worker used the GPU: this cell's peak is its own
        torch.cuda.reset_peak_memory_stats()
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
    if torch.cuda.is_initialized():  # what the local executor divides a GPU's free memory by (cells_per_gpu)
        record["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated())
    warning = device_warning(record, cell.trains_networks)
    if warning:
        record["device_warning"] = warning
    record |= {"status": "ok" if error is None else "failed", "error": error, "wall_seconds": time.time() - started}
    if "train_seconds" in record:
        record["train_share"] = record["train_seconds"] / record["wall_seconds"]
        # what does not grow with the epochs: reading, preparing, building, predicting, writing
        work = record["train_seconds"] + record.get("validation_seconds", 0.0) + record.get("ceiling_seconds", 0.0)
        record["fixed_seconds"] = max(0.0, record["wall_seconds"] - work)
    return record, predictions, error
