"""Methods that learn: the core's network method, the network tools lent to every method, and the one place
a method is made from a grid entry, fitted and asked for predictions.

The core's own method is a network: an architecture built on an encoder (or none) whose outputs a codec
turns into landmarks. :class:`NetworkMethod` implements :class:`benchsuite.api.Method` for it, so the runner,
``fit``, ``predict`` and the conformance kit treat the mean shape, dlib's shape predictor, coarse-to-fine
and every network cell alike. A method that trains networks of its own gets :class:`CoreNetworks` through
its :class:`benchsuite.api.Training`: the same building, letterboxing, training loop and decoding.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from benchsuite import api, weights
from benchsuite.api import Images, PluginError, Sample
from benchsuite.train import inputs, loop, speed
from benchsuite.train.augment import GeometricAugmentation
from benchsuite.train.networks import build_network

WEIGHTS, SHAPE = "network.safetensors", "network.json"  # a network method's member folder


class CoreNetworks(api.NetworkTools):
    """The core's network path, for a method that trains its own networks (see :class:`api.NetworkTools`)."""

    def __init__(self, runtime: loop.Runtime | None = None, flips: tuple[int, ...] | None = None):
        # a method's own networks train without the cell's checkpoint, which holds one network's state
        self.runtime = dataclasses.replace(runtime or loop.Runtime(), checkpoint=None)
        self.flips = flips

    def build(self, architecture, encoder, codec, n_landmarks, channels):
        return build_network(architecture, codec, encoder, n_landmarks, channels)

    def letterboxed(self, samples, images, protocol, for_training: bool = False):
        """With ``for_training``, the protocol's offline colour copies are added, as for a network cell."""
        return (inputs.training_set if for_training else inputs.prepare)(images, samples, protocol)

    def windows(self, samples, crops, landmarks):
        return inputs.Prepared(list(samples), torch.from_numpy(np.ascontiguousarray(crops, dtype=np.uint8)),
                               torch.from_numpy(np.asarray(landmarks, dtype=np.float32)), [])

    def train(self, module, codec, train, validation, protocol, on_epoch=None, *, predict_validation: bool = False,
              runtime: loop.Runtime | None = None):
        augmentation = GeometricAugmentation(rotate_deg=protocol.rotate_deg, scale=protocol.scale,
                                             translate=protocol.translate, hflip=protocol.hflip,
                                             flip_permutation=self.flips)
        return loop.train(module, codec, train, validation, protocol, on_epoch, augmentation, runtime or self.runtime,
                          predict_validation=predict_validation)

    def locate(self, module, codec, images, regions, size, protocol):
        dev = loop.device()
        module.to(dev).eval()
        batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(dev).float() / 255.0
        with torch.no_grad():
            output = module(loop.scale_inputs(batch, protocol, module))
            found = loop.decode_inside(codec, output, size, torch.as_tensor(np.asarray(regions)))
        return found.double().cpu().numpy()


