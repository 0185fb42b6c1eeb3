"""``benchsuite fit RUN METHOD``: keep the winner of a leaderboard as a model for new images.

Either the method is trained once more, on every annotated image of its
dataset (validation for early stopping carved from them, as the protocol
says), or ``--from-folds`` packages the k models its cross-validation already
trained (kept in each cell) as an ensemble, with no training at all. A
method chosen by nested selection is refitted with the value its folds chose
most often.
"""
from __future__ import annotations

import collections
import json
import shutil
import uuid
from pathlib import Path

from benchsuite.api import PluginError
from benchsuite.files import sha256
from benchsuite.run.results import CellInfo, Run
from benchsuite.train import models

FIT_STREAM = 2**32 - 1  # the validation draw of a final fit: a random stream no fold's draw uses


def method_cells(run: Run, method: str, dataset: str | None = None) -> list[CellInfo]:
    """The cells of one leaderboard row; one-line errors naming what exists when the row is not there."""
    cells = [c for c in run.cells if c.method == method and (dataset is None or c.dataset == dataset)]
    if not cells:
        known = sorted({f"{c.dataset} | {c.method}" for c in run.cells})
        raise PluginError(f"{run.name}: no completed method {method!r}" + (f" on {dataset}" if dataset else "")
                          + f" (methods: {'; '.join(known) or 'none yet'})")
    datasets = sorted({c.dataset for c in cells})
    if len(datasets) > 1:
        raise PluginError(f"{run.name}: {method!r} ran on several datasets ({', '.join(datasets)}); choose one "
                          "with --dataset")
    return sorted(cells, key=lambda c: c.fold)


def default_folder(method: str) -> Path:
    """``<method>-model`` in the working folder, the method's label made a safe file name."""
    name = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in method).strip("-.") or "model"
    return Path(f"{name}-model")


def _new_folder(out: Path) -> Path:
    """A temporary sibling of ``out``, renamed to it once the model is complete."""
    if out.exists():
        raise PluginError(f"{out}: already exists; choose another --out or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}")


def image_digests(dataset, samples) -> list[str]:
    """sha256 of each sample's image file, kept in model.json: predict recognises a training image by its
    content, under any name or in any folder."""
    return sorted({sha256(path) for path in (dataset.image_path(s.id) for s in samples) if path is not None})


def from_folds(run: Run, method: str, out: Path, registry, dataset: str | None = None) -> models.ModelInfo:
    """The k fold models of a complete method as one ensemble model; together they learnt from every image."""
    from benchsuite.run.cells import Cell

    cells = method_cells(run, method, dataset)
    if len({c.fold for c in cells}) < cells[0].folds:
        raise PluginError(f"{run.name}: {method!r} has {len(cells)} of {cells[0].folds} folds; finish the run first")
    folders = [run.store.cell_dir(c.id) / "model" for c in cells]
    missing = [f.parent.name for f in folders if not (f / models.MANIFEST).is_file()]
    if missing:
        raise PluginError(f"{run.name}: cell {missing[0]} kept no model (a run keeps only each dataset's best "
                          "method's fold models unless run with --keep-weights all); fit without --from-folds to "
                          "train it afresh")
    recorded = Cell.from_record(cells[0].record).dataset
    data = registry.create("datasets", recorded.name, recorded.plugin_params)
    trained_on = {"images": image_digests(data, data.samples()), "run": run.name}
    tmp = _new_folder(out)
    try:
        models.ensemble(folders, tmp, trained_on)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return models.read_info(out)


def chosen_record(cells: list[CellInfo]) -> dict:
    """The configuration to refit: the cells' own, or for a nested selection the values chosen most often."""
    if "selected" not in cells[0].record:
        return cells[0].record
    counts = collections.Counter(json.dumps(c.record["selected"], sort_keys=True, default=str) for c in cells)
    best = max(counts.values())
    tied = [c for c in cells if counts[json.dumps(c.record["selected"], sort_keys=True, default=str)] == best]
    return min(tied, key=lambda c: c.record.get("val_mre", float("inf"))).record


def refit(run: Run, method: str, out: Path, registry, dataset: str | None = None, on_epoch=None,
          runtime=None) -> models.ModelInfo:
    """Train the method's configuration on all annotated images of its dataset and keep it in ``out``."""
    import torch

    from benchsuite.api import Images
    from benchsuite.run.cells import Cell
    from benchsuite.run.preflight import sample_problems
    from benchsuite.splits import carve_validation
    from benchsuite.train import methods
    from benchsuite.train.augment import flip_permutation

    cells = method_cells(run, method, dataset)
    cell = Cell.from_record(chosen_record(cells))
    protocol = cell.protocol
    if cell.architecture.core("pretrain"):
        raise PluginError(f"{method!r} is fine-tuned after pre-training; fit it with --from-folds")
    data = registry.create("datasets", cell.dataset.name, cell.dataset.plugin_params)
    samples = {s.id: s for s in data.samples()}
    problems = sample_problems(data, list(samples.values()))  # what a run refuses, fit refuses too
    if problems:
        raise PluginError(f"dataset {cell.dataset.label}: {problems[0]}")
    groups = {s.id: s.group for s in samples.values() if s.group}
    parts = carve_validation(sorted(samples), protocol.val_fraction, [protocol.split_seed, FIT_STREAM], groups)
    train, val = [samples[i] for i in parts.train], [samples[i] for i in parts.val]
    learner = methods.make(registry, cell.architecture, cell.encoder, cell.codec, runtime=runtime)
    tmp = _new_folder(out)
    manifest = models.describe(cell, data.landmark_names, method=method)
    # a method that holds no validation out (the mean shape, dlib) learns from every annotated image
    held_out = len(val) if learner.uses_validation else 0
    manifest["trained_on"] = {"train": len(train) + len(val) - held_out, "val": held_out, "run": run.name,
                              "images": image_digests(data, train + val)}
    pairs = data.flip_pairs
    try:
        torch.manual_seed(protocol.seed)
        facts, _ = methods.fit(learner, train, val, Images.of(data, train + val), protocol, on_epoch=on_epoch,
                               flips=flip_permutation(data.landmark_names, pairs) if pairs else None, runtime=runtime)
        if "epochs_run" in facts:
            manifest["training"] = {k: facts.get(k) for k in ("epochs_run", "best_epoch", "stopped_by")}
        models.save(tmp, manifest, learner)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return models.read_info(out)
