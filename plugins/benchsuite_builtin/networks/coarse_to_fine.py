"""Coarse to fine: locate every landmark on the whole image, then refine it on a crop of the original.

Large originals (X-rays of 2000 px, fish photographs of 2500 px) lose most of
their detail in a 256-pixel letterbox: one input pixel is δ original pixels,
and δ bounds what any decoding can recover. Here a first heatmap network
sees the whole letterboxed image at the protocol's input size; a second one
sees, for each landmark, a ``crop``-pixel window of the *original* image
centred on the first network's answer, sampled every ``crop_delta`` original
pixels (``field`` coarse input pixels across, at full resolution at most), and
its sub-pixel answer is mapped back exactly (:class:`benchsuite.toolkit.Crop`).
Both networks are built and trained through the core's own network path,
which the core hands every method in its ``training`` (``training.networks``).

The refining network is trained on windows centred on the true landmarks
moved by a random offset of up to a quarter of the window, so it learns to
find a landmark anywhere near the middle; each window supervises every
landmark that falls inside it. Both stages stop early on the validation part
the core names (drawn from the fold's training part only): test images are
never seen. The refining stage gets as many image presentations as the
coarse one had (its epochs are scaled by the number of windows per image).
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np

from benchsuite import api, toolkit
from benchsuite.api import PluginError, extent
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

torch = lazy_import("torch")

DEFAULT_NETWORK = {"name": "smp-unet", "encoder_depth": 4}
DEFAULT_CODEC = {"name": "gaussian", "sigma": 2.0, "loss": "adaptive-wing", "decode": "dark"}
_FILE, _META = "coarse-to-fine.pt", "coarse-to-fine.json"


def _spec(value, what: str) -> tuple[str, dict]:
    """A plugin given as a name or as a table with ``name`` and its parameters."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"], {k: v for k, v in value.items() if k != "name"}
    raise PluginError(f"method coarse-to-fine: {what} must be a name or a table with a name, got {value!r}")