class NetworkMethod(api.Method):
    """An architecture × encoder × codec trained by the core's loop: early stopping on the validation part,
    the best epoch's weights kept (and its validation points, so that they are not predicted twice)."""

    name = "network"
    description = "A network trained through a codec by the core's training loop"
    reads = frozenset()  # the grid gives a network's cells every training setting (grid.reads)
    uses_validation = True

    def __init__(self, architecture, encoder, codec, pretrain: Callable[["NetworkMethod"], dict] | None = None,
                 runtime: loop.Runtime | None = None, speed_key: str | None = None):
        self.architecture, self.encoder, self.codec = architecture, encoder, codec
        self.pretrain, self.runtime, self.speed_key = pretrain, runtime, speed_key
        self.model: torch.nn.Module | None = None
        self.protocol = None
        self.n_landmarks = 0
        self._validation_points: np.ndarray | None = None

    def _build(self, n_landmarks: int, protocol, load_weights: bool = True) -> None:
        self.protocol, self.n_landmarks = protocol, n_landmarks
        self.model = build_network(self.architecture, self.codec, self.encoder, n_landmarks, protocol.channels,
                                   load_weights)

    def fit(self, samples, images, training):
        protocol = training.protocol
        train = [s for s in samples if s.id not in training.validation]
        val = [s for s in samples if s.id in training.validation]
        self._build(samples[0].landmarks.shape[0], protocol)
        facts: dict[str, Any] = {}
        if self.pretrain is not None:
            facts["pretrain"] = self.pretrain(self)
            torch.manual_seed(protocol.seed)  # fine-tuning starts alike whether pre-training ran or was cached
        tools = CoreNetworks(self.runtime, training.flip_permutation)
        report = tools.train(self.model, self.codec, tools.letterboxed(train, images, protocol, for_training=True),
                             tools.letterboxed(val, images, protocol), protocol, training.on_epoch,
                             predict_validation=True, runtime=self.runtime)
        self._validation_points = report.best_val_points
        return facts | self._facts(report, protocol)

    def _facts(self, report: loop.TrainingReport, protocol) -> dict[str, Any]:
        """What the cell records of its training: epochs, what stopped it, speed against the bare network's."""
        runtime = self.runtime or loop.Runtime()
        measuring = time.perf_counter()
        bare = speed.bare_images_per_s(self.model, self.codec, self.n_landmarks, protocol, self.runtime,
                                       self.speed_key, max_seconds=max(5.0, 0.05 * report.train_seconds))
        ceiling, efficiency = speed.pipeline_efficiency(report.train_images_per_s, report.fastest_epoch_images_per_s,
                                                        bare)
        facts = {
            **report.stopping(), "best_val_loss": report.best_val_loss, "train_images_per_s": report.train_images_per_s,
            "train_seconds": report.train_seconds, "validation_seconds": report.elapsed_seconds - report.train_seconds,
            "ceiling_seconds": time.perf_counter() - measuring,  # 0 where an earlier cell measured it
            "bare_images_per_s": ceiling, "pipeline_efficiency": efficiency,
            "parameters": sum(p.numel() for p in self.model.parameters()), "device": str(loop.device()),
            "input_normalisation": loop.input_normalisation(self.model, protocol),
            "precision": runtime.precision_name(loop.device()), "deterministic": runtime.deterministic,
        }
        # what a weights file gave the network, whether the encoder or the architecture itself loaded it
        loaded = getattr(self.encoder, "loaded", None) or getattr(self.architecture, "loaded", None)
        if loaded is not None:
            facts["weights"] = loaded.as_dict()
        if report.best_val_flat is not None:
            collapsed = bool(report.best_val_flat > self.codec.collapsed_above)
            facts |= {"val_loss_over_flat": report.best_val_flat, "collapsed": collapsed,
                      "collapsed_above": float(self.codec.collapsed_above)}
            remedy = self.codec.collapse_remedy() if collapsed else ""
            if remedy:
                facts["collapse_remedy"] = remedy
        return facts

    def validation_points(self):
        return self._validation_points

    def predict(self, sample_ids, images):
        if self.model is None:
            raise PluginError("network: predict() before fit()")
        missing = np.full((self.n_landmarks, 2), np.nan)
        batch, result = max(1, self.protocol.batch_size), []
        for start in range(0, len(sample_ids), batch):  # a batch of decoded images in memory at a time
            samples = [Sample(i, missing, images.size(i)) for i in sample_ids[start:start + batch]]
            result.append(loop.predict(self.model, self.codec, inputs.prepare(images, samples, self.protocol),
                                       self.protocol))
        return np.concatenate(result) if result else np.zeros((0, self.n_landmarks, 2))

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(Path(folder) / WEIGHTS))
        (Path(folder) / SHAPE).write_text(json.dumps({"landmarks": self.n_landmarks}))

    def restore(self, weights: Path, n_landmarks: int, protocol, state: dict | None = None) -> "NetworkMethod":
        """The trained network from its safetensors file (nothing unpickled), or from its tensors already read;
        weights of another shape than the recorded configuration builds are a one-line error."""
        from safetensors.torch import load_file

        self._build(n_landmarks, protocol, load_weights=False)  # the trained weights replace any pretrained ones
        state = load_file(str(weights)) if state is None else state
        problem = state_mismatch(self.model.state_dict(), state)
        if problem:
            raise PluginError(f"{weights}: the weights do not fit the configuration recorded with them: {problem}")
        self.model.load_state_dict(state)
        return self


