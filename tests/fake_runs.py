"""Runs written straight into a RunStore, without training: fast and deterministic.

Every method of a dataset predicts the same images (the same folds), like a
real run; each prediction is the truth moved by a chosen radial error in a
random direction, so per-image errors are known exactly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchsuite.run.cells import cell_id as hashed_id
from benchsuite.run.store import RunStore

# label -> (architecture, encoder, codec, parameters); the codec decides heatmap / regression / baseline
METHODS = {
    "unet+gaussian": ("unet", None, "gaussian", 31_000_000),
    "fcn8+gaussian": ("fcn8", None, "gaussian", 17_000_000),
    "unet-regression+regression": ("unet-regression", None, "regression", 31_000_000),
    "mean-shape": ("mean-shape", None, None, None),
    "dlib": ("dlib-ert", None, None, None),
}
LANDMARKS = ("snout", "eye", "tail")


def write_cell(store: RunStore, dataset: str, method: str, fold: int, errors: np.ndarray, image_ids: list[str], *,
               folds: int, rng: np.random.Generator, size=(640, 480), input_size=64, pixel_size_mm=None,
               dataset_name: str | None = None, spec=None, config_extra: dict | None = None,
               truth: np.ndarray | None = None, names: list[str] | None = None,
               record_extra: dict | None = None) -> str:
    """One ok cell whose radial error of image i, landmark j is ``errors[i, j]`` (NaN truth where NaN).

    ``size`` is every image's (width, height), or one per image.
    """
    architecture, encoder, codec, parameters = spec or METHODS[method]
    n_images, n_landmarks = errors.shape
    truth = truth if truth is not None else rng.uniform(50, 400, size=(n_images, n_landmarks, 2))
    angle = rng.uniform(0, 2 * np.pi, size=(n_images, n_landmarks))
    predicted = truth + np.stack([np.cos(angle), np.sin(angle)], axis=-1) * np.nan_to_num(errors)[..., None]
    if names is None:
        names = list(LANDMARKS[:n_landmarks]) if n_landmarks <= len(LANDMARKS) else [f"L{j}" for j in
                                                                                     range(n_landmarks)]
    sizes = np.broadcast_to(np.asarray(size), (n_images, 2))
    x, y = truth[..., 0].copy(), truth[..., 1].copy()
    x[np.isnan(errors)] = y[np.isnan(errors)] = np.nan
    table = pd.DataFrame({"image_id": np.repeat(image_ids, n_landmarks), "landmark": np.tile(names, n_images),
                          "x": x.ravel(), "y": y.ravel(), "pred_x": predicted[..., 0].ravel(),
                          "pred_y": predicted[..., 1].ravel(), "width": np.repeat(sizes[:, 0], n_landmarks),
                          "height": np.repeat(sizes[:, 1], n_landmarks)})
    config = {"dataset": {"name": dataset_name or dataset, "params": {}},
              "architecture": {"name": architecture, "params": {}},
              "encoder": {"name": encoder, "params": {}} if encoder else None,
              "codec": {"name": codec, "params": {}} if codec else None,
              "fold": fold, "protocol": {"folds": folds, "input_size": input_size}} | (config_extra or {})
    record = {"status": "ok", "dataset": dataset, "method": method, "fold": fold, "config": config,
              "split": {"train": 3 * n_images * (folds - 1) // 4, "val": n_images * (folds - 1) // 4,
                        "test": n_images}, "pixel_size_mm": pixel_size_mm}
    if parameters:
        record["parameters"] = parameters
    record |= record_extra or {}
    if "max_minutes" in record:
        config["protocol"]["max_minutes"] = record.pop("max_minutes")
    if codec is not None:  # networks record their training speed
        train, bare = rng.uniform(50, 100), 100.0
        record = {"device": "cpu", "train_seconds": 10.0, "train_images_per_s": train, "bare_images_per_s": bare,
                  "pipeline_efficiency": train / bare} | record
    cell_id, record = identified(record)
    store.write(cell_id, record, table)
    return cell_id


def identified(record: dict) -> tuple[str, dict]:
    """A hand-made cell record as the runner writes one, and the folder it belongs in: an identity (``config``;
    what it leaves out is taken from the record's labels and fold) and the id that identity hashes to."""
    config = {"dataset": {"name": record.get("dataset", "d"), "params": {}},
              "architecture": {"name": record.get("method", "m"), "params": {}}, "encoder": None, "codec": None,
              "fold": record.get("fold", 0), "protocol": {}} | record.get("config", {})
    cell_id = hashed_id(config)
    return cell_id, record | {"id": cell_id, "config": config}


def make_run(root, scales: dict[str, dict[str, float]], folds: int = 3, images_per_fold: int = 8,
             landmarks: int = 3, seed: int = 0, skip: set[tuple[str, str, int]] = frozenset(),
             pixel_size_mm: dict[str, float] | None = None, human_error: dict[str, float] | None = None,
             records: dict[tuple[str, str], dict | list[dict]] | None = None) -> RunStore:
    """A run over ``scales[dataset][method]`` = the method's typical error (pixels) on that dataset.

    ``records[(dataset, method)]``: more facts for its cells' records (one dict, or one per fold), e.g. ``trained``.

    Each image has a difficulty shared by every method, so the methods' errors
    are paired as in a real run. ``skip`` leaves out (dataset, method, fold) cells.
    """
    store = RunStore(root)
    rng = np.random.default_rng(seed)
    for dataset, methods in scales.items():
        difficulty = rng.gamma(4.0, 0.25, size=(folds, images_per_fold, landmarks))
        for method, scale in methods.items():
            for fold in range(folds):
                if (dataset, method, fold) in skip:
                    continue
                noise = rng.gamma(8.0, 1 / 8.0, size=(images_per_fold, landmarks))
                ids = [f"{dataset}-img{fold}-{i}" for i in range(images_per_fold)]
                extra = (records or {}).get((dataset, method), {})
                extra = extra[fold] if isinstance(extra, list) else extra
                write_cell(store, dataset, method, fold, scale * difficulty[fold] * noise, ids, folds=folds,
                           rng=rng, pixel_size_mm=(pixel_size_mm or {}).get(dataset),
                           record_extra={"human_error": (human_error or {}).get(dataset)} | extra)
    return store


def learning_curve(errors, seconds_per_epoch: float = 6.0) -> list[dict]:
    """A cell's learning curve whose epoch i (1-based) had validation error ``errors[i - 1]``."""
    return [{"epoch": i + 1, "train_seconds": (i + 1) * seconds_per_epoch * 0.9,
             "elapsed_seconds": (i + 1) * seconds_per_epoch, "val_loss": float(e) / 100, "val_mre": float(e)}
            for i, e in enumerate(errors)]


def trained(errors, stopped_by: str = "budget", max_minutes: float | None = None, seconds_per_epoch: float = 6.0,
            curve: bool = True) -> dict:
    """What a network cell records of its training, for ``record_extra``: its curve, epochs, best epoch, what
    stopped it and its time (``curve=False``: as a cell recorded before learning curves)."""
    errors = list(errors)
    record = {"epochs_run": len(errors), "best_epoch": int(np.argmin(errors)) + 1, "stopped_by": stopped_by,
              "train_seconds": 0.9 * seconds_per_epoch * len(errors),
              "validation_seconds": 0.1 * seconds_per_epoch * len(errors)}
    if curve:
        record["learning_curve"] = learning_curve(errors, seconds_per_epoch)
    if max_minutes is not None:
        record["max_minutes"] = max_minutes  # popped by write_cell into the protocol
    return record


SYNTHETIC = {"n_images": 12, "n_landmarks": 3, "min_size": 48, "max_size": 96}


def make_synthetic_run(root, registry, scales: dict[str, float], folds: int = 2, params: dict | None = None,
                       seed: int = 0, skip: set[tuple[str, int]] = frozenset(), label: str = "synthetic") -> RunStore:
    """A run on the ``synthetic`` dataset whose images can be loaded: its true landmarks, ids and sizes, predictions
    off by ``scales[method]`` pixels on average. ``skip`` leaves out (method, fold) cells."""
    params = dict(SYNTHETIC, **(params or {}))
    dataset = registry.create("datasets", "synthetic", params)
    samples = dataset.samples()
    store = RunStore(root)
    rng = np.random.default_rng(seed)
    chunks = np.array_split(np.arange(len(samples)), folds)
    difficulty = rng.gamma(4.0, 0.25, size=(len(samples), len(dataset.landmark_names)))
    for method, scale in scales.items():
        for fold, chunk in enumerate(chunks):
            if (method, fold) in skip:
                continue
            test = [samples[i] for i in chunk]
            errors = scale * difficulty[chunk] * rng.gamma(8.0, 1 / 8.0, size=difficulty[chunk].shape)
            write_cell(store, label, method, fold, errors, [s.id for s in test], folds=folds, rng=rng,
                       size=[s.size for s in test], truth=np.stack([s.landmarks for s in test]),
                       names=list(dataset.landmark_names), dataset_name="synthetic",
                       config_extra={"dataset": {"name": "synthetic", "params": params}})
    return store