class CoarseToFine(api.Method):
    name = "coarse-to-fine"
    description = ("Two heatmap networks: one locates each landmark on the whole image at the input size, "
                   "the second refines it on a crop of the original image around it (sub-pixel, mapped back exactly)")
    reads = toolkit.TRAINING_SETTINGS  # it trains networks the core's way: every training setting counts
    uses_validation = True
    nested = {"network": "architectures", "encoder": "encoders", "codec": "codecs"}

    def __init__(self, network: dict | None = None, encoder: str | dict = "resnet18", codec: dict | None = None,
                 crop: int = 64, field: float = 16.0):
        if isinstance(crop, bool) or not isinstance(crop, int) or crop < 8:
            raise PluginError(f"method coarse-to-fine: crop must be an integer of at least 8 pixels, got {crop!r}")
        if not field > 0:
            raise PluginError(f"method coarse-to-fine: field must be positive, got {field!r}")
        self.network = _spec(network or DEFAULT_NETWORK, "network")
        self.encoder_spec = _spec(encoder, "encoder")
        self.codec_spec = _spec(codec or DEFAULT_CODEC, "codec")
        self.crop, self.field = crop, float(field)
        self._parts()  # unknown plugins and parameters are refused now, not after hours of training
        self.coarse = self.fine = None
        self.crop_delta: float | None = None
        self.protocol = self.tools = None
        self.n_landmarks = 0

    def _parts(self):
        """The network's architecture, its encoder (or None) and the heatmap codec, created by the registry."""
        codec = toolkit.create_plugin("codecs", *self.codec_spec)
        if codec.output != "heatmap":
            raise PluginError(f"method coarse-to-fine: codec {codec.name} is not a heatmap codec")
        arch = toolkit.create_plugin("architectures", *self.network)
        if "heatmap" not in arch.outputs:
            raise PluginError(f"method coarse-to-fine: network {arch.name} does not output heatmaps")
        encoder = toolkit.create_plugin("encoders", *self.encoder_spec) if arch.encoder == "required" else None
        return arch, encoder, codec

    def _build(self, n_landmarks: int, channels: int):
        arch, encoder, codec = self._parts()
        return self.tools.build(arch, encoder, codec, n_landmarks, channels), codec

    # --- training ----------------------------------------------------------------------------------------------

    def fit(self, samples, images, training):
        protocol, self.tools = training.protocol, training.networks
        part = [s for s in samples if s.id not in training.validation]
        held_out = [s for s in samples if s.id in training.validation]
        if not part or not held_out:
            raise PluginError("method coarse-to-fine needs training and validation images (val_fraction > 0)")
        self.n_landmarks = n_landmarks = samples[0].landmarks.shape[0]
        torch.manual_seed(protocol.seed)
        self.coarse, codec = self._build(n_landmarks, protocol.channels)
        coarse = self.tools.train(self.coarse, codec, self.tools.letterboxed(part, images, protocol, for_training=True),
                                  self.tools.letterboxed(held_out, images, protocol), _first_half(protocol),
                                  training.on_epoch)
        self.crop_delta = max(1.0, self.field * float(np.median([_delta(s.size, protocol) for s in part])) / self.crop)
        generator = np.random.default_rng(protocol.seed)
        fine_train = self._windows(part, images, protocol, generator)
        fine_val = self._windows(held_out, images, protocol, np.random.default_rng(protocol.seed + 1))
        fine_protocol = _fine_protocol(protocol, self.crop, len(part) / len(fine_train.samples),
                                       coarse.elapsed_seconds / 60)

        def on_epoch(epoch, epochs, *losses):
            if training.on_epoch:
                training.on_epoch(coarse.epochs_run + epoch, coarse.epochs_run + epochs, *losses)

        torch.manual_seed(protocol.seed + 1)
        self.fine, codec = self._build(n_landmarks, protocol.channels)
        fine = self.tools.train(self.fine, codec, fine_train, fine_val, fine_protocol, on_epoch)
        self.protocol = protocol
        return {"epochs_run": coarse.epochs_run + fine.epochs_run,
                "stopped_by": fine.stopped_by if fine.stopped_by == "budget" else coarse.stopped_by,
                "stages": {"coarse": coarse.stopping(), "fine": fine.stopping()}}

    def _windows(self, samples, images, protocol, generator: np.random.Generator):
        """A window around every present landmark of every image, moved by up to a quarter of its side."""
        crops, landmarks, owners = [], [], []
        reach = self.crop * self.crop_delta / 4
        for sample in samples:
            image = toolkit.antialias(toolkit.to_channels(images.load_image(sample.id), protocol.channels),
                                      self.crop_delta)
            for point in sample.landmarks:
                if not np.isfinite(point).all():
                    continue
                centre = point + generator.uniform(-reach, reach, size=2)
                window = toolkit.Crop(tuple(centre), self.crop_delta, self.crop, *sample.size)
                inside = window.to_input(sample.landmarks)
                outside = ~((inside >= -0.5) & (inside <= self.crop - 0.5)).all(axis=1)
                inside[outside] = np.nan
                crops.append(window.apply(image).transpose(2, 0, 1))
                landmarks.append(inside)
                owners.append(sample)
        return self.tools.windows(owners, np.stack(crops), np.stack(landmarks))

    # --- prediction --------------------------------------------------------------------------------------------

    def predict(self, sample_ids, images):
        if self.fine is None:
            raise PluginError("method coarse-to-fine: predict() before fit()")
        _, _, codec = self._parts()
        result = []
        for sample_id in sample_ids:
            image = toolkit.to_channels(images.load_image(sample_id), self.protocol.channels)
            result.append(self._refine(image, self._locate(image, codec), codec))
        return np.stack(result)

    def _locate(self, image: np.ndarray, codec) -> np.ndarray:
        """(N, 2) original-pixel points the coarse network finds on the whole letterboxed image."""
        size = self.protocol.input_size
        box = toolkit.Letterbox(image.shape[1], image.shape[0], size)
        found = self.tools.locate(self.coarse, codec, box.apply(image)[None], [box.region], size, self.protocol)
        return box.to_original(found[0])

    def _refine(self, image: np.ndarray, located: np.ndarray, codec) -> np.ndarray:
        """(N, 2) original-pixel points: landmark k as the fine network finds it in the window around located[k]."""
        height, width = image.shape[:2]
        windows = [toolkit.Crop(tuple(p), self.crop_delta, self.crop, width, height) for p in located]
        image = toolkit.antialias(image, self.crop_delta)
        stack = np.stack([w.apply(image) for w in windows])
        found = self.tools.locate(self.fine, codec, stack, [w.region for w in windows], self.crop, self.protocol)
        own = found[np.arange(len(windows)), np.arange(len(windows))]  # window k answers for landmark k
        return np.stack([w.to_original(p) for w, p in zip(windows, own)])

    # --- keeping a fitted method -------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        if self.fine is None:
            raise PluginError("method coarse-to-fine: save() before fit()")
        folder = Path(folder)
        buffer = io.BytesIO()
        torch.save({"coarse": self.coarse.state_dict(), "fine": self.fine.state_dict()}, buffer)
        (folder / _FILE).write_bytes(buffer.getvalue())
        (folder / _META).write_text(json.dumps({"crop_delta": self.crop_delta, "n_landmarks": self.n_landmarks}))

    @classmethod
    def load(cls, folder: Path, params, training):
        method = cls(**params)
        folder = Path(folder)
        meta = json.loads((folder / _META).read_text())
        method.protocol, method.tools = training.protocol, training.networks
        method.crop_delta, method.n_landmarks = float(meta["crop_delta"]), int(meta["n_landmarks"])
        state = torch.load(io.BytesIO((folder / _FILE).read_bytes()), map_location="cpu", weights_only=True)
        method.coarse, _ = method._build(method.n_landmarks, method.protocol.channels)
        method.fine, _ = method._build(method.n_landmarks, method.protocol.channels)
        method.coarse.load_state_dict(state["coarse"])
        method.fine.load_state_dict(state["fine"])
        return method


def _delta(size: tuple[int, int], protocol) -> float:
    """Original pixels per coarse input pixel for an image of ``size``."""
    width, height = extent(protocol.input_size)
    return max(size[0] / width, size[1] / height)


def _first_half(protocol):
    """The coarse stage's protocol: half the cell's time budget, if it has one (the fine stage gets the rest)."""
    return dataclasses.replace(protocol, max_minutes=protocol.max_minutes / 2)


def _fine_protocol(protocol, crop: int, presentations: float, spent_minutes: float = 0.0):
    """The coarse protocol on windows: their size, no colour copies, epochs scaled to as many presentations,
    and what the coarse stage left of the cell's time budget (at least a tenth of it, so the stage trains)."""
    scaled = lambda epochs: max(1, math.ceil(epochs * presentations))  # noqa: E731
    budget = max(protocol.max_minutes - spent_minutes, protocol.max_minutes / 10) if protocol.max_minutes else 0.0
    return dataclasses.replace(protocol, input_size=crop, channel_shift=0, channel_split=False,
                               epochs=scaled(protocol.epochs), patience=scaled(protocol.patience),
                               lr_patience=scaled(protocol.lr_patience), max_minutes=budget)


@hookimpl
def register_methods(register):
    register(CoarseToFine)