def state_mismatch(expected: dict, found: dict) -> str | None:
    """The first difference between a network's tensors and weights meant for it, in words; None when they fit."""
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        return (f"{len(missing)} tensors missing (first {missing[0]})" if missing else "") + \
            ("; " if missing and extra else "") + (f"{len(extra)} unexpected (first {extra[0]})" if extra else "")
    for key, tensor in expected.items():
        if tuple(found[key].shape) != tuple(tensor.shape):
            return f"{key} has shape {list(found[key].shape)}, the configuration builds {list(tensor.shape)}"
    return None


# --- the one place methods are made, fitted and asked -----------------------------------------------------------


def make(registry, architecture, encoder=None, codec=None, **network) -> api.Method:
    """The method a grid's (architecture, encoder, codec) components name: a registered method (the mean shape,
    dlib, coarse-to-fine), or the core's network method; ``network`` are :class:`NetworkMethod`'s own options
    (pre-training, runtime), which a registered method does not take."""
    for part in (architecture, encoder):
        if part is not None:
            weights.check_unchanged(part.name, part.params)
    if registry.method_kind(architecture.name) == "methods":
        return registry.create("methods", architecture.name, architecture.plugin_params)
    arch = registry.create("architectures", architecture.name, architecture.plugin_params)
    built_on = registry.create("encoders", encoder.name, encoder.plugin_params) if encoder else None
    return NetworkMethod(arch, built_on, registry.create("codecs", codec.name, codec.plugin_params), **network)


def training(protocol, validation: list[Sample] = (), on_epoch=None, flips=None, runtime=None) -> api.Training:
    """What the core hands a method: its protocol, which samples are validation, progress, CPUs, network tools."""
    return api.Training(protocol, frozenset(s.id for s in validation), on_epoch, flips, torch.get_num_threads(),
                        CoreNetworks(runtime, flips))


def fit(method: api.Method, train: list[Sample], val: list[Sample], images: Images, protocol, *,
        selecting: bool = False, on_epoch=None, flips=None, runtime=None) -> tuple[dict[str, Any], bool]:
    """Fit a method on a fold's training part; returns the facts for its record and whether the validation part
    was held out (then, and only then, its error there is a validation error).

    A method that uses validation (every network) gets both parts and is told which is which. Any other learns
    from both, except as a candidate of a nested selection, where it learns from the training part only.
    """
    held_out = method.uses_validation or selecting
    given = train + val if method.uses_validation or not selecting else list(train)
    started = time.perf_counter()
    facts = method.fit(given, images, training(protocol, val if method.uses_validation else [], on_epoch, flips,
                                               runtime)) or {}
    if not isinstance(facts, dict):
        raise PluginError(f"method {method.name}: fit() returned {type(facts).__name__}, expected a dict or None")
    return {"train_seconds": time.perf_counter() - started} | facts, held_out


def predict(method: api.Method, samples: list[Sample], images: Images, n_landmarks: int) -> np.ndarray:
    """A method's (len(samples), n_landmarks, 2) points in original pixels, checked for shape."""
    predicted = np.asarray(method.predict([s.id for s in samples], images), dtype=np.float64)
    expected = (len(samples), n_landmarks, 2)
    if predicted.shape != expected:
        raise PluginError(f"method {method.name}: predict() returned shape {predicted.shape}, expected {expected}")
    return predicted


def validation_points(method: api.Method, val: list[Sample], images: Images, n_landmarks: int) -> np.ndarray:
    """The validation part's points: those the method computed while fitting, else predicted now."""
    kept = method.validation_points()
    return np.asarray(kept, dtype=np.float64) if kept is not None else predict(method, val, images, n_landmarks)
